//! Checks that keep the documentation honest mechanically.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// The README's vendor snippet is the facade's crate example, which is compiled as a doc test.
pub(crate) fn check(root: &Path) -> Result<()> {
    let readme = std::fs::read_to_string(root.join("README.md")).context("reading README.md")?;
    let lib = std::fs::read_to_string(root.join("crates/websrm/src/lib.rs"))
        .context("reading crates/websrm/src/lib.rs")?;
    let (Some(a), Some(b)) = (readme_snippet(&readme), crate_example(&lib)) else {
        bail!("README.md or crates/websrm/src/lib.rs has no vendor example");
    };
    if a != b {
        bail!(
            "the README's vendor snippet differs from the websrm crate example; copy the crate example into README.md"
        );
    }
    println!("xtask: README vendor snippet matches the websrm crate example");
    Ok(())
}

fn readme_snippet(readme: &str) -> Option<String> {
    let start = readme.find("```rust,no_run\n")? + "```rust,no_run\n".len();
    let end = readme[start..].find("```")? + start;
    Some(readme[start..end].to_owned())
}

fn crate_example(lib: &str) -> Option<String> {
    let doc: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let doc = doc.join("\n");
    let start = doc.find("```no_run\n")? + "```no_run\n".len();
    let end = doc[start..].find("```")? + start;
    Some(doc[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_snippets_are_compared_as_text() {
        let readme = "x\n```rust,no_run\nlet a = 1;\n```\n";
        let lib = "//! y\n//! ```no_run\n//! let a = 1;\n//! ```\n";
        assert_eq!(super::readme_snippet(readme), super::crate_example(lib));
        assert_ne!(
            super::readme_snippet("```rust,no_run\nlet a = 2;\n```"),
            super::crate_example(lib)
        );
    }

    #[test]
    fn the_project_readme_matches() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        super::check(&root).unwrap();
    }
}
