use std::sync::Arc;

use super::*;

/// A new authority's registry, its log and its companions hold no authorization code's
/// text: the seeded codes are kept as keyed digests from the start.
#[test]
fn the_registry_files_hold_no_authorization_code() {
    let dir = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();
    let files = AuthorityFiles::open_or_create(dir.path(), Environment::Dev, now).unwrap();
    let (authority, _) =
        crate::Authority::new(files, Environment::Dev, Arc::new(crate::SystemClock));
    crate::seed::seed_test_data(&authority, now).unwrap();
    drop(authority);
    let mut seen = 0;
    for entry in fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // The database and its SQLite companions (the key-encryption key is random bytes).
        if name != names::REGISTRY && !name.starts_with(&format!("{}-", names::REGISTRY)) {
            continue;
        }
        seen += 1;
        let bytes = fs::read(&path).unwrap();
        for code in ["D8T8-W8W8", "W7V7-K8W9", "58T8-W8W8", "B8T8-W8W8"] {
            assert!(
                !bytes.windows(code.len()).any(|w| w == code.as_bytes()),
                "{code} in {name}"
            );
        }
    }
    assert!(seen >= 1, "the registry was read");
}
