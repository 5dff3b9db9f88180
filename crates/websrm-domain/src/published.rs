//! The published test data: the operators, codes and numbers of Revenu Québec's certification
//! guide (SW-77 §2.1.2), completed where the guide leaves a value illegible, and the test product
//! a local websrm authority registers. One source for the authority's seed, the certification
//! rehearsal, the CLI, the demo, the tests and the benches; `docs/AUTHORITY.md` lists it.

use crate::{
    AuthorizationCode, FileNumber, IdentificationNumber, Nickname, QstNumber, Sector, SrsSubject,
    SrsSubjectFields, Subject, UtcOffset,
};

/// One operator (or the server administrator) of the test data, with its authorization codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublishedOperator {
    /// CN.
    pub identification_number: &'static str,
    /// Legal name.
    pub legal_name: &'static str,
    /// QST number (none for the server administrator).
    pub qst: Option<&'static str>,
    /// GST number (none for the server administrator).
    pub gst: Option<&'static str>,
    /// File numbers and their sectors.
    pub files: &'static [(&'static str, Sector)],
    /// Authorization codes and their sectors (for a server administrator, the sector each
    /// FOB code administers).
    pub codes: &'static [(&'static str, Sector)],
}

impl PublishedOperator {
    /// The authorization code for `sector`.
    pub fn code(&self, sector: Sector) -> Option<&'static str> {
        self.codes
            .iter()
            .find(|(_, s)| *s == sector)
            .map(|(c, _)| *c)
    }

    /// The file number for `sector`.
    pub fn file(&self, sector: Sector) -> Option<&'static str> {
        self.files
            .iter()
            .find(|(_, s)| *s == sector)
            .map(|(f, _)| *f)
    }

    /// The identification number (CN), typed.
    pub fn id(&self) -> IdentificationNumber {
        self.identification_number
            .parse()
            .expect("the published identification numbers are valid (tested)")
    }

    /// The QST number, typed (none for the server administrator).
    pub fn qst_number(&self) -> Option<QstNumber> {
        self.qst.map(|q| {
            q.parse()
                .expect("the published QST numbers are valid (tested)")
        })
    }

    /// The subject an SRS of this operator sends for `sector` in the SRS mode, named `nickname`,
    /// on Eastern time: its code, QST number and file number for that sector. `None` when the
    /// operator has no QST number, or no code or file for `sector`.
    pub fn srs_subject(&self, sector: Sector, nickname: Nickname) -> Option<Subject> {
        let code: AuthorizationCode = self.code(sector)?.parse().ok()?;
        let file_number: FileNumber = self.file(sector)?.parse().ok()?;
        let subject = SrsSubject::new(SrsSubjectFields {
            identification_number: self.id(),
            sector,
            authorization_code: code,
            nickname,
            qst_number: self.qst_number()?,
            file_number,
            utc_offset: UtcOffset::EASTERN,
        })
        .ok()?;
        Some(Subject::Srs(subject))
    }
}

/// The first operator, Michel Untel enr.: a restaurant and a taxi.
pub const MICHEL_UNTEL: PublishedOperator = PublishedOperator {
    identification_number: "5678912340",
    legal_name: "Michel Untel enr.",
    qst: Some("5678912340TQ0001"),
    gst: Some("567891234RT0001"),
    files: &[
        ("ER0001", Sector::Restaurant),
        ("TR0001", Sector::Transport),
    ],
    codes: &[
        ("D8T8-W8W8", Sector::Restaurant),
        ("58T8-W8W8", Sector::Transport),
    ],
};

/// The second operator, Express Taxe. The guide gives it both files but no legible code: the
/// codes are websrm's.
pub const EXPRESS_TAXE: PublishedOperator = PublishedOperator {
    identification_number: "1234567890",
    legal_name: "Express Taxe",
    qst: Some("1234567890TQ0001"),
    gst: Some("123456789RT0001"),
    files: &[
        ("ER0001", Sector::Restaurant),
        ("TR0001", Sector::Transport),
    ],
    codes: &[
        ("W7V7-K8W9", Sector::Restaurant),
        ("X7V7-K8W9", Sector::Transport),
    ],
};

/// The remote server's administrator: one server code per sector administered, `B8T8-W8W8`
/// for restaurants and `A8T8-W8W8` for transportation.
pub const SERVER_ADMINISTRATOR: PublishedOperator = PublishedOperator {
    identification_number: "3601837200",
    legal_name: "Administrateur du serveur",
    qst: None,
    gst: None,
    files: &[],
    codes: &[
        ("B8T8-W8W8", Sector::Restaurant),
        ("A8T8-W8W8", Sector::Transport),
    ],
};

/// The operators of the test data.
pub const OPERATORS: [PublishedOperator; 3] = [MICHEL_UNTEL, EXPRESS_TAXE, SERVER_ADMINISTRATOR];

/// The test product: IDPARTN, IDSEV, IDVERSI, CODCERTIF, VERSI, VERSIPARN.
pub const TEST_PRODUCT: [&str; 6] = [
    "0000000000000001",
    "0000000000000002",
    "0000000000000003",
    "FOB201999999",
    "1.0.0",
    "0",
];

/// The test product, typed.
pub fn test_product() -> crate::ProductIdentity {
    let [partner, srs, version_id, code, version, parent] = TEST_PRODUCT;
    let valid = "the published test product is valid (tested)";
    crate::ProductIdentity::new(
        partner.parse().expect(valid),
        srs.parse().expect(valid),
        version_id.parse().expect(valid),
        code.parse().expect(valid),
        version.parse().expect(valid),
        parent.parse().expect(valid),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GstNumber;

    /// Every value of the test data has its type's form.
    #[test]
    fn every_published_value_parses() {
        for op in OPERATORS {
            assert!(
                op.identification_number
                    .parse::<IdentificationNumber>()
                    .is_ok()
            );
            assert!(op.qst.is_none_or(|q| q.parse::<QstNumber>().is_ok()));
            assert!(op.gst.is_none_or(|g| g.parse::<GstNumber>().is_ok()));
            for (file, _) in op.files {
                assert!(file.parse::<FileNumber>().is_ok(), "{file}");
            }
            for (code, _) in op.codes {
                assert!(code.parse::<AuthorizationCode>().is_ok(), "{code}");
            }
        }
        assert_eq!(MICHEL_UNTEL.code(Sector::Transport), Some("58T8-W8W8"));
        assert_eq!(EXPRESS_TAXE.file(Sector::Restaurant), Some("ER0001"));
        assert_eq!(SERVER_ADMINISTRATOR.file(Sector::Restaurant), None);
        assert_eq!(test_product().version.as_str(), TEST_PRODUCT[4]);
    }

    /// Each operator with a QST number has an SRS subject for each of its sectors; the server
    /// administrator, who has none, has no SRS subject.
    #[test]
    fn srs_subjects_are_made_for_the_operators_and_sectors_that_have_one() {
        let nickname: Nickname = "Caisse 1".parse().unwrap();
        for op in [MICHEL_UNTEL, EXPRESS_TAXE] {
            for sector in [Sector::Restaurant, Sector::Transport] {
                let Some(Subject::Srs(subject)) = op.srs_subject(sector, nickname.clone()) else {
                    panic!("{} has an SRS subject for {sector:?}", op.legal_name);
                };
                assert_eq!(subject.identification_number(), &op.id());
                assert_eq!(subject.sector(), sector);
            }
        }
        assert_eq!(
            SERVER_ADMINISTRATOR.srs_subject(Sector::Restaurant, nickname),
            None
        );
    }
}
