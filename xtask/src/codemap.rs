//! The code map check: every source file of the workspace is named in `docs/ARCHITECTURE.md`'s
//! "Where each concern lives" (or a section after it), or lies under a folder named there.
//!
//! A line of the map names paths in backticks. A path that starts with a crate's folder
//! (`websrm-store/src/device/`), with `tests/`, `xtask/` or `fuzz/` is taken from the
//! workspace's root (crates under `crates/`); a bare crate name (`websrm-domain`) stands for its
//! `src/`. A shorter name in the same row (`sessions.rs`, `client/`) is read in the folder of the
//! last full path before it, as the map writes them. A name ending in `/` covers its whole
//! folder. A crate's `lib.rs` and `main.rs` are named by the crate map, and a module's tests
//! beside it (`tests.rs`, or a `tests/` folder in `src/`) by the module.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Checks the workspace's source files against the code map.
pub(crate) fn check_workspace(root: &Path) -> Result<()> {
    let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md"))
        .context("reading docs/ARCHITECTURE.md")?;
    let crates: BTreeSet<String> = std::fs::read_dir(root.join("crates"))
        .context("listing crates/")?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    let named = named_paths(&doc, &crates)?;
    let mut files = Vec::new();
    for dir in [
        "crates",
        "xtask/src",
        "tests/src",
        "tests/tests",
        "tests/benches",
        "fuzz/fuzz_targets",
    ] {
        sources(root, &root.join(dir), &mut files)?;
    }
    let missing: Vec<&String> = files.iter().filter(|f| !covered(f, &named)).collect();
    if missing.is_empty() {
        println!(
            "xtask: every one of {} source files is in docs/ARCHITECTURE.md's code map",
            files.len()
        );
        return Ok(());
    }
    for file in &missing {
        eprintln!(
            "xtask: codemap: {file} is not named in docs/ARCHITECTURE.md (\"Where each concern lives\")"
        );
    }
    bail!(
        "{} source file(s) missing from docs/ARCHITECTURE.md's code map",
        missing.len()
    )
}

/// The folders of the workspace's root that a path in the map may start with.
const ROOTS: [&str; 6] = ["crates", "tests", "xtask", "fuzz", "docs", "clients"];

/// The paths the map names, from the workspace's root; folders end with `/`.
pub(crate) fn named_paths(doc: &str, crates: &BTreeSet<String>) -> Result<BTreeSet<String>> {
    let start = doc
        .find("## Where each concern lives")
        .context("docs/ARCHITECTURE.md has no \"Where each concern lives\" section")?;
    // The map, and the sections after it that name tests, benchmarks and fuzz targets.
    let section = &doc[start..];
    let mut named = BTreeSet::new();
    for line in section.lines() {
        let mut folder: Option<String> = None;
        for token in line.split('`').skip(1).step_by(2) {
            let first = token.split('/').next().unwrap_or_default();
            if token.contains('*') || token.contains(' ') {
                continue;
            }
            if crates.contains(first) || (ROOTS.contains(&first) && token.contains('/')) {
                // A full path: a path to code sets the folder the short names after it are read in.
                let last = token.rsplit('/').next().unwrap_or_default();
                let path = if !crates.contains(first) && (last.is_empty() || last.contains('.')) {
                    token.to_owned()
                } else if !crates.contains(first) {
                    // A folder written without its final `/`.
                    format!("{token}/")
                } else if token.contains('/') {
                    format!("crates/{token}")
                } else {
                    format!("crates/{token}/src/")
                };
                if !["docs", "clients"].contains(&first) {
                    folder = Some(path[..=path.rfind('/').unwrap_or(0)].to_owned());
                }
                named.insert(path);
            } else if let Some(dir) = folder.as_ref().filter(|_| is_path(token)) {
                named.insert(format!("{dir}{token}"));
            }
        }
    }
    Ok(named)
}

/// Whether a short name in backticks is a file or folder (`sessions.rs`, `client/`,
/// `style.css`) rather than code (`Registry::open`).
fn is_path(token: &str) -> bool {
    let name = token.trim_end_matches('/');
    !name.is_empty()
        && !token.contains(' ')
        && !token.contains("::")
        && (token.ends_with('/')
            || name
                .rsplit_once('.')
                .is_some_and(|(_, ext)| ["rs", "css", "md", "toml"].contains(&ext)))
}

/// Whether `file` is named, lies under a named folder, or is named by its crate or module.
pub(crate) fn covered(file: &str, named: &BTreeSet<String>) -> bool {
    if named.contains(file)
        || named
            .iter()
            .any(|n| n.ends_with('/') && file.starts_with(n.as_str()))
    {
        return true;
    }
    let parts: Vec<&str> = file.split('/').collect();
    let name = parts.last().copied().unwrap_or_default();
    let crate_root = parts.len() == 4 && parts[0] == "crates" && parts[2] == "src";
    let xtask_root = file == "xtask/src/main.rs" || file == "tests/src/lib.rs";
    let beside = name == "tests.rs"
        || parts.iter().skip(1).rev().skip(1).any(|p| *p == "tests") && parts.contains(&"src");
    (crate_root && (name == "lib.rs" || name == "main.rs")) || xtask_root || beside
}

/// Every `.rs` file under `dir`, relative to `root`, skipping build output.
fn sources(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                sources(root, &path, out)?;
            }
        } else if name.ends_with(".rs") {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crates() -> BTreeSet<String> {
        ["websrm-store", "websrm-domain"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// A line's full paths, its short names read in the folder of the full path before them
    /// (a short name never moves that folder), and its bare crate names are named; code in
    /// backticks is not.
    #[test]
    fn rows_name_full_paths_and_short_names_in_their_folder() {
        let doc = "## Where each concern lives\n\n| a | b |\n|---|---|\n\
                   | x | `websrm-store/src/device/` (`identity.rs`), `websrm-store/src/sql.rs`; `pg.rs` |\n\
                   | y | `websrm-domain`: `ids.rs`; `Registry::open`, `tests/benches/e2e.rs` (`support/peer.rs`; `transmit.rs`) |\n";
        let named = named_paths(doc, &crates()).unwrap();
        for path in [
            "crates/websrm-store/src/device/",
            "crates/websrm-store/src/device/identity.rs",
            "crates/websrm-store/src/sql.rs",
            "crates/websrm-store/src/pg.rs",
            "crates/websrm-domain/src/",
            "crates/websrm-domain/src/ids.rs",
            "tests/benches/e2e.rs",
            "tests/benches/support/peer.rs",
            "tests/benches/transmit.rs",
        ] {
            assert!(named.contains(path), "{path} in {named:?}");
        }
        assert!(!named.iter().any(|n| n.contains("Registry")), "{named:?}");
        assert!(covered("crates/websrm-store/src/device/outbox.rs", &named));
        assert!(!covered("crates/websrm-store/src/checkpoint.rs", &named));
    }

    /// Crate roots and tests beside their module need no row; another file does.
    #[test]
    fn crate_roots_and_tests_beside_their_module_are_covered() {
        let named = BTreeSet::new();
        assert!(covered("crates/websrm-store/src/lib.rs", &named));
        assert!(covered("crates/websrm-store/src/client/tests.rs", &named));
        assert!(covered(
            "crates/websrm-store/src/essai/tests/cases.rs",
            &named
        ));
        assert!(!covered("crates/websrm-store/src/device/mod.rs", &named));
        assert!(!covered("crates/websrm-store/tests/device.rs", &named));
    }

    /// The workspace's own map names every source file (the check `cargo xtask ci` runs).
    #[test]
    fn the_workspace_map_is_complete() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        check_workspace(&root).unwrap();
    }
}
