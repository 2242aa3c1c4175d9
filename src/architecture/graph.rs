//! The crate's files as a graph: which file each written path leads to (by the rule in
//! `architecture/mod.rs`), and the import circles in it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use super::source::{self, Kind, Written};

/// A module path from the crate root (`["engine", "api"]`).
type ModPath = Vec<String>;

/// Why one file depends on another: the first line that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub line: usize,
    pub written: String,
}

/// Every file of a crate's `src/` and the dependencies between them.
pub struct Graph {
    /// File module path → the file (relative to `src/`).
    files: BTreeMap<ModPath, PathBuf>,
    pub edges: BTreeMap<PathBuf, BTreeMap<PathBuf, Edge>>,
}

impl Graph {
    /// Reads every `.rs` file under `src` (the binary's `main.rs` is another crate and left out).
    pub fn read(src: &Path) -> std::io::Result<Graph> {
        let mut texts = BTreeMap::new();
        for file in rust_files(src)? {
            let relative = file.strip_prefix(src).unwrap_or(&file).to_path_buf();
            if relative == Path::new("main.rs") {
                continue;
            }
            texts.insert(relative, std::fs::read_to_string(&file)?);
        }
        Ok(Graph::from_texts(&texts))
    }

    /// The graph of files given by their path under `src/` and their text.
    pub fn from_texts(texts: &BTreeMap<PathBuf, String>) -> Graph {
        let files: BTreeMap<ModPath, PathBuf> = texts
            .keys()
            .map(|file| (module_of(file), file.clone()))
            .collect();
        let parsed: BTreeMap<&PathBuf, Vec<Written>> = texts
            .iter()
            .map(|(file, text)| (file, source::paths(text)))
            .collect();
        let mut graph = Graph {
            files,
            edges: BTreeMap::new(),
        };
        // What each file re-exports from its own descendants: name → the path it stands for.
        let mut reexports: BTreeMap<ModPath, BTreeMap<String, ModPath>> = BTreeMap::new();
        for (file, written) in &parsed {
            let module = module_of(file);
            for w in written {
                if !matches!(
                    w.kind,
                    Kind::Use {
                        public: true,
                        glob: false
                    }
                ) || !w.inline.is_empty()
                {
                    continue;
                }
                let (Some(target), Some(name)) = (absolute(&graph, &module, &w.segments), &w.binds)
                else {
                    continue;
                };
                if is_descendant(&target, &module) {
                    reexports
                        .entry(module.clone())
                        .or_default()
                        .insert(name.clone(), target);
                }
            }
        }
        for (file, written) in &parsed {
            let module = module_of(file);
            for w in written {
                let mut here = module.clone();
                here.extend(w.inline.iter().cloned());
                let segments = expand_alias(&graph, &module, w, written);
                let Some(target) = absolute(&graph, &here, &segments) else {
                    continue;
                };
                let to = match w.kind {
                    // The re-exports of a module's own descendants are its face, not a use.
                    Kind::Use {
                        public: true,
                        glob: false,
                    } if w.inline.is_empty() && is_descendant(&target, &module) => continue,
                    // `use x::{self}` or `use crate::a::b` of a module names it; the paths
                    // continuing that name are what is used.
                    Kind::Use { glob: false, .. } if graph.files.contains_key(&target) => continue,
                    Kind::Use { glob: true, .. } if graph.files.contains_key(&target) => {
                        graph.files[&target].clone()
                    }
                    _ => match graph.file_of(&target, &reexports, 0) {
                        Some(to) => to,
                        None => continue,
                    },
                };
                if &&to == file {
                    continue;
                }
                graph
                    .edges
                    .entry((*file).clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| Edge {
                        line: w.line,
                        written: w.segments.join("::"),
                    });
            }
        }
        graph
    }

    /// The file that defines `path` (a module, or an item of one), following re-exports of a
    /// module's own descendants to the file they come from.
    fn file_of(
        &self,
        path: &ModPath,
        reexports: &BTreeMap<ModPath, BTreeMap<String, ModPath>>,
        hops: usize,
    ) -> Option<PathBuf> {
        let module = (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|m| self.files.contains_key(m))?;
        if let (Some(item), Some(names)) = (path.get(module.len()), reexports.get(&module)) {
            if let Some(target) = names.get(item).filter(|_| hops < 16) {
                return self.file_of(target, reexports, hops + 1);
            }
        }
        self.files.get(&module).cloned()
    }

    /// The import circles: for each file in a circle, the shortest circle through it (each
    /// circle once), as the files around it (the first one again at the end), with the line
    /// that makes each step.
    pub fn circles(&self) -> Vec<Vec<(PathBuf, Option<Edge>)>> {
        let mut seen: BTreeSet<BTreeSet<PathBuf>> = BTreeSet::new();
        let mut out = Vec::new();
        for component in self.components() {
            if component.len() < 2 {
                continue;
            }
            for start in &component {
                let circle = self.shortest_circle(start, &component);
                let files: BTreeSet<PathBuf> = circle.iter().map(|(f, _)| f.clone()).collect();
                if seen.insert(files) {
                    out.push(circle);
                }
            }
        }
        out
    }

