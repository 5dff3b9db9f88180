use serde_json::json;

use super::{Rules, check};

const RULES: &str = "intro\n```deps\n\
    app-domain ->\n\
    app-store -> app-domain\n\
    app-cli (leaf) -> app-store app-domain\n\
    app-domain !> ring anyhow\n\
    ```\n";

fn metadata(edges: &[(&str, &str, &str)]) -> serde_json::Value {
    let names = ["app-domain", "app-store", "app-cli", "ring", "untrusted"];
    let members = ["app-domain", "app-store", "app-cli"];
    let mut nodes = Vec::new();
    for name in names {
        let deps: Vec<_> = edges
            .iter()
            .filter(|(from, _, _)| *from == name)
            .map(|(_, to, kind)| {
                let kind = if *kind == "normal" {
                    serde_json::Value::Null
                } else {
                    json!(kind)
                };
                json!({ "pkg": format!("{to} 0.1.0"), "dep_kinds": [{ "kind": kind }] })
            })
            .collect();
        nodes.push(json!({ "id": format!("{name} 0.1.0"), "deps": deps }));
    }
    json!({
        "packages": names.iter().map(|n| json!({ "id": format!("{n} 0.1.0"), "name": n })).collect::<Vec<_>>(),
        "workspace_members": members.iter().map(|n| format!("{n} 0.1.0")).collect::<Vec<_>>(),
        "resolve": { "nodes": nodes },
    })
}

fn violations(edges: &[(&str, &str, &str)]) -> Vec<String> {
    check(&metadata(edges), &Rules::parse(RULES).expect("rules parse")).expect("check runs")
}

#[test]
fn allowed_graph_passes() {
    let v = violations(&[
        ("app-store", "app-domain", "normal"),
        ("app-cli", "app-store", "normal"),
    ]);
    assert_eq!(v, Vec::<String>::new());
}

#[test]
fn upward_arrow_is_rejected() {
    let v = violations(&[("app-domain", "app-store", "normal")]);
    assert_eq!(v, ["app-domain -> app-store is not an allowed arrow"]);
}

#[test]
fn transitive_forbidden_external_is_rejected_with_its_path() {
    let v = violations(&[
        ("app-domain", "untrusted", "normal"),
        ("untrusted", "ring", "build"),
    ]);
    assert_eq!(
        v,
        ["app-domain must not depend on ring (via app-domain -> untrusted -> ring)"]
    );
}

#[test]
fn dev_dependencies_are_free_but_never_on_a_leaf() {
    assert!(
        violations(&[
            ("app-domain", "ring", "dev"),
            ("app-domain", "app-store", "dev")
        ])
        .is_empty()
    );
    let v = violations(&[("app-store", "app-cli", "dev")]);
    assert_eq!(
        v,
        ["app-store depends on app-cli, which nothing may depend on"]
    );
}

#[test]
fn crate_missing_from_the_rules_is_reported() {
    let rules = Rules::parse("```deps\napp-domain ->\n```\n").expect("rules parse");
    let v = check(&metadata(&[]), &rules).expect("check runs");
    assert_eq!(
        v,
        [
            "workspace crate app-cli has no `app-cli -> …` line",
            "workspace crate app-store has no `app-store -> …` line"
        ]
    );
}

#[test]
fn a_document_without_rules_is_an_error() {
    assert!(Rules::parse("no rules here").is_err());
}

#[test]
fn the_project_architecture_document_parses() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ARCHITECTURE.md");
    let text = std::fs::read_to_string(path).expect("docs/ARCHITECTURE.md exists");
    let rules = Rules::parse(&text).expect("rules parse");
    assert!(rules.allowed.contains_key("websrm-domain"));
    assert!(rules.forbidden["websrm-domain"].contains("ring"));
    assert!(rules.leaves.contains("websrm-cli"));
}
