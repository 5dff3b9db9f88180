//! CSR subjects: both shapes, their attribute order, and every finding.

use websrm_domain::published::MICHEL_UNTEL;
use websrm_domain::*;

fn srs_raw() -> Vec<(Attribute, &'static str)> {
    vec![
        (Attribute::CommonName, MICHEL_UNTEL.identification_number),
        (Attribute::Organization, "RBC-D8T8-W8W8"),
        (Attribute::Surname, "Certificat A"),
        (Attribute::OrganizationalUnit, "5678912340TQ0001"),
        (Attribute::GivenName, "ER0001"),
        (Attribute::Locality, "-05:00"),
        (Attribute::State, "QC"),
        (Attribute::Country, "CA"),
    ]
}

fn server_raw() -> Vec<(Attribute, &'static str)> {
    vec![
        (Attribute::CommonName, "3601837200"),
        (Attribute::Organization, "FOB-B8T8-W8W8"),
        (Attribute::Surname, "Certificat du serveur"),
        (Attribute::Locality, "+01:00"),
        (Attribute::State, "QC"),
        (Attribute::Country, "CA"),
    ]
}

fn raw(values: &[(Attribute, &str)]) -> RawSubject {
    let mut raw = RawSubject::new();
    for (a, v) in values {
        raw.push(*a, *v);
    }
    raw
}

