//! Reading one source file for the architecture test: comments and literals blanked out, the
//! rest cut into tokens, and the `use` trees and `a::b::c` paths found in them, each with the
//! module it is written in (inline `mod x { … }` blocks included).

/// A token of code: an identifier, `::`, or one punctuation character.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

/// A path written in a file, as segments (`crate`, `super`, `self` kept as they are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The inline modules it is written in, innermost last (empty at the top of the file).
    pub inline: Vec<String>,
    pub segments: Vec<String>,
    pub line: usize,
    pub kind: Kind,
    /// The name a `use` leaf brings in (`lock`, or `Z` in `use x::Y as Z`); None for globs and
    /// paths in code. Later paths that start with a module's name continue its path.
    pub binds: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A path in code (`crate::x::f()`, `child::Type`).
    Code,
    /// A leaf of a `use` tree; `glob` for `…::*`.
    Use { public: bool, glob: bool },
}

/// Every path a file writes: the leaves of its `use` trees and the paths in its code.
pub fn paths(text: &str) -> Vec<Written> {
    let tokens = tokens(&code_only(text));
    let mut written = Vec::new();
    // Inline modules open: name and the brace depth inside them.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let (line, token) = &tokens[i];
        let names = || inline.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        match token {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                depth = depth.saturating_sub(1);
                while inline.last().is_some_and(|(_, d)| *d > depth) {
                    inline.pop();
                }
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some((_, Token::Ident(name))), Some((_, Token::Punct('{')))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    depth += 1;
                    inline.push((name.clone(), depth));
                    i += 3;
                    continue;
                }
            }
            Token::Ident(word) if word == "use" => {
                let public = i > 0 && is_visibility_end(&tokens[..i]);
                let end = (i..tokens.len())
                    .find(|&j| tokens[j].1 == Token::Punct(';'))
                    .unwrap_or(tokens.len());
                let mut leaves = Vec::new();
                use_tree(&tokens[i + 1..end], Vec::new(), &mut leaves);
                for (segments, binds, glob) in leaves {
                    written.push(Written {
                        inline: names(),
                        segments,
                        line: *line,
                        kind: Kind::Use { public, glob },
                        binds,
                    });
                }
                i = end + 1;
                continue;
            }
            Token::Ident(first) => {
                let preceded_by_sep = i > 0 && tokens[i - 1].1 == Token::PathSep;
                let mut segments = vec![first.clone()];
                let mut j = i + 1;
                while let (Some((_, Token::PathSep)), Some((_, Token::Ident(next)))) =
                    (tokens.get(j), tokens.get(j + 1))
                {
                    segments.push(next.clone());
                    j += 2;
                }
                if segments.len() > 1 && !preceded_by_sep {
                    written.push(Written {
                        inline: names(),
                        segments,
                        line: *line,
                        kind: Kind::Code,
                        binds: None,
                    });
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    written
}

/// Whether the tokens before a `use` end in `pub` or `pub(…)`.
fn is_visibility_end(before: &[(usize, Token)]) -> bool {
    match before.last() {
        Some((_, Token::Ident(word))) => word == "pub",
        Some((_, Token::Punct(')'))) => {
            let open = before.iter().rposition(|(_, t)| *t == Token::Punct('('));
            open.is_some_and(|o| {
                o > 0 && matches!(&before[o - 1].1, Token::Ident(word) if word == "pub")
            })
        }
        _ => false,
    }
}

/// The leaves of a `use` tree under `prefix`: the full path, the name it brings in when that
/// could be a module (`self`, or a last segment, or `as` name), and whether it is a glob.
fn use_tree(
    tokens: &[(usize, Token)],
    prefix: Vec<String>,
    leaves: &mut Vec<(Vec<String>, Option<String>, bool)>,
) {
    // Split on top-level commas.
    let mut level = 0;
    let mut start = 0;
    let mut parts = Vec::new();
    for (k, (_, token)) in tokens.iter().enumerate() {
        match token {
            Token::Punct('{') => level += 1,
            Token::Punct('}') => level -= 1,
            Token::Punct(',') if level == 0 => {
                parts.push(&tokens[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&tokens[start..]);
    for part in parts {
        let mut path = prefix.clone();
        let mut k = 0;
        // A leading `::` names an extern crate: nothing of this crate.
        if part.first().is_some_and(|(_, t)| *t == Token::PathSep) {
            continue;
        }
        loop {
            match part.get(k).map(|(_, t)| t) {
                Some(Token::Ident(word)) if word == "self" && !path.is_empty() => {
                    let name = alias_at(part, k + 1).or_else(|| path.last().cloned());
                    leaves.push((path.clone(), name, false));
                    break;
                }
                Some(Token::Ident(word)) => {
                    path.push(word.clone());
                    if part.get(k + 1).map(|(_, t)| t) == Some(&Token::PathSep) {
                        k += 2;
                        continue;
                    }
                    let name = alias_at(part, k + 1).or_else(|| Some(word.clone()));
                    leaves.push((path.clone(), name, false));
                    break;
                }
                Some(Token::Punct('*')) => {
                    leaves.push((path.clone(), None, true));
                    break;
                }
                Some(Token::Punct('{')) => {
                    let inner = &part[k + 1..part.len().saturating_sub(1)];
                    use_tree(inner, path.clone(), leaves);
                    break;
                }
                _ => break,
            }
        }
    }
}

/// The name after `as` at `k`, if the leaf is renamed.
fn alias_at(part: &[(usize, Token)], k: usize) -> Option<String> {
    match (part.get(k), part.get(k + 1)) {
        (Some((_, Token::Ident(word))), Some((_, Token::Ident(name)))) if word == "as" => {
            Some(name.clone())
        }
        _ => None,
    }
}

/// Tokens with their line (from 1).
fn tokens(code: &str) -> Vec<(usize, Token)> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // `r#type` is the identifier `type`.
            let word = word.strip_prefix("r#").map(str::to_owned).unwrap_or(word);
            out.push((line, Token::Ident(word)));
            continue;
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push((line, Token::PathSep));
            i += 2;
            continue;
        } else if !c.is_whitespace() {
            out.push((line, Token::Punct(c)));
        }
        i += 1;
    }
    out
}

/// `text` with comments removed and the insides of string and character literals blanked
/// (newlines kept, so lines still count), so that braces and paths in them are not read as code.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let keep_newlines = |out: &mut String, from: &[char]| {
        out.extend(from.iter().filter(|c| **c == '\n'));
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let start = i;
            let mut level = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    level += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    level -= 1;
                    i += 2;
                    if level == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            keep_newlines(&mut out, &chars[start..i.min(chars.len())]);
        } else if let Some(hashes) = raw_string_at(&chars, i) {
            // r"…", r#"…"#, br#"…"#: ends at a quote followed by as many #.
            let start = i;
            i = chars[i..]
                .iter()
                .position(|c| *c == '"')
                .map_or(chars.len(), |p| i + p + 1);
            while i < chars.len() {
                if chars[i] == '"' && chars[i + 1..].iter().take(hashes).all(|c| *c == '#') {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            out.push_str("\"\"");
            keep_newlines(&mut out, &chars[start..i.min(chars.len())]);
        } else if c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
            keep_newlines(&mut out, &chars[start..i.min(chars.len())]);
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{1F600}'), else a lifetime or label.
            if next == Some('\\') {
                // Past the quote, the backslash and the escaped character (which may be a quote).
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
            continue;
        }
    }
    out
}

/// The number of `#` when a raw string starts at `i` (`r"`, `r#"`, `br"`…), not inside a word.
fn raw_string_at(chars: &[char], i: usize) -> Option<usize> {
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return None;
    }
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = chars[j..].iter().take_while(|c| **c == '#').count();
    (chars.get(j + hashes) == Some(&'"')).then_some(hashes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(w: &Written) -> String {
        w.segments.join("::")
    }

    #[test]
    fn comments_strings_and_chars_are_not_code() {
        let text = "// crate::a::b\nlet s = \"crate::c::d {\"; let c = '{'; let q = '\\'';\n/* super::e::f */ \
                    let r = r#\"crate::g::h\"#;\nfn f<'a>(x: &'a str) { crate::real::one(); }";
        let written = paths(text);
        let found: Vec<_> = written.iter().map(|w| (segs(w), w.line)).collect();
        assert_eq!(found, vec![("crate::real::one".to_string(), 4)]);
    }

    #[test]
    fn use_trees_give_every_leaf_and_the_names_of_modules() {
        let text =
            "pub(crate) use crate::record::{self, lock::{RunLock, LockError as Le}, x::*};\n\
                    use super::api::Command;";
        let written = paths(text);
        let leaves: Vec<_> = written.iter().map(|w| (segs(w), w.kind)).collect();
        let public = |glob| Kind::Use { public: true, glob };
        assert_eq!(
            leaves,
            vec![
                ("crate::record".to_string(), public(false)),
                ("crate::record::lock::RunLock".to_string(), public(false)),
                ("crate::record::lock::LockError".to_string(), public(false)),
                ("crate::record::x".to_string(), public(true)),
                (
                    "super::api::Command".to_string(),
                    Kind::Use {
                        public: false,
                        glob: false
                    }
                ),
            ]
        );
        let names: Vec<_> = written.iter().map(|w| w.binds.as_deref()).collect();
        assert_eq!(
            names,
            vec![
                Some("record"),
                Some("RunLock"),
                Some("Le"),
                None,
                Some("Command")
            ]
        );
    }

    #[test]
    fn inline_modules_are_known_until_their_brace_closes() {
        let text = "fn a() { if x { crate::one::f(); } }\n#[cfg(test)]\nmod tests {\n    \
                    use super::*;\n    fn t() { super::two::g(); }\n}\nfn b() { crate::three::h(); }";
        let written = paths(text);
        let found: Vec<_> = written
            .iter()
            .map(|w| (segs(w), w.inline.clone()))
            .collect();
        let tests = vec!["tests".to_string()];
        assert_eq!(
            found,
            vec![
                ("crate::one::f".to_string(), vec![]),
                ("super".to_string(), tests.clone()),
                ("super::two::g".to_string(), tests),
                ("crate::three::h".to_string(), vec![]),
            ]
        );
    }
}