    /// The shortest way from `start` back to itself inside `within`.
    fn shortest_circle(
        &self,
        start: &PathBuf,
        within: &BTreeSet<PathBuf>,
    ) -> Vec<(PathBuf, Option<Edge>)> {
        let mut came_from: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
        let mut queue = VecDeque::from([start.clone()]);
        let mut last = None;
        'search: while let Some(file) = queue.pop_front() {
            for next in self.edges.get(&file).into_iter().flat_map(|e| e.keys()) {
                if next == start {
                    last = Some(file.clone());
                    break 'search;
                }
                if within.contains(next) && !came_from.contains_key(next) {
                    came_from.insert(next.clone(), file.clone());
                    queue.push_back(next.clone());
                }
            }
        }
        let mut files = vec![start.clone()];
        let mut at = last;
        while let Some(file) = at {
            if &file == start {
                break;
            }
            at = came_from.get(&file).cloned();
            files.push(file);
        }
        files.push(start.clone());
        files.reverse();
        let mut steps: Vec<(PathBuf, Option<Edge>)> = files
            .windows(2)
            .map(|w| (w[0].clone(), self.edges[&w[0]].get(&w[1]).cloned()))
            .collect();
        steps.push((start.clone(), None));
        steps
    }

    /// The strongly connected parts of the graph (Tarjan), each as its files.
    fn components(&self) -> Vec<BTreeSet<PathBuf>> {
        struct State<'a> {
            graph: &'a Graph,
            index: BTreeMap<&'a PathBuf, usize>,
            low: BTreeMap<&'a PathBuf, usize>,
            stack: Vec<&'a PathBuf>,
            on_stack: BTreeSet<&'a PathBuf>,
            out: Vec<BTreeSet<PathBuf>>,
        }
        fn visit<'a>(s: &mut State<'a>, v: &'a PathBuf) {
            let n = s.index.len();
            s.index.insert(v, n);
            s.low.insert(v, n);
            s.stack.push(v);
            s.on_stack.insert(v);
            let graph = s.graph;
            for w in graph.edges.get(v).into_iter().flat_map(|e| e.keys()) {
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let low = s.low[v].min(s.low[w]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.low[v].min(s.index[w]);
                    s.low.insert(v, low);
                }
            }
            if s.low[v] == s.index[v] {
                let mut component = BTreeSet::new();
                while let Some(w) = s.stack.pop() {
                    s.on_stack.remove(w);
                    component.insert(w.clone());
                    if w == v {
                        break;
                    }
                }
                s.out.push(component);
            }
        }
        let mut state = State {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            out: Vec::new(),
        };
        for file in self.files.values() {
            if !state.index.contains_key(file) {
                visit(&mut state, file);
            }
        }
        state.out
    }
}

/// `segments` with a leading module alias of the file (`use crate::record::{self, lock}`, then
/// `lock::RunLock`) replaced by the path it stands for; aliases given in an enclosing scope count
/// too (`use super::*` brings them into a test module).
fn expand_alias(graph: &Graph, module: &ModPath, w: &Written, file: &[Written]) -> Vec<String> {
    let first = &w.segments[0];
    if w.segments.len() < 2 || matches!(first.as_str(), "crate" | "super" | "self") {
        return w.segments.clone();
    }
    let alias = file
        .iter()
        .filter(|a| a.binds.as_ref() == Some(first) && w.inline.starts_with(&a.inline))
        .max_by_key(|a| a.inline.len());
    match alias {
        Some(alias) => {
            let mut here = module.clone();
            here.extend(alias.inline.iter().cloned());
            match absolute(graph, &here, &alias.segments) {
                // Only module aliases continue: `Type::method` is no path to a file.
                Some(target) if graph.files.contains_key(&target) => {
                    let mut out = vec!["crate".to_string()];
                    out.extend(target);
                    out.extend(w.segments[1..].iter().cloned());
                    out
                }
                _ => Vec::new(),
            }
        }
        None => w.segments.clone(),
    }
}

/// `segments` written in module `here` as a path from the crate root; None for paths outside
/// the crate (std, other crates, names that are no module of it).
fn absolute(graph: &Graph, here: &ModPath, segments: &[String]) -> Option<ModPath> {
    let first = segments.first()?;
    let mut out: ModPath;
    let mut rest = &segments[1..];
    match first.as_str() {
        "crate" => out = Vec::new(),
        "self" => out = here.clone(),
        "super" => {
            out = here.clone();
            out.pop()?;
            while rest.first().is_some_and(|s| s == "super") {
                out.pop()?;
                rest = &rest[1..];
            }
        }
        // A child module of the one written in (2018 paths), else nothing of this crate.
        name => {
            let mut child = here.clone();
            child.push(name.to_string());
            graph.files.get(&child)?;
            out = child;
        }
    }
    out.extend(rest.iter().cloned());
    Some(out)
}

fn is_descendant(path: &ModPath, module: &ModPath) -> bool {
    path.len() > module.len() && path.starts_with(module)
}

/// `lib.rs` → `[]`, `a/mod.rs` → `["a"]`, `a/b.rs` → `["a", "b"]`.
fn module_of(file: &Path) -> ModPath {
    let mut parts: ModPath = file
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        match last.as_str() {
            "lib.rs" | "mod.rs" | "main.rs" => {}
            name => parts.push(name.trim_end_matches(".rs").to_string()),
        }
    }
    parts
}

/// Every `.rs` file under `dir`, sorted.
pub fn rust_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}
