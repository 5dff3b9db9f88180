//! The error catalogue: every id the authority emits is there, once, with consistent messages.

use websrm_protocol::catalogue::{CATALOGUE, entry, lookup};

/// Every error number websrm's authority can answer with.
const EMITTED: &[u16] = &[
    0, 1, 2, 3, 11, 12, 13, 14, 15, 25, 37, 41, 42, 47, 48, 50, 61, 69, 100, 200, 304, 309, 310,
    311, 313, 314, 315, 316, 320, 321, 322, 323, 328, 329, 401, 417, 420, 421, 429, 430, 431, 432,
    433, 436, 437, 451, 452, 469, 470, 508, 509, 510, 514, 518, 520, 522, 602, 604, 605, 606, 607,
    608, 609, 610, 611, 612, 613, 614, 615, 616, 999,
];

#[test]
fn every_emitted_id_is_in_the_catalogue_once() {
    for n in EMITTED {
        assert_eq!(
            CATALOGUE.iter().filter(|e| e.number == *n).count(),
            1,
            "error {n:03}"
        );
        assert_eq!(entry(*n).number, *n);
        assert_eq!(lookup(entry(*n).id()).map(|e| e.number), Some(*n));
    }
    assert_eq!(
        entry(123).number,
        100,
        "an unknown number falls back to the unexpected error"
    );
}

#[test]
fn messages_fit_the_protocol_and_agree_between_languages() {
    for e in CATALOGUE {
        let filled = e.french_with(&["0123456789ABCDEF0123456789ABCDEF01234567", "ESSAI"]);
        assert!(
            (3..=128).contains(&filled.chars().count()),
            "{}: {filled}",
            e.number
        );
        for placeholder in ["{0}", "{1}"] {
            assert_eq!(
                e.french.contains(placeholder),
                e.english.contains(placeholder),
                "{} {placeholder}",
                e.number
            );
        }
        assert_eq!(e.id().to_string().len(), 12);
    }
    assert_eq!(
        entry(999).return_code(),
        None,
        "the companion has no codRetour"
    );
    assert!(entry(421).has_companion() && !entry(470).has_companion());
}
