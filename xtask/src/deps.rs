//! The layering check: the workspace's dependency arrows against the rules written in
//! `docs/ARCHITECTURE.md`.
//!
//! The rules are the lines of the fenced block tagged `deps` in that file:
//! - `CRATE -> A B …`: the workspace crates CRATE may depend on (normal and build dependencies;
//!   an empty right side allows none). Every workspace crate must have such a line.
//! - `CRATE !> X Y …`: crates that must not appear anywhere among CRATE's normal or build
//!   dependencies, direct or transitive.
//!
//! Dev-dependencies between workspace crates are free, except that nothing may depend on a
//! crate whose allowed-arrow line is marked `(leaf)`, such as the CLI.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The rules read from the architecture document.
#[derive(Debug, Default)]
pub(crate) struct Rules {
    allowed: BTreeMap<String, BTreeSet<String>>,
    forbidden: BTreeMap<String, BTreeSet<String>>,
    leaves: BTreeSet<String>,
}

impl Rules {
    /// Reads the `deps` block of a Markdown document.
    pub(crate) fn parse(markdown: &str) -> Result<Self> {
        let mut rules = Self::default();
        let mut inside = false;
        let mut found = false;
        for (number, line) in markdown.lines().enumerate() {
            let trimmed = line.trim();
            if !inside {
                if trimmed == "```deps" {
                    inside = true;
                    found = true;
                }
                continue;
            }
            if trimmed == "```" {
                inside = false;
                continue;
            }
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let (left, right, forbid) = if let Some((l, r)) = trimmed.split_once("!>") {
                (l, r, true)
            } else if let Some((l, r)) = trimmed.split_once("->") {
                (l, r, false)
            } else {
                bail!(
                    "docs/ARCHITECTURE.md line {}: expected `CRATE -> …` or `CRATE !> …`",
                    number + 1
                );
            };
            let mut left = left.trim().to_owned();
            if let Some(name) = left.strip_suffix("(leaf)") {
                left = name.trim().to_owned();
                rules.leaves.insert(left.clone());
            }
            let names = right
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            let target = if forbid {
                &mut rules.forbidden
            } else {
                &mut rules.allowed
            };
            target.entry(left).or_default().extend(names);
        }
        if !found {
            bail!("docs/ARCHITECTURE.md has no ```deps block of dependency rules");
        }
        Ok(rules)
    }
}

/// Runs `cargo metadata` and checks it against `docs/ARCHITECTURE.md`.
pub(crate) fn check_workspace(root: &Path) -> Result<()> {
    let doc = root.join("docs/ARCHITECTURE.md");
    let rules = Rules::parse(
        &std::fs::read_to_string(&doc).with_context(|| format!("reading {}", doc.display()))?,
    )?;
    println!("xtask: running cargo metadata --format-version 1 --locked (dependency check)");
    let output = Command::new(crate::cargo_path())
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root)
        .output()
        .context("could not run cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).context("parsing cargo metadata")?;
    let mut violations = check(&metadata, &rules)?;
    violations.extend(crate::api::check(
        &metadata,
        &std::fs::read_to_string(&doc).with_context(|| format!("reading {}", doc.display()))?,
    )?);
    if violations.is_empty() {
        println!("xtask: dependency arrows match docs/ARCHITECTURE.md");
        Ok(())
    } else {
        for v in &violations {
            eprintln!("xtask: deps: {v}");
        }
        bail!(
            "{} dependency rule violation(s); see docs/ARCHITECTURE.md",
            violations.len()
        )
    }
}