fn with(
    mut values: Vec<(Attribute, &'static str)>,
    attribute: Attribute,
    value: Option<&'static str>,
) -> RawSubject {
    match (values.iter().position(|(a, _)| *a == attribute), value) {
        (Some(i), Some(v)) => values[i].1 = v,
        (Some(i), None) => {
            values.remove(i);
        }
        (None, Some(v)) => values.push((attribute, v)),
        (None, None) => {}
    }
    raw(&values)
}

fn findings(raw: &RawSubject) -> Vec<SubjectFinding> {
    Subject::from_attributes(raw).expect_err("subject should be rejected")
}

#[test]
fn srs_subject_reads_and_writes_in_order() {
    let subject = Subject::from_attributes(&raw(&srs_raw())).expect("valid SRS subject");
    let Subject::Srs(srs) = &subject else {
        panic!("SRS shape expected")
    };
    assert_eq!(srs.sector(), Sector::Restaurant);
    assert_eq!(srs.file_number().as_str(), "ER0001");
    assert_eq!(subject.qst_number().unwrap().as_str(), "5678912340TQ0001");
    let written: Vec<(Attribute, String)> = subject.attributes();
    let expected: Vec<(Attribute, String)> = srs_raw()
        .into_iter()
        .map(|(a, v)| (a, v.to_owned()))
        .collect();
    assert_eq!(written, expected);
}

#[test]
fn server_subject_has_no_ou_and_no_gn() {
    let subject = Subject::from_attributes(&raw(&server_raw())).expect("valid server subject");
    assert!(matches!(subject, Subject::Server(_)));
    assert_eq!(subject.sector(), Sector::Server);
    assert_eq!(subject.file_number(), None);
    let order: Vec<&str> = subject
        .attributes()
        .iter()
        .map(|(a, _)| a.short_name())
        .collect();
    assert_eq!(order, ["CN", "O", "SN", "L", "ST", "C"]);
    assert_eq!(subject.utc_offset().to_string(), "+01:00");
}

#[test]
fn surname_and_given_name_have_their_own_oids() {
    assert_eq!(Attribute::Surname.oid(), &[2, 5, 4, 4]);
    assert_eq!(Attribute::GivenName.oid(), &[2, 5, 4, 42]);
    assert_eq!(
        Attribute::from_oid(&[2, 5, 4, 5]),
        None,
        "serialNumber is not SN"
    );
    for a in Attribute::ALL {
        assert_eq!(Attribute::from_oid(a.oid()), Some(a));
    }
}

#[test]
fn every_srs_finding() {
    use Attribute::*;
    use SubjectFinding::*;
    let cases: Vec<(Attribute, Option<&'static str>, SubjectFinding)> = vec![
        (CommonName, None, CommonNameMissing),
        (CommonName, Some("567891234X"), CommonNameInvalid),
        (Organization, Some("RBC-D8T8W8W8"), OrganizationInvalid),
        (Organization, Some("XYZ-D8T8-W8W8"), OrganizationInvalid),
        (Organization, None, OrganizationInvalid),
        (Surname, None, SurnameMissing),
        (Surname, Some("Court"), NicknameInvalid),
        (OrganizationalUnit, None, OrganizationalUnitMissing),
        (
            OrganizationalUnit,
            Some("5678912340RT0001"),
            QstNumberInvalid,
        ),
        (GivenName, None, GivenNameMissing),
        (GivenName, Some("E10001"), FileNumberInvalid),
        (Locality, Some("+01:00"), SrsLocalityInvalid),
        (Locality, None, SrsLocalityInvalid),
        (State, Some("ON"), StateInvalid),
        (Country, Some("US"), CountryInvalid),
        (
            OrganizationalUnit,
            Some("1234567890TQ0001"),
            CommonNameNotQstPrefix,
        ),
    ];
    for (attribute, value, finding) in cases {
        let f = findings(&with(srs_raw(), attribute, value));
        assert_eq!(f, [finding], "{attribute:?} = {value:?}");
    }
}

#[test]
fn every_server_finding() {
    use Attribute::*;
    use SubjectFinding::*;
    assert_eq!(
        findings(&with(
            server_raw(),
            OrganizationalUnit,
            Some("3601837200TQ0001")
        )),
        [OrganizationalUnitForbidden]
    );
    assert_eq!(
        findings(&with(server_raw(), GivenName, Some("ER0001"))),
        [GivenNameForbidden]
    );
    assert_eq!(
        findings(&with(server_raw(), Locality, Some("EST"))),
        [ServerLocalityInvalid]
    );
    assert_eq!(
        findings(&with(server_raw(), Locality, None)),
        [ServerLocalityInvalid]
    );
}

#[test]
fn a_repeated_attribute_is_a_defect_of_that_attribute() {
    let mut values = srs_raw();
    values.push((Attribute::Surname, "Certificat B"));
    let raw = raw(&values);
    assert_eq!(raw.count(Attribute::Surname), 2);
    assert_eq!(findings(&raw), [SubjectFinding::SurnameMissing]);
}

#[test]
fn several_defects_are_all_reported_in_attribute_order() {
    let raw = raw(&[
        (Attribute::Organization, "RBC-D8T8-W8W8"),
        (Attribute::State, "QC"),
    ]);
    assert_eq!(
        findings(&raw),
        [
            SubjectFinding::CommonNameMissing,
            SubjectFinding::SurnameMissing,
            SubjectFinding::OrganizationalUnitMissing,
            SubjectFinding::GivenNameMissing,
            SubjectFinding::SrsLocalityInvalid,
            SubjectFinding::CountryInvalid,
        ]
    );
}

#[test]
fn srs_subject_constructor_enforces_cross_field_rules() {
    let fields = SrsSubjectFields {
        identification_number: MICHEL_UNTEL.id(),
        sector: Sector::Transport,
        authorization_code: "58T8-W8W8".parse().unwrap(),
        nickname: "Taxi 42 de Michel".parse().unwrap(),
        qst_number: "5678912340TQ0001".parse().unwrap(),
        file_number: "TR0001".parse().unwrap(),
        utc_offset: UtcOffset::EASTERN,
    };
    let ok = SrsSubject::new(fields.clone()).expect("valid");
    assert_eq!(Subject::Srs(ok).attributes()[1].1, "TRP-58T8-W8W8");
    let wrong_cn = SrsSubjectFields {
        identification_number: "1234567890".parse().unwrap(),
        ..fields.clone()
    };
    assert_eq!(
        SrsSubject::new(wrong_cn),
        Err(SubjectFinding::CommonNameNotQstPrefix)
    );
    let wrong_offset = SrsSubjectFields {
        utc_offset: UtcOffset::from_minutes(60).unwrap(),
        ..fields.clone()
    };
    assert_eq!(
        SrsSubject::new(wrong_offset),
        Err(SubjectFinding::SrsLocalityInvalid)
    );
    let server_sector = SrsSubjectFields {
        sector: Sector::Server,
        ..fields
    };
    assert_eq!(
        SrsSubject::new(server_sector),
        Err(SubjectFinding::OrganizationalUnitForbidden)
    );
}

#[test]
fn organization_round_trips() {
    let o: Organization = "trp-58t8-w8w8".parse().unwrap();
    assert_eq!(o.to_string(), "TRP-58T8-W8W8");
    assert!("RBC".parse::<Organization>().is_err());
}
