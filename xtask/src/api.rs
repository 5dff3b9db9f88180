//! Which dependencies' types each library crate shows in its public API, checked against the
//! ```api``` block of `docs/ARCHITECTURE.md`.
//!
//! Stable Rust has no tool that lists a crate's public items with their types, so this reads
//! the source: each public declaration (`pub fn` with its whole signature, `pub struct`,
//! `pub enum`, `pub type`, `pub trait`, `pub const`, `pub static`, `pub use` and `pub` fields),
//! outside test modules, and the dependency crates it names, by path (`time::Duration`) or by a
//! name imported from one (`use rustls::ClientConfig;`). It can miss a type reached only through
//! a glob import; what it finds is exact. A crate may show only the dependencies its line names,
//! and must show each it names, so that the list stays true.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The allowed dependencies per crate, from the ```api``` block: `CRATE: DEP DEP…`.
pub(crate) fn allowed(doc: &str) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let start = doc
        .find("```api")
        .context("docs/ARCHITECTURE.md has no ```api block")?;
    let block = &doc[start + 6..];
    let block = &block[..block
        .find("```")
        .context("the ```api block is not closed")?];
    let mut out = BTreeMap::new();
    for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, deps) = line
            .split_once(':')
            .with_context(|| format!("```api line {line:?}: expected `CRATE: DEP …`"))?;
        out.insert(
            name.trim().to_owned(),
            deps.split_whitespace().map(str::to_owned).collect(),
        );
    }
    Ok(out)
}

/// The dependencies (crate names, `-` as `_`) whose types `source` shows publicly, among
/// `deps`.
pub(crate) fn shown(source: &str, deps: &BTreeSet<String>) -> BTreeSet<String> {
    let source = source
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or(source);
    let mut imported: BTreeMap<String, String> = BTreeMap::new();
    let mut found = BTreeSet::new();
    let lines: Vec<&str> = source.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_start();
        if let Some(rest) = line
            .strip_prefix("use ")
            .or_else(|| line.strip_prefix("pub use "))
        {
            let mut text = rest.to_owned();
            while !text.contains(';') && i + 1 < lines.len() {
                i += 1;
                text.push_str(lines[i]);
            }
            let root = text
                .split("::")
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned();
            if deps.contains(&root) {
                if line.starts_with("pub use") {
                    found.insert(root.clone());
                }
                for name in local_names(&text) {
                    imported.insert(name, root.clone());
                }
            }
            i += 1;
            continue;
        }
        let declaration = [
            "pub fn ",
            "pub async fn ",
            "pub const fn ",
            "pub unsafe fn ",
        ]
        .iter()
        .any(|p| line.starts_with(p));
        let item = [
            "pub struct ",
            "pub enum ",
            "pub type ",
            "pub trait ",
            "pub const ",
            "pub static ",
        ]
        .iter()
        .any(|p| line.starts_with(p));
        let field = line.starts_with("pub ")
            && line[4..].split_once(':').is_some_and(|(n, _)| {
                !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if declaration || item || field {
            let mut text = line.to_owned();
            // A function's signature runs to its body or its `;`.
            while declaration && !text.contains('{') && !text.contains(';') && i + 1 < lines.len() {
                i += 1;
                text.push(' ');
                text.push_str(lines[i].trim());
            }
            let text = text.split('{').next().unwrap_or_default();
            for word in words(text) {
                if let Some((root, _)) = word.split_once("::")
                    && deps.contains(root)
                {
                    found.insert(root.to_owned());
                } else if let Some(dep) = imported.get(&word) {
                    found.insert(dep.clone());
                }
            }
        }
        i += 1;
    }
    found
}

/// The names a `use` statement brings in: the last segment of each path, or its `as` name.
fn local_names(text: &str) -> Vec<String> {
    let text = text.replace(['{', '}', ';'], ",");
    text.split(',')
        .filter_map(|part| {
            let part = part.trim();
            let name = match part.split_once(" as ") {
                Some((_, alias)) => alias.trim(),
                None => part.rsplit("::").next()?.trim(),
            };
            (!name.is_empty() && name != "self" && name != "*" && name != "_")
                .then(|| name.to_owned())
        })
        .collect()
}

/// The paths and names in `text` (`a::b::C`, `D`).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .map(|w| w.trim_matches(':').to_owned())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Checks every library crate of the workspace against the ```api``` block; one message per
/// difference.
pub(crate) fn check(metadata: &Value, doc: &str) -> Result<Vec<String>> {
    let allowed = allowed(doc)?;
    let members: BTreeSet<&str> = metadata["workspace_members"]
        .as_array()
        .context("metadata has no workspace_members")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut problems = Vec::new();
    for package in metadata["packages"].as_array().context("no packages")? {
        let (Some(id), Some(name)) = (package["id"].as_str(), package["name"].as_str()) else {
            continue;
        };
        let library = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "lib"))
            });
        if !members.contains(id) || !library || name == "websrm-tests" {
            continue;
        }
        let deps: BTreeSet<String> = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str())
            .filter(|d| !d.starts_with("websrm"))
            .map(|d| d.replace('-', "_"))
            .collect();
        let dir = Path::new(
            package["manifest_path"]
                .as_str()
                .context("no manifest path")?,
        )
        .parent()
        .context("manifest without a folder")?
        .join("src");
        let mut found = BTreeSet::new();
        for file in sources(&dir)? {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            found.extend(shown(&text, &deps));
        }
        let Some(listed) = allowed.get(name) else {
            problems.push(format!(
                "{name} has no line in the ```api block of docs/ARCHITECTURE.md"
            ));
            continue;
        };
        for dep in found.difference(listed) {
            problems.push(format!(
                "{name} shows {dep}'s types in its public API, which its ```api line does not name"
            ));
        }
        for dep in listed.difference(&found) {
            problems.push(format!(
                "{name}'s ```api line names {dep}, whose types it no longer shows"
            ));
        }
    }
    Ok(problems)
}

