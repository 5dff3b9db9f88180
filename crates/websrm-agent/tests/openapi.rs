//! The OpenAPI description kept in the documentation is the one the code generates.

#[test]
fn docs_agent_openapi_json_is_the_generated_description() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/agent-openapi.json");
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = websrm_agent::openapi();
    assert!(
        kept.trim_end() == generated.trim_end(),
        "docs/agent-openapi.json differs from the API; regenerate it with\n  cargo run -p websrm-cli -- agent openapi > docs/agent-openapi.json"
    );
    let spec: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/health",
        "/v1/device-id",
        "/v1/enrolments",
        "/v1/server-enrolments",
        "/v1/certificates",
        "/v1/certificates/{nickname}/replace",
        "/v1/certificates/{nickname}/delete",
        "/v1/recover",
        "/v1/terminals",
        "/v1/billing-guard",
        "/v1/signatures",
        "/v1/transmission-signatures",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} is described");
    }
}