/// Checks `cargo metadata` output against the rules; returns one message per violation.
pub(crate) fn check(metadata: &Value, rules: &Rules) -> Result<Vec<String>> {
    let graph = Graph::from_metadata(metadata)?;
    let mut violations = Vec::new();

    for member in &graph.members {
        let name = &graph.names[member];
        let Some(allowed) = rules.allowed.get(name) else {
            violations.push(format!("workspace crate {name} has no `{name} -> …` line"));
            continue;
        };
        for (dep, kinds) in &graph.edges[member] {
            if !graph.members.contains(dep) {
                continue;
            }
            let dep_name = &graph.names[dep];
            let runtime = kinds.iter().any(|k| k != "dev");
            if rules.leaves.contains(dep_name) {
                violations.push(format!(
                    "{name} depends on {dep_name}, which nothing may depend on"
                ));
            } else if runtime && !allowed.contains(dep_name) {
                violations.push(format!("{name} -> {dep_name} is not an allowed arrow"));
            }
        }
    }
    for name in rules.allowed.keys().chain(rules.forbidden.keys()) {
        if !graph.members.iter().any(|m| &graph.names[m] == name) {
            violations.push(format!(
                "the rules name {name}, which is not a workspace crate"
            ));
        }
    }
    for (name, forbidden) in &rules.forbidden {
        let Some(start) = graph.members.iter().find(|m| &graph.names[*m] == name) else {
            continue;
        };
        for (reached, path) in graph.runtime_closure(start) {
            let reached_name = &graph.names[&reached];
            if forbidden.contains(reached_name) {
                let path: Vec<&str> = path.iter().map(|id| graph.names[id].as_str()).collect();
                violations.push(format!(
                    "{name} must not depend on {reached_name} (via {})",
                    path.join(" -> ")
                ));
            }
        }
    }
    violations.sort();
    violations.dedup();
    Ok(violations)
}

struct Graph {
    names: BTreeMap<String, String>,
    members: BTreeSet<String>,
    /// package id -> (dependency id -> kinds: "normal", "build", "dev")
    edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

impl Graph {
    fn from_metadata(metadata: &Value) -> Result<Self> {
        let mut names = BTreeMap::new();
        for package in metadata["packages"]
            .as_array()
            .context("metadata has no packages")?
        {
            let id = package["id"].as_str().context("package without id")?;
            let name = package["name"].as_str().context("package without name")?;
            names.insert(id.to_owned(), name.to_owned());
        }
        let members = metadata["workspace_members"]
            .as_array()
            .context("metadata has no workspace_members")?
            .iter()
            .filter_map(|m| m.as_str().map(str::to_owned))
            .collect();
        let mut edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for node in metadata["resolve"]["nodes"]
            .as_array()
            .context("metadata has no resolve graph")?
        {
            let id = node["id"].as_str().context("node without id")?.to_owned();
            let entry = edges.entry(id).or_default();
            for dep in node["deps"].as_array().into_iter().flatten() {
                let dep_id = dep["pkg"]
                    .as_str()
                    .context("dependency without pkg")?
                    .to_owned();
                let kinds = entry.entry(dep_id).or_default();
                for kind in dep["dep_kinds"].as_array().into_iter().flatten() {
                    kinds.insert(kind["kind"].as_str().unwrap_or("normal").to_owned());
                }
            }
        }
        for id in names.keys() {
            edges.entry(id.clone()).or_default();
        }
        Ok(Self {
            names,
            members,
            edges,
        })
    }

    /// Every package reachable from `start` through normal and build dependencies, each with
    /// the path that first reached it.
    fn runtime_closure(&self, start: &str) -> Vec<(String, Vec<String>)> {
        let mut seen = BTreeSet::from([start.to_owned()]);
        let mut queue = VecDeque::from([vec![start.to_owned()]]);
        let mut out = Vec::new();
        while let Some(path) = queue.pop_front() {
            let Some(last) = path.last() else { continue };
            for (dep, kinds) in &self.edges[last] {
                if kinds.iter().all(|k| k == "dev") || !seen.insert(dep.clone()) {
                    continue;
                }
                let mut next = path.clone();
                next.push(dep.clone());
                out.push((dep.clone(), next.clone()));
                queue.push_back(next);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