/// The `.rs` files under `dir`, its tests' files left out.
fn sources(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if path.is_dir() {
                if name != "tests" {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") && name != "tests.rs" {
                out.push(path);
            }
        }
    }
    if out.is_empty() {
        bail!("no source under {}", dir.display());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps() -> BTreeSet<String> {
        ["rusqlite", "time", "rcgen"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// A dependency's type in a public signature is found by path and by imported name; the same
    /// in a private item, behind an alias no public item uses, or in tests is not.
    #[test]
    fn public_signatures_show_the_dependencies_they_name() {
        let source = "use rusqlite::Connection;\nuse rcgen::{SerialNumber as Raw, Issuer};\n\
                      pub fn open(path: &Path)\n    -> Result<Connection, Error> {\n}\n\
                      fn private(t: time::Duration) {}\n\
                      pub struct S {\n    pub at: time::OffsetDateTime,\n    raw: Raw,\n}\n\
                      #[cfg(test)]\nmod tests {\n    pub fn t(i: Issuer) {}\n}\n";
        let found = shown(source, &deps());
        assert_eq!(
            found,
            ["rusqlite", "time"].iter().map(|s| s.to_string()).collect()
        );
        assert!(shown("pub use rcgen::Issuer;", &deps()).contains("rcgen"));
        assert!(shown("pub(crate) fn f(c: rcgen::Issuer) {}", &deps()).is_empty());
    }

    #[test]
    fn the_block_lists_each_crates_dependencies() {
        let doc = "x\n```api\nwebsrm-store: time zeroize\nwebsrm-acl:\n```\n";
        let allowed = allowed(doc).unwrap();
        assert_eq!(allowed["websrm-store"].len(), 2);
        assert!(allowed["websrm-acl"].is_empty());
    }
}
