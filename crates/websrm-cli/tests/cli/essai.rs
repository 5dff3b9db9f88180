//! `websrm srs essai` and `websrm authority essai`: certification runs and their rehearsal.

use crate::support::*;

#[test]
fn essai_runs_the_certificate_block_of_each_product_in_its_order() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start_in(&authority_dir, "ESSAI");
    let pos = pos(&authority, dir.path(), &authority_dir);
    let runs = dir.path().join("runs");
    let runs = runs.to_str().unwrap();

    // The seeded product runs both modes in both sectors: 500, then 001 (001.007 in server
    // mode), then 501; then the users: 002, 570, 502.
    let out = pos
        .command(
            "ESSAI",
            &["essai", "--dir", runs, "--sector", "RBC", "--sector", "TRP"],
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let at = |step: &str| {
        text.find(&format!("{step}  "))
            .unwrap_or_else(|| panic!("{step} in {text}"))
    };
    assert!(at("500.001") < at("500.004") && at("500.004") < at("001.001"));
    assert!(at("001.008") < at("501.001") && at("501.001") < at("501.008"));
    assert!(
        text[at("001.007")..].starts_with("001.007  device 1  AJO /enrolement SRV"),
        "{text}"
    );
    assert!(text.contains("Certificat A avec serveur"), "{text}");
    assert!(at("501.008") < at("002.001") && at("002.007") < at("570.001"));
    assert!(at("570.001") < at("502.001") && at("502.001") < at("502.007"));
    assert!(
        text[at("002.002")..].starts_with("002.002  device 1  SUP /utilisateur"),
        "{text}"
    );
    assert!(
        text[at("570.001")..].starts_with("570.001  server    VAL /utilisateur SRV"),
        "{text}"
    );
    assert!(text.contains("35 of 35 step(s) passed"), "{text}");
    assert!(text.contains("casEssai 003.001"), "{text}");

    // The authority knows where the run stands.
    let admin = |args: &[&str]| -> Vec<u8> {
        let out = Command::new(WEBSRM)
            .args(["authority", "--dir", authority_dir.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let version = [
        "--partner",
        "0000000000000001",
        "--srs",
        "0000000000000002",
        "--version-id",
        "0000000000000003",
    ];
    let status = admin(&[&["essai", "status", "--json"][..], &version].concat());
    let status: serde_json::Value = serde_json::from_slice(&status).unwrap();
    assert_eq!(status["expected"], "003.001");
    assert_eq!(status["done"], 35);
    assert_eq!(status["expected_step"]["block"], "transactions");

    // Its evidence: every request and answer, in a new folder.
    let evidence = dir.path().join("evidence");
    let out = evidence.to_str().unwrap();
    admin(&[&["essai", "evidence", "--out", out][..], &version].concat());
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(evidence.join("run.json")).unwrap()).unwrap();
    assert_eq!(index["exchanges"].as_array().unwrap().len(), 35);
    let first: serde_json::Value =
        serde_json::from_slice(&std::fs::read(evidence.join("0001-500.001-passed.json")).unwrap())
            .unwrap();
    assert_eq!(first["request"]["headers"]["APPRLINIT"], "SRV");
    assert_eq!(first["answer"]["retourCertif"]["casEssai"], "500.002");

    // A step out of order: the authority's 014E, and the block starts over at its first step.
    let out = pos
        .command(
            "ESSAI",
            &[
                "--json",
                "essai",
                "--dir",
                runs,
                "--steps",
                "500.001,500.003",
            ],
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["failed_step"], "500.003");
    assert_eq!(report["redo_from"], "500.001");
    assert_eq!(report["steps"][1]["errors"][0]["id"], "JW00B999014E");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("step 500.003 failed; its block starts over from step 500.001"),
        "{stderr}"
    );

    // A server-mode transportation product: 500 and 501 without the restaurants' step 008,
    // with the transportation codes.
    let product = essai_product(
        &authority_dir,
        dir.path(),
        "server",
        "TRP",
        "0000000000000031",
        "3.1.0",
    );
    let out = pos
        .command(
            "ESSAI",
            &[
                "--product",
                product.to_str().unwrap(),
                "--json",
                "essai",
                "--dir",
                runs,
                "--mode",
                "server",
                "--sector",
                "TRP",
            ],
        )
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{report}");
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    // 500 (4), 501 without 008 (7), 570 (1), 502 (7).
    assert_eq!(steps.len(), 19, "{steps:?}");
    assert!(steps.iter().all(|s| {
        ["500.", "501.", "570.", "502."]
            .iter()
            .any(|c| s.starts_with(c))
    }));
    assert!(steps.contains(&"502.005") && !steps.contains(&"501.008"));
    assert_eq!(report["steps"][18]["casEssai"], "503.001");

    // Never against Revenu Québec.
    let out = Command::new(WEBSRM)
        .args([
            "srs",
            "--env",
            "ESSAI",
            "--store",
            dir.path().join("x.db").to_str().unwrap(),
        ])
        .args(["essai", "--dir", runs])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("local authority only"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Products in the SRS mode (restaurants, transportation), in the server mode (transportation)
/// and in both modes (restaurants), rehearsed to the end of their runs: the certificate and
/// user blocks, then every transaction and document step with websrm's sample bills and
/// documents (offline batches included; in the server mode signed by the device and sent by the
/// remote server), until the authority names `999.999`.
#[test]
fn essai_rehearses_products_of_each_mode_to_the_end_of_their_runs() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start_in(&authority_dir, "ESSAI");
    let pos = pos(&authority, dir.path(), &authority_dir);
    for (mode, sector, version_id, version, last) in [
        ("srs", "RBC", "0000000000000041", "4.1.0", "105.001"),
        ("srs", "TRP", "0000000000000042", "4.2.0", "103.005"),
        ("server", "TRP", "0000000000000043", "4.3.0", "603.005"),
        ("both", "RBC", "0000000000000044", "4.4.0", "605.001"),
    ] {
        let product = essai_product(
            &authority_dir,
            dir.path(),
            mode,
            sector,
            version_id,
            version,
        );
        let runs = dir.path().join("runs");
        let out = pos
            .command(
                "ESSAI",
                &[
                    "--product",
                    product.to_str().unwrap(),
                    "--json",
                    "essai",
                    "--dir",
                    runs.to_str().unwrap(),
                    "--mode",
                    mode,
                    "--sector",
                    sector,
                    "--rehearse",
                    "transactions,documents",
                ],
            )
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert!(
            out.status.success(),
            "{mode} {sector}: {report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let steps = report["steps"].as_array().unwrap();
        let end = steps.last().unwrap();
        assert_eq!(end["step"], last, "{mode} {sector}: {end}");
        assert_eq!(end["casEssai"], "999.999", "{mode} {sector}: {end}");
        assert_eq!(report["passed"], serde_json::json!(steps.len()));
        let has = |tc: &str| steps.iter().any(|s| s["step"] == tc);
        let (srs, server) = (mode != "server", mode != "srs");
        let rbc = sector == "RBC";
        assert!(has("003.001") == srs && has("009.005") == srs);
        assert!(has("503.001") == server && has("512.001") == server);
        assert!(has("037.004") == (srs && rbc) && has("537.004") == (server && rbc));
        assert!(has("017.003") == (srs && !rbc) && has("103.001") == (srs && !rbc));
        assert!(has("603.001") == (server && !rbc) && has("605.001") == (server && rbc));
        // In both modes, each block runs its SRS-mode cases before its server-mode cases.
        let at = |tc: &str| steps.iter().position(|s| s["step"] == tc).unwrap();
        if mode == "both" {
            assert!(at("500.001") < at("001.001") && at("037.004") < at("503.001"));
            assert!(at("105.001") < at("605.001"));
        }
    }
}
