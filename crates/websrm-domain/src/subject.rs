//! The subject of a WEB-SRM certificate request, in its two shapes, with the rules between its
//! attributes.

use std::fmt;
use std::str::FromStr;

use crate::certificate::{Nickname, UtcOffset};
use crate::error::{Kind, ParseError};
use crate::operator::{AuthorizationCode, FileNumber, IdentificationNumber, QstNumber, Sector};

/// One attribute of a WEB-SRM subject, in the order a CSR must list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Attribute {
    /// CN (2.5.4.3): the identification number.
    CommonName,
    /// O (2.5.4.10): sector, `-`, authorization code.
    Organization,
    /// SN (2.5.4.4, **surname**, never serialNumber 2.5.4.5): the nickname.
    Surname,
    /// OU (2.5.4.11): the QST number (operator's SRS only).
    OrganizationalUnit,
    /// GN (2.5.4.42, givenName): the file number (operator's SRS only).
    GivenName,
    /// L (2.5.4.7): the standard UTC offset.
    Locality,
    /// ST (2.5.4.8): `QC`.
    State,
    /// C (2.5.4.6): `CA`.
    Country,
}

impl Attribute {
    /// Every attribute, in CSR order.
    pub const ALL: [Self; 8] = [
        Self::CommonName,
        Self::Organization,
        Self::Surname,
        Self::OrganizationalUnit,
        Self::GivenName,
        Self::Locality,
        Self::State,
        Self::Country,
    ];

    /// The attribute's object identifier, as arcs.
    pub const fn oid(self) -> &'static [u64] {
        match self {
            Self::CommonName => &[2, 5, 4, 3],
            Self::Organization => &[2, 5, 4, 10],
            Self::Surname => &[2, 5, 4, 4],
            Self::OrganizationalUnit => &[2, 5, 4, 11],
            Self::GivenName => &[2, 5, 4, 42],
            Self::Locality => &[2, 5, 4, 7],
            Self::State => &[2, 5, 4, 8],
            Self::Country => &[2, 5, 4, 6],
        }
    }

    /// The attribute whose object identifier this is, if it is one of the eight.
    pub fn from_oid(arcs: &[u64]) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.oid() == arcs)
    }

    /// The short name the protocol documents use (`CN`, `O`, `SN`, `OU`, `GN`, `L`, `ST`, `C`).
    pub const fn short_name(self) -> &'static str {
        match self {
            Self::CommonName => "CN",
            Self::Organization => "O",
            Self::Surname => "SN",
            Self::OrganizationalUnit => "OU",
            Self::GivenName => "GN",
            Self::Locality => "L",
            Self::State => "ST",
            Self::Country => "C",
        }
    }
}

/// The ST value every subject carries.
pub const STATE_QC: &str = "QC";
/// The C value every subject carries.
pub const COUNTRY_CA: &str = "CA";

/// The O attribute: a sector and an authorization code, written `RBC-D8T8-W8W8`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Organization {
    /// The sector (`FOB` for a server administrator).
    pub sector: Sector,
    /// The authorization code.
    pub authorization_code: AuthorizationCode,
}

impl FromStr for Organization {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((sector, code)) = s.split_once('-') else {
            return Err(ParseError::OutOfRange {
                kind: Kind::Organization,
                reason: "expected a sector, '-' and an authorization code",
            });
        };
        Ok(Self {
            sector: sector.parse()?,
            authorization_code: code.parse()?,
        })
    }
}

impl fmt::Display for Organization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.sector, self.authorization_code)
    }
}

/// The subject of a certificate for an operator's SRS (tables 10 and 11 of the protocol).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SrsSubject {
    identification_number: IdentificationNumber,
    sector: Sector,
    authorization_code: AuthorizationCode,
    nickname: Nickname,
    qst_number: QstNumber,
    file_number: FileNumber,
    utc_offset: UtcOffset,
}

/// The fields of an operator's SRS subject, before the rules between them are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)] // A plain argument bundle: every field is required.
pub struct SrsSubjectFields {
    /// CN.
    pub identification_number: IdentificationNumber,
    /// The sector in O (`RBC` or `TRP`).
    pub sector: Sector,
    /// The authorization code in O.
    pub authorization_code: AuthorizationCode,
    /// SN.
    pub nickname: Nickname,
    /// OU.
    pub qst_number: QstNumber,
    /// GN.
    pub file_number: FileNumber,
    /// L (`-05:00` or `-04:00`).
    pub utc_offset: UtcOffset,
}

