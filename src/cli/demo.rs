//! `grove demo`'s throwaway repository: a small Python project with one commit on `main`,
//! plus every sample plan, created fresh under the temp dir and kept for the user to inspect.

use std::path::{Path, PathBuf};

use anyhow::Context;
use git2::{IndexAddOption, Repository, RepositoryInitOptions};

use super::drive::FrontEndArgs;
use super::exit::UsageError;
use super::out::say;

/// A demo repository ready to run: its root and the plan `grove demo` runs.
#[derive(Debug, Clone)]
pub struct DemoRepo {
    pub root: PathBuf,
    pub plan: PathBuf,
}

/// `grove demo`: creates the demo repository and runs its demo plan there.
pub fn demo(dir: Option<&Path>, front: FrontEndArgs) -> anyhow::Result<i32> {
    let demo = create_demo_repo(dir).context("cannot create the demo repository")?;
    say(format_args!(
        "grove demo: sample project in {}",
        demo.root.display()
    ));
    let code = super::run::run(&demo.plan, Some(&demo.root), front)?;
    say(format_args!(
        "grove demo: look around in {} (git log --all --graph, .grove/runs/)",
        demo.root.display()
    ));
    Ok(code)
}

/// Every file of sample-plans/, copied into `<root>/plans/`.
const PLANS: &[(&str, &str)] = &[
    ("demo.toml", include_str!("../../sample-plans/demo.toml")),
    (
        "retries.toml",
        include_str!("../../sample-plans/retries.toml"),
    ),
    (
        "pipeline.toml",
        include_str!("../../sample-plans/pipeline.toml"),
    ),
    (
        "fallback.toml",
        include_str!("../../sample-plans/fallback.toml"),
    ),
    (
        "batched.toml",
        include_str!("../../sample-plans/batched.toml"),
    ),
    ("dag.toml", include_str!("../../sample-plans/dag.toml")),
    // The demo project is Python: with Claude Code installed, this plan works on it too.
    (
        "claude.toml",
        include_str!("../../sample-plans/claude.toml"),
    ),
];

/// Creates `grove-demo-` plus six random characters under `parent` (default: the system temp
/// dir; created when missing), holding the sample project and plans committed on `main`;
/// returns it with `plans/demo.toml`. A `parent` that is not a folder and cannot be made one
/// is a [`UsageError`] (exit 2), and nothing is created.
pub fn create_demo_repo(parent: Option<&Path>) -> anyhow::Result<DemoRepo> {
    let parent = match parent {
        Some(parent) => {
            std::fs::create_dir_all(parent).map_err(|e| {
                UsageError(format!(
                    "--dir {}: cannot be the demo's folder: {e}",
                    parent.display()
                ))
            })?;
            parent.to_path_buf()
        }
        None => std::env::temp_dir(),
    };
    let dir = tempfile::Builder::new()
        .prefix("grove-demo-")
        .rand_bytes(6)
        .tempdir_in(&parent)
        .with_context(|| format!("cannot create a demo directory in {}", parent.display()))?;
    let root = dir
        .path()
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.path().display()))?;
    let plans = PLANS
        .iter()
        .map(|(name, text)| (format!("plans/{name}"), *text));
    let project = PROJECT.iter().map(|(path, text)| (path.to_string(), *text));
    for (rel, text) in project.chain(plans) {
        let path = root.join(&rel);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    commit_everything(&root).with_context(|| format!("cannot set up git in {}", root.display()))?;
    // Only now is the directory kept: a failure above removes the half-made repository.
    let _kept = dir.keep();
    Ok(DemoRepo {
        plan: root.join("plans/demo.toml"),
        root,
    })
}

fn commit_everything(root: &Path) -> Result<(), git2::Error> {
    let mut opts = RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo = Repository::init_opts(root, &opts)?;
    let mut index = repo.index()?;
    index.add_all(["*"], IndexAddOption::DEFAULT, None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    // The identity grove commits with, so a machine without a git identity (common on fresh
    // machines and in CI) still gets its demo.
    let signature = crate::git::signature_from_config(&repo.config()?)?;
    let message = "Sample calc project and grove plans";
    repo.commit(Some("HEAD"), &signature, &signature, message, &tree, &[])?;
    Ok(())
}

/// The sample project: small, runnable with `python -m pytest`, and with a few flaws on purpose
/// (a missing docstring, a mutable default, `== None`, a module without tests) so the reviewer
/// has something to find.
const PROJECT: &[(&str, &str)] = &[
    (
        ".gitignore",
        "__pycache__/\n*.pyc\n.pytest_cache/\n.venv/\n",
    ),
    (
        "README.md",
        r#"# calc

A tiny calculator package, created by `grove demo` as a playground for its demo agents.
Nothing here matters: every agent works in its own worktree and branch, and you decide what
gets merged back into `main`.

## Layout

- `src/calc/`: the package (`arith.py`, `stats.py`)
- `tests/`: pytest tests, run with `python -m pytest`
- `plans/`: grove plans to try, e.g. `grove run plans/pipeline.toml`
"#,
    ),
    (
        "pyproject.toml",
        r#"[project]
name = "calc"
version = "0.1.0"
description = "A tiny calculator package: the sample project of grove demo."
requires-python = ">=3.8"

[tool.pytest.ini_options]
pythonpath = ["src"]
testpaths = ["tests"]
"#,
    ),
    (
        "src/calc/__init__.py",
        r#""""calc: a tiny calculator package, the sample project of `grove demo`."""

from calc.arith import add, divide, multiply, subtract
from calc.stats import mean_of, spread

__all__ = ["add", "divide", "multiply", "subtract", "mean_of", "spread"]
"#,
    ),
    (
        "src/calc/arith.py",
        r#""""Arithmetic on two numbers."""


def add(a, b):
    """Sum of a and b."""
    return a + b


def subtract(a, b):
    """a minus b."""
    return a - b


def multiply(a, b):
    return a * b


def divide(a, b):
    """a divided by b; raises ZeroDivisionError when b is 0."""
    if b == 0:
        raise ZeroDivisionError("cannot divide by zero")
    return a / b
"#,
    ),
    (
        "src/calc/stats.py",
        r#""""Summary numbers for lists of values."""


def mean_of(values, weights=[]):
    """Weighted mean of values; equal weights when none are given."""
    if weights == None or not weights:
        weights = [1] * len(values)
    total = sum(v * w for v, w in zip(values, weights))
    return total / sum(weights)


def spread(values):
    """Largest value minus smallest value."""
    if not values:
        print("spread() of an empty list")
        return 0
    return max(values) - min(values)
"#,
    ),
    (
        "tests/test_arith.py",
        r#""""Tests for calc.arith."""

import pytest

from calc.arith import add, divide, multiply, subtract


def test_add_and_subtract():
    assert add(2, 3) == 5
    assert subtract(2, 3) == -1


def test_multiply():
    assert multiply(4, 2.5) == 10


def test_divide():
    assert divide(9, 3) == 3
    with pytest.raises(ZeroDivisionError):
        divide(1, 0)
"#,
    ),
];