impl SrsSubject {
    /// Checks the rules between the fields: the sector is an SRS sector (not `FOB`), the
    /// offset is one an SRS may use, and the CN is the first 10 digits of the QST number.
    pub fn new(fields: SrsSubjectFields) -> Result<Self, SubjectFinding> {
        if fields.sector.is_server() {
            return Err(SubjectFinding::OrganizationalUnitForbidden);
        }
        if !fields.utc_offset.is_allowed_for_srs() {
            return Err(SubjectFinding::SrsLocalityInvalid);
        }
        if fields.qst_number.identification_number() != fields.identification_number {
            return Err(SubjectFinding::CommonNameNotQstPrefix);
        }
        Ok(Self {
            identification_number: fields.identification_number,
            sector: fields.sector,
            authorization_code: fields.authorization_code,
            nickname: fields.nickname,
            qst_number: fields.qst_number,
            file_number: fields.file_number,
            utc_offset: fields.utc_offset,
        })
    }

    /// CN.
    pub fn identification_number(&self) -> &IdentificationNumber {
        &self.identification_number
    }
    /// The sector in O.
    pub fn sector(&self) -> Sector {
        self.sector
    }
    /// The authorization code in O.
    pub fn authorization_code(&self) -> &AuthorizationCode {
        &self.authorization_code
    }
    /// SN.
    pub fn nickname(&self) -> &Nickname {
        &self.nickname
    }
    /// OU.
    pub fn qst_number(&self) -> &QstNumber {
        &self.qst_number
    }
    /// GN.
    pub fn file_number(&self) -> &FileNumber {
        &self.file_number
    }
    /// L.
    pub fn utc_offset(&self) -> UtcOffset {
        self.utc_offset
    }
}

/// The subject of a server administrator's certificate (table 9): no OU and no GN, sector `FOB`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerSubject {
    identification_number: IdentificationNumber,
    authorization_code: AuthorizationCode,
    nickname: Nickname,
    utc_offset: UtcOffset,
}

impl ServerSubject {
    /// A server administrator's subject; any UTC offset is allowed.
    pub fn new(
        identification_number: IdentificationNumber,
        authorization_code: AuthorizationCode,
        nickname: Nickname,
        utc_offset: UtcOffset,
    ) -> Self {
        Self {
            identification_number,
            authorization_code,
            nickname,
            utc_offset,
        }
    }

    /// CN.
    pub fn identification_number(&self) -> &IdentificationNumber {
        &self.identification_number
    }
    /// The authorization code in O (after `FOB-`).
    pub fn authorization_code(&self) -> &AuthorizationCode {
        &self.authorization_code
    }
    /// SN.
    pub fn nickname(&self) -> &Nickname {
        &self.nickname
    }
    /// L.
    pub fn utc_offset(&self) -> UtcOffset {
        self.utc_offset
    }
}

/// The subject of a WEB-SRM certificate request, in one of its two shapes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// An operator's SRS (including a back-office SRS).
    Srs(SrsSubject),
    /// A remote-server administrator.
    Server(ServerSubject),
}

impl Subject {
    /// CN.
    pub fn identification_number(&self) -> &IdentificationNumber {
        match self {
            Self::Srs(s) => &s.identification_number,
            Self::Server(s) => &s.identification_number,
        }
    }

    /// SN.
    pub fn nickname(&self) -> &Nickname {
        match self {
            Self::Srs(s) => &s.nickname,
            Self::Server(s) => &s.nickname,
        }
    }

    /// The authorization code in O.
    pub fn authorization_code(&self) -> &AuthorizationCode {
        match self {
            Self::Srs(s) => &s.authorization_code,
            Self::Server(s) => &s.authorization_code,
        }
    }

    /// The sector in O.
    pub fn sector(&self) -> Sector {
        match self {
            Self::Srs(s) => s.sector,
            Self::Server(_) => Sector::Server,
        }
    }

    /// The QST number (OU), for an SRS subject.
    pub fn qst_number(&self) -> Option<&QstNumber> {
        match self {
            Self::Srs(s) => Some(&s.qst_number),
            Self::Server(_) => None,
        }
    }

    /// The file number (GN), for an SRS subject.
    pub fn file_number(&self) -> Option<&FileNumber> {
        match self {
            Self::Srs(s) => Some(&s.file_number),
            Self::Server(_) => None,
        }
    }

    /// L.
    pub fn utc_offset(&self) -> UtcOffset {
        match self {
            Self::Srs(s) => s.utc_offset,
            Self::Server(s) => s.utc_offset,
        }
    }

    /// The attributes with their text values, in the order a CSR must carry them:
    /// CN, O, SN, OU, GN, L, ST, C for an SRS and CN, O, SN, L, ST, C for a server.
    pub fn attributes(&self) -> Vec<(Attribute, String)> {
        let organization = format!("{}-{}", self.sector(), self.authorization_code());
        let mut out = vec![
            (
                Attribute::CommonName,
                self.identification_number().to_string(),
            ),
            (Attribute::Organization, organization),
            (Attribute::Surname, self.nickname().to_string()),
        ];
        if let Self::Srs(s) = self {
            out.push((Attribute::OrganizationalUnit, s.qst_number.to_string()));
            out.push((Attribute::GivenName, s.file_number.to_string()));
        }
        out.push((Attribute::Locality, self.utc_offset().to_string()));
        out.push((Attribute::State, STATE_QC.to_owned()));
        out.push((Attribute::Country, COUNTRY_CA.to_owned()));
        out
    }

    /// Reads a subject from the attribute values found in a CSR, reporting every defect.
    ///
    /// The shape is chosen from O: `FOB-…` is a server administrator's, anything else an
    /// operator's SRS. Findings come in the order CN, O, SN, OU, GN, L, ST, C, then the rules
    /// between attributes.
    pub fn from_attributes(raw: &RawSubject) -> Result<Self, Vec<SubjectFinding>> {
        let mut findings = Vec::new();
        let mut note = |finding| findings.push(finding);

        let cn = match raw.get(Attribute::CommonName) {
            None => {
                note(SubjectFinding::CommonNameMissing);
                None
            }
            Some(v) => v
                .parse::<IdentificationNumber>()
                .map_err(|_| note(SubjectFinding::CommonNameInvalid))
                .ok(),
        };
        let organization = raw
            .get(Attribute::Organization)
            .and_then(|v| v.parse::<Organization>().ok());
        if organization.is_none() {
            note(SubjectFinding::OrganizationInvalid);
        }
        let server = match &organization {
            Some(o) => o.sector.is_server(),
            None => raw
                .get(Attribute::Organization)
                .is_some_and(|o| o.to_ascii_uppercase().starts_with("FOB-")),
        };
        let nickname = match raw.get(Attribute::Surname) {
            None => {
                note(SubjectFinding::SurnameMissing);
                None
            }
            Some(v) => v
                .parse::<Nickname>()
                .map_err(|_| note(SubjectFinding::NicknameInvalid))
                .ok(),
        };
        let (qst, file) = if server {
            if raw.get(Attribute::OrganizationalUnit).is_some() {
                note(SubjectFinding::OrganizationalUnitForbidden);
            }
            if raw.get(Attribute::GivenName).is_some() {
                note(SubjectFinding::GivenNameForbidden);
            }
            (None, None)
        } else {
            let qst = match raw.get(Attribute::OrganizationalUnit) {
                None => {
                    note(SubjectFinding::OrganizationalUnitMissing);
                    None
                }
                Some(v) => v
                    .parse::<QstNumber>()
                    .map_err(|_| note(SubjectFinding::QstNumberInvalid))
                    .ok(),
            };
            let file = match raw.get(Attribute::GivenName) {
                None => {
                    note(SubjectFinding::GivenNameMissing);
                    None
                }
                Some(v) => v
                    .parse::<FileNumber>()
                    .map_err(|_| note(SubjectFinding::FileNumberInvalid))
                    .ok(),
            };
            (qst, file)
        };
        let offset = raw
            .get(Attribute::Locality)
            .and_then(|v| v.parse::<UtcOffset>().ok());
        let offset = match (server, offset) {
            (true, None) => {
                note(SubjectFinding::ServerLocalityInvalid);
                None
            }
            (false, o) if !o.is_some_and(UtcOffset::is_allowed_for_srs) => {
                note(SubjectFinding::SrsLocalityInvalid);
                None
            }
            (_, o) => o,
        };
        // Values are compared without regard to case (the reference: unless stated).
        if !raw
            .get(Attribute::State)
            .is_some_and(|v| v.eq_ignore_ascii_case(STATE_QC))
        {
            note(SubjectFinding::StateInvalid);
        }
        if !raw
            .get(Attribute::Country)
            .is_some_and(|v| v.eq_ignore_ascii_case(COUNTRY_CA))
        {
            note(SubjectFinding::CountryInvalid);
        }
        if let (Some(cn), Some(qst)) = (&cn, &qst)
            && &qst.identification_number() != cn
        {
            note(SubjectFinding::CommonNameNotQstPrefix);
        }

        match (cn, organization, nickname, offset) {
            (Some(cn), Some(o), Some(nickname), Some(offset)) if findings.is_empty() => {
                if server {
                    Ok(Self::Server(ServerSubject::new(
                        cn,
                        o.authorization_code,
                        nickname,
                        offset,
                    )))
                } else if let (Some(qst_number), Some(file_number)) = (qst, file) {
                    Ok(Self::Srs(SrsSubject {
                        identification_number: cn,
                        sector: o.sector,
                        authorization_code: o.authorization_code,
                        nickname,
                        qst_number,
                        file_number,
                        utc_offset: offset,
                    }))
                } else {
                    Err(vec![SubjectFinding::OrganizationalUnitMissing])
                }
            }
            _ => Err(findings),
        }
    }
}

/// The attribute values of a subject as found in a CSR, before they are checked.
///
/// Each attribute holds every value found for it, in order; anything but exactly one value is
/// a defect of that attribute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawSubject {
    values: Vec<(Attribute, String)>,
    /// Attributes of other types found in the subject, by dotted OID.
    pub others: Vec<String>,
}

impl RawSubject {
    /// An empty subject.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a value of `attribute`, in the order found.
    pub fn push(&mut self, attribute: Attribute, value: impl Into<String>) {
        self.values.push((attribute, value.into()));
    }

    /// The value of `attribute` if it occurs exactly once.
    pub fn get(&self, attribute: Attribute) -> Option<&str> {
        let mut found = self.values.iter().filter(|(a, _)| *a == attribute);
        match (found.next(), found.next()) {
            (Some((_, v)), None) => Some(v),
            _ => None,
        }
    }

    /// How many values of `attribute` were found.
    pub fn count(&self, attribute: Attribute) -> usize {
        self.values.iter().filter(|(a, _)| *a == attribute).count()
    }

    /// The attributes in the order found.
    pub fn order(&self) -> impl Iterator<Item = Attribute> + '_ {
        self.values.iter().map(|(a, _)| *a)
    }
}

/// A defect of a CSR subject, as the authority reports it.
///
/// Each variant's documentation names the WEB-SRM error id it corresponds to; the table that
/// maps findings to ids lives with the CSR validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubjectFinding {
    /// CN is missing (470E).
    CommonNameMissing,
    /// CN is not a 10-digit identification number (470E).
    CommonNameInvalid,
    /// O is not `SECTOR-X9X9-X9X9` (429E).
    OrganizationInvalid,
    /// SN (surname) is missing (610E).
    SurnameMissing,
    /// SN is not 8–32 characters of the WEB-SRM alphabet (420E).
    NicknameInvalid,
    /// OU is missing although O carries an SRS code (604E).
    OrganizationalUnitMissing,
    /// OU is not a QST number (430E).
    QstNumberInvalid,
    /// OU is present although O carries a server code (611E).
    OrganizationalUnitForbidden,
    /// GN is missing although O carries an SRS code (612E).
    GivenNameMissing,
    /// GN is not a file number `AA9999` (615E).
    FileNumberInvalid,
    /// GN is present although O carries a server code (613E).
    GivenNameForbidden,
    /// L of an SRS subject is not `-05:00` or `-04:00` (437E).
    SrsLocalityInvalid,
    /// L of a server subject is not a UTC offset `-99:99` (431E).
    ServerLocalityInvalid,
    /// ST is not `QC` (432E).
    StateInvalid,
    /// C is not `CA` (433E).
    CountryInvalid,
    /// CN is not the first 10 digits of the QST number in OU (616E).
    CommonNameNotQstPrefix,
}
