//! The catalogue of WEB-SRM certificate errors: one table of every error id the certificate
//! services emit, with its `codRetour`, the condition, and the message in French (the protocol's
//! language) and English. The authority answers from it; the client explains with it.

use websrm_domain::{ErrorId, ReturnCode};

/// One error of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CatalogueEntry {
    /// Its name.
    pub code: ErrorCode,
    /// The three distinguishing digits of the id (`421` for `JW00B999421E`).
    pub number: u16,
    /// The `codRetour`, if the error has one.
    pub return_code: Option<u8>,
    /// When the error is returned.
    pub condition: &'static str,
    /// The message in French, with `{0}`, `{1}` placeholders.
    pub french: &'static str,
    /// The message in English, with the same placeholders.
    pub english: &'static str,
}

impl CatalogueEntry {
    /// The error id.
    pub fn id(&self) -> ErrorId {
        self.code.id()
    }

    /// The `codRetour`.
    pub fn return_code(&self) -> Option<ReturnCode> {
        self.return_code.and_then(ReturnCode::new)
    }

    /// Whether WEB-SRM follows this error with the companion `JW00B999999E` ("contact your
    /// retailer"): websrm adds it after every error caused by the SRS software (`codRetour` 9x)
    /// and after unexpected errors, where the user can do nothing but call for help.
    pub fn has_companion(&self) -> bool {
        matches!(self.return_code, Some(90..=99) | Some(0))
    }

    /// The French message with `args` in place of `{0}`, `{1}`…, cut to the protocol's 128
    /// characters.
    pub fn french_with(&self, args: &[&str]) -> String {
        fill(self.french, args)
    }

    /// The English message with `args` in place of `{0}`, `{1}`….
    pub fn english_with(&self, args: &[&str]) -> String {
        fill(self.english, args)
    }
}

/// `template` with `args` in place of `{0}`, `{1}`…; a placeholder with no value is left out
/// (with the space before it), so that no message ever shows a raw `{n}`.
fn fill(template: &str, args: &[&str]) -> String {
    let mut text = String::with_capacity(template.len() + 40);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let Ok(index) = rest[start + 1..start + len].parse::<usize>() else {
            text.push_str(&rest[..=start]);
            rest = &rest[start + 1..];
            continue;
        };
        match args.get(index) {
            Some(arg) => {
                text.push_str(&rest[..start]);
                text.push_str(arg);
            }
            None => text.push_str(rest[..start].strip_suffix(' ').unwrap_or(&rest[..start])),
        }
        rest = &rest[start + len + 1..];
    }
    text.push_str(rest);
    text.chars().take(128).collect()
}

/// The values that `template` (with `{0}`, `{1}`… placeholders) had when it gave `message`,
/// if `message` is that template filled: the English text of a French message is the English
/// template filled with the same values.
pub fn values_in(template: &str, message: &str) -> Option<Vec<String>> {
    // The literal pieces between placeholders, and the placeholder numbers in order.
    let mut pieces = Vec::new();
    let mut order = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = start + rest[start..].find('}')?;
        let index: usize = rest[start + 1..end].parse().ok()?;
        pieces.push(&rest[..start]);
        order.push(index);
        rest = &rest[end + 1..];
    }
    pieces.push(rest);
    let mut message = message.strip_prefix(pieces[0])?;
    let mut values = vec![String::new(); order.iter().max().map_or(0, |m| m + 1)];
    for (i, index) in order.iter().enumerate() {
        let next = pieces[i + 1];
        let at = if next.is_empty() {
            message.len()
        } else {
            message.find(next)?
        };
        values[*index] = message[..at].to_owned();
        message = &message[at + next.len()..];
    }
    message.is_empty().then_some(values)
}

/// The English message of an error the authority sent in French: the catalogue's English
/// text with the values read from the French one. When the French text is not the
/// catalogue's (another authority's wording), the English text leaves the values out.
pub fn english_for(id: ErrorId, french: &str) -> Option<String> {
    let entry = lookup(id)?;
    let values = values_in(entry.french, french).unwrap_or_default();
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    Some(entry.english_with(&values))
}

macro_rules! catalogue {
    ($($name:ident = $n:literal, $code:expr, $cond:literal, $fr:literal, $en:literal;)*) => {
        /// Every error of the catalogue, by name: an id that is not in the catalogue cannot be
        /// written. Each variant's documentation is the condition that returns it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(
                #[doc = $cond]
                $name,
            )*
        }

        /// Every certificate-related error, in the catalogue's order. The last entry is the
        /// companion message.
        pub static CATALOGUE: &[CatalogueEntry] = &[$(
            CatalogueEntry {
                code: ErrorCode::$name,
                number: $n,
                return_code: $code,
                condition: $cond,
                french: $fr,
                english: $en,
            },
        )*];

        impl ErrorCode {
            /// Every error, in the catalogue's order.
            pub const ALL: &'static [Self] = &[$(Self::$name),*];

            /// Its number, the three distinguishing digits of the id.
            pub const fn number(self) -> u16 {
                match self {
                    $(Self::$name => $n,)*
                }
            }
        }
    };
}

impl ErrorCode {
    /// Its catalogue entry.
    pub fn entry(self) -> &'static CatalogueEntry {
        &CATALOGUE[self as usize]
    }

    /// Its id, `JW00B999nnnE`.
    pub fn id(self) -> ErrorId {
        // Every number of the catalogue is a valid id (checked by the catalogue's tests).
        ErrorId::new(self.number()).unwrap_or(ErrorId::CONTACT_RETAILER)
    }

    /// The error with this id, if the catalogue has it.
    pub fn from_id(id: ErrorId) -> Option<Self> {
        lookup(id).map(|e| e.code)
    }
}

/// The entry for `id`, if the catalogue has it.
pub fn lookup(id: ErrorId) -> Option<&'static CatalogueEntry> {
    CATALOGUE.iter().find(|e| e.number == id.number())
}

catalogue! {
    CertificationCodeProd = 0, Some(94),
        "CODCERTIF missing or not a certification code valid in PROD",
        "Le code de certification {0} est absent ou invalide pour la production.",
        "The certification code {0} is missing or not valid in production.";
    SrsIdUnknown = 1, Some(94),
        "IDSEV missing or unknown",
        "L'identifiant du SEV {0} est absent ou inconnu.",
        "The SRS identifier {0} is missing or unknown.";
    VersionUnknown = 2, Some(94),
        "IDPARTN, IDSEV and IDVERSI do not designate one SRS version",
        "IDPARTN, IDSEV et IDVERSI ne désignent pas une version de SEV connue.",
        "IDPARTN, IDSEV and IDVERSI do not designate a known SRS version.";
    PartnerIdUnknown = 3, Some(94),
        "IDPARTN missing or unknown",
        "L'identifiant du partenaire {0} est absent ou inconnu.",
        "The partner identifier {0} is missing or unknown.";
    CertificateRevoked = 11, Some(12),
        "the certificate used to authenticate is revoked",
        "Le certificat {0} utilisé pour l'authentification est révoqué.",
        "The certificate {0} used for authentication is revoked.";
    EnvironmentNotConformity = 12, Some(94),
        "ENVIRN is not DEV or ESSAI on the conformity service",
        "L'environnement {0} ne correspond pas au service de conformité (DEV ou ESSAI).",
        "The environment {0} does not match the conformity service (DEV or ESSAI).";
    TestCaseUnknown = 13, Some(94),
        "CASESSAI is not a test case of the product, or is malformed",
        "Le cas d'essai {0} n'existe pas pour ce produit.",
        "The test case {0} does not exist for this product.";
    TestCaseWrongRequestType = 15, Some(94),
        "CASESSAI does not belong to a test case of the request type of the URL",
        "Le cas d'essai {0} ne correspond pas au type de requête de l'adresse.",
        "The test case {0} does not match the request type of the URL.";
    CertificationCodeConformity = 25, Some(94),
        "CODCERTIF not valid in DEV or ESSAI",
        "Le code de certification {0} est invalide pour l'environnement {1}.",
        "The certification code {0} is not valid in the {1} environment.";
    EnvironmentNotProduction = 37, Some(94),
        "ENVIRN is not PROD on the production service",
        "L'environnement {0} ne correspond pas au service de production.",
        "The environment {0} does not match the production service.";
    VersionNotCertified = 41, Some(94),
        "IDVERSI all zeros, and no version of the SRS was ever certified",
        "Aucune version du SEV {0} n'est certifiée.",
        "No version of SRS {0} is certified.";
    VersionHeadersMismatch = 42, Some(94),
        "IDPARTN, IDSEV, IDVERSI, CODCERTIF, VERSI and VERSIPARN do not designate one SRS version",
        "Les en-têtes de version ({0}) ne désignent pas une même version de SEV.",
        "The version headers ({0}) do not designate one SRS version.";
    DeviceIdUnknown = 47, Some(94),
        "IDAPPRL unknown, or 0000-0000-0000 outside the enrolment URL",
        "L'identifiant de l'appareil {0} est inconnu ou n'est pas permis pour cette requête.",
        "The device identifier {0} is unknown or not allowed for this request.";
    VersionIdZeroInEssai = 48, Some(94),
        "IDVERSI all zeros in ESSAI",
        "Un IDVERSI formé de zéros n'est pas permis dans l'environnement ESSAI.",
        "An all-zero IDVERSI is not allowed in the ESSAI environment.";
    DeviceIdForbiddenForServer = 61, Some(94),
        "IDAPPRL present on a request initiated by a remote server",
        "L'identifiant de l'appareil doit être absent quand un serveur initie la requête.",
        "The device identifier must be absent when a server initiates the request.";
    AuthorizationCodeSuperseded = 69, Some(14),
        "the authorization code was superseded by a newer one",
        "Le code d'autorisation a été remplacé par un code plus récent.",
        "The authorization code was replaced by a newer code.";
    Unexpected = 100, Some(0),
        "unexpected error of the service",
        "Erreur inattendue du MEV-WEB. Veuillez réessayer plus tard.",
        "Unexpected WEB-SRM error. Please try again later.";
    NotJson = 200, Some(91),
        "the body is not JSON",
        "La syntaxe JSON de la requête n'est pas reconnue.",
        "The JSON syntax of the request is not recognized.";
    ModifMissing = 304, Some(95),
        "reqCertif lacks modif; {0} the parent, {1} the field",
        "Un champ est absent : {0}/{1}.",
        "A field is missing: {0}/{1}.";
    SerialForbiddenOnEnrolment = 309, Some(95),
        "noSerie present on the enrolment URL",
        "Le champ noSerie n'est pas permis pour un ajout de certificat.",
        "The noSerie field is not allowed when adding a certificate.";
    ReplaceWithoutCsr = 310, Some(95),
        "REM without csr",
        "Le champ csr est obligatoire pour un remplacement de certificat.",
        "The csr field is required to replace a certificate.";
    DeleteWithCsr = 311, Some(95),
        "SUP with csr",
        "Le champ csr n'est pas permis pour une suppression de certificat.",
        "The csr field is not allowed when deleting a certificate.";
    HeaderRepeated = 313, Some(94),
        "a header is repeated",
        "L'en-tête {0} est répété.",
        "The header {0} is repeated.";
    TopLevelFieldNotAllowed = 314, Some(95),
        "a top-level field other than the service's (reqCertif, reqTrans); {0} the service, {1} the field",
        "Le champ suivant est inconnu ou n'est pas au bon endroit : {0}/{1}.",
        "The following field is unknown or misplaced: {0}/{1}.";
    RequestMissing = 315, Some(95),
        "the service's top-level field (reqCertif, reqTrans) is missing; {0} the service, {1} the field",
        "Le champ suivant est absent : {0}/{1}.",
        "The following field is missing: {0}/{1}.";
    RequestRepeated = 316, Some(95),
        "the service's top-level field appears more than once; {0} the service, {1} the field",
        "Un champ parent ne peut pas être présent plus d'une fois : {0}/{1}.",
        "A parent field cannot be present more than once: {0}/{1}.";
    TransactionRequestEmpty = 317, Some(95),
        "reqTrans holds neither transActu nor transLot",
        "Le champ parent reqTrans doit contenir au moins un champ sous-jacent (transActu ou transLot).",
        "The parent field reqTrans must hold at least one child field (transActu or transLot).";
    ChildFieldNotAllowed = 300, Some(95),
        "a field inside reqCertif or reqTrans that does not belong there; {0} the parent, {1} the field",
        "Un nom de champ sous-jacent est inconnu ou n'est pas au bon endroit : {0}/{1}.",
        "A child field name is unknown or misplaced: {0}/{1}.";
    ChildFieldRepeated = 306, Some(95),
        "a field inside reqCertif or reqTrans appears more than once; {0} the parent, {1} the field",
        "Un champ sous-jacent ne peut pas être présent plus d'une fois à chaque occurrence de ce champ : {0}/{1}.",
        "A child field cannot be present more than once in each occurrence of its parent: {0}/{1}.";
    CsrMissingOnEnrolment = 320, Some(95),
        "csr missing on the enrolment URL",
        "Le champ csr est obligatoire pour un ajout de certificat.",
        "The csr field is required to add a certificate.";
    ModifNotAdd = 321, Some(96),
        "modif other than AJO on the enrolment URL",
        "La valeur {0} de modif n'est pas permise pour un ajout de certificat (AJO attendu).",
        "The modif value {0} is not allowed to add a certificate (AJO expected).";
    SerialMissing = 322, Some(95),
        "noSerie missing on the certificates URL",
        "Le champ noSerie est obligatoire pour remplacer ou supprimer un certificat.",
        "The noSerie field is required to replace or delete a certificate.";
    ModifNotReplaceOrDelete = 323, Some(96),
        "modif other than REM or SUP on the certificates URL",
        "La valeur {0} de modif n'est pas permise (REM ou SUP attendu).",
        "The modif value {0} is not allowed (REM or SUP expected).";
    HeaderNotApplicable = 328, Some(94),
        "a header not applicable to the version used, or APPRLINIT missing or invalid",
        "L'en-tête {0} n'est pas applicable ou est invalide pour la version utilisée.",
        "The header {0} is not applicable or invalid for the version used.";
    VersionIdInvalid = 329, Some(94),
        "IDVERSI missing or invalid",
        "L'identifiant de la version {0} est absent ou invalide.",
        "The version identifier {0} is missing or invalid.";
    DeviceIdMissing = 401, Some(94),
        "IDAPPRL missing or malformed",
        "La valeur de l'identifiant de l'appareil est absente ou invalide.",
        "The device identifier value is missing or invalid.";
    NicknameInvalid = 420, Some(16),
        "the CSR's SN is not 8 to 32 allowed characters",
        "Le nom du certificat (SN) doit contenir de 8 à 32 caractères permis.",
        "The certificate name (SN) must have 8 to 32 allowed characters.";
    CsrInvalid = 421, Some(96),
        "csr is not Base64, not a valid CSR, or its signature does not verify",
        "Le champ csr n'est pas une demande de certificat valide encodée en Base64.",
        "The csr field is not a valid Base64-encoded certificate request.";
    OrganizationInvalid = 429, Some(16),
        "the CSR's O is not SECTOR-X9X9-X9X9",
        "L'organisation (O) doit être le secteur suivi du code d'autorisation (ex. RBC-X9X9-X9X9).",
        "The organisation (O) must be the sector followed by the authorization code (e.g. RBC-X9X9-X9X9).";
    QstNumberNotOperators = 430, Some(16),
        "the CSR's OU is not the operator's QST number",
        "L'unité (OU) doit être le numéro de TVQ de l'exploitant.",
        "The unit (OU) must be the operator's QST number.";
    ServerOffsetInvalid = 431, Some(96),
        "a server CSR's L is not a UTC offset",
        "La localité (L) doit être un décalage UTC de la forme -99:99.",
        "The locality (L) must be a UTC offset of the form -99:99.";
    StateInvalid = 432, Some(16),
        "the CSR's ST is not QC",
        "La province (ST) doit être QC.",
        "The province (ST) must be QC.";
    CountryInvalid = 433, Some(16),
        "the CSR's C is not CA",
        "Le pays (C) doit être CA.",
        "The country (C) must be CA.";
    SerialInvalid = 436, Some(96),
        "noSerie is not 40 hexadecimal digits",
        "Le numéro de série {0} doit contenir 40 caractères hexadécimaux.",
        "The serial number {0} must have 40 hexadecimal characters.";
    SrsOffsetInvalid = 437, Some(96),
        "an SRS CSR's L is not -04:00 or -05:00",
        "La localité (L) doit être -05:00 ou -04:00.",
        "The locality (L) must be -05:00 or -04:00.";
    IdentificationNumberUnknown = 470, Some(16),
        "the CSR's CN is missing or unknown",
        "Le numéro d'identification (CN) {0} est absent ou inconnu.",
        "The identification number (CN) {0} is missing or unknown.";
    TestCaseInProduction = 509, Some(94),
        "CASESSAI is not 000.000 in PROD",
        "Le cas d'essai doit être 000.000 en production.",
        "The test case must be 000.000 in production.";
    TestCaseProductionInEssai = 510, Some(94),
        "CASESSAI is 000.000 in ESSAI",
        "Le cas d'essai ne peut pas être 000.000 dans l'environnement ESSAI.",
        "The test case cannot be 000.000 in the ESSAI environment.";
    AuthorizationCodeNotOperators = 514, Some(14),
        "the authorization code does not belong to the CN, is unknown, not yet active, or locked out",
        "Le code d'autorisation n'appartient pas au numéro d'identification {0}.",
        "The authorization code does not belong to identification number {0}.";
    UnregisteredVersionCode = 518, Some(94),
        "IDVERSI all zeros with a certification code other than FOB or sector followed by nine zeros",
        "Avec un IDVERSI formé de zéros, le code de certification doit être FOB000000000 ou le secteur suivi de neuf zéros.",
        "With an all-zero IDVERSI, the certification code must be FOB000000000 or the sector followed by nine zeros.";
    NicknameInUse = 602, Some(16),
        "in PROD, the SN is already used by an in-force certificate of the operator",
        "Le nom du certificat {0} est déjà utilisé par un certificat en vigueur de l'exploitant.",
        "The certificate name {0} is already used by one of the operator's certificates in force.";
    QstNumberMissing = 604, Some(16),
        "OU missing for an SRS code",
        "L'unité (OU) est obligatoire pour un code d'autorisation de SEV.",
        "The unit (OU) is required for an SRS authorization code.";
    KeyLength = 605, Some(96),
        "the public key is not 256 bits",
        "La longueur de la clé publique doit être de 256 bits.",
        "The public key must be 256 bits long.";
    KeyAlgorithm = 606, Some(96),
        "the key algorithm is not ECDSA",
        "L'algorithme de la clé publique doit être ECDSA.",
        "The public key algorithm must be ECDSA.";
    SignatureHash = 607, Some(96),
        "the CSR is not signed with SHA-256",
        "L'algorithme de hachage doit être SHA-256.",
        "The hash algorithm must be SHA-256.";
    Curve = 608, Some(96),
        "the curve is not P-256",
        "La courbe elliptique doit être P-256.",
        "The elliptic curve must be P-256.";
    KeyUsageNonRepudiation = 609, Some(96),
        "the key usage lacks non-repudiation",
        "L'usage de la clé publique doit comprendre la non-répudiation.",
        "The public key usage must include non-repudiation.";
    NicknameMissing = 610, Some(16),
        "SN (surname) missing",
        "Le nom du certificat (SN) est absent.",
        "The certificate name (SN) is missing.";
    QstNumberForbiddenForServer = 611, Some(16),
        "OU present for a server code",
        "L'unité (OU) doit être absente pour un code d'autorisation de serveur.",
        "The unit (OU) must be absent for a server authorization code.";
    FileNumberMissing = 612, Some(16),
        "GN missing for an SRS code",
        "Le numéro de dossier (GN) est obligatoire pour un code d'autorisation de SEV.",
        "The file number (GN) is required for an SRS authorization code.";
    FileNumberForbiddenForServer = 613, Some(16),
        "GN present for a server code",
        "Le numéro de dossier (GN) doit être absent pour un code d'autorisation de serveur.",
        "The file number (GN) must be absent for a server authorization code.";
    FileNumberNotCodeSector = 614, Some(16),
        "the file number in GN does not belong to the authorization code's sector",
        "Le numéro de dossier {0} ne correspond pas au code d'autorisation.",
        "The file number {0} does not match the authorization code.";
    FileNumberNotQstNumber = 615, Some(16),
        "the file number in GN does not belong to the QST number in OU",
        "Le numéro de dossier {0} n'appartient pas au numéro de TVQ.",
        "The file number {0} does not belong to the QST number.";
    IdentificationNumberNotQst = 616, Some(16),
        "CN is not the first 10 digits of the QST number in OU",
        "Le numéro d'identification (CN) ne correspond pas aux 10 premiers chiffres du numéro de TVQ.",
        "The identification number (CN) does not match the first 10 digits of the QST number.";
    ThumbprintMismatch = 50, Some(94),
        "EMPRCERTIFTRANSM is not the thumbprint of the certificate used for TLS",
        "L'empreinte {0} ne correspond pas au certificat utilisé pour l'authentification.",
        "The thumbprint {0} does not match the certificate used for authentication.";
    SignatureLength = 417, Some(96),
        "actu or preced is not 88 characters",
        "La signature {0} doit contenir 88 caractères.",
        "The signature {0} must have 88 characters.";
    TransmissionSignatureInvalid = 451, Some(94),
        "SIGNATRANSM is not 88 characters, or does not verify with the certificate",
        "La signature de la transmission (SIGNATRANSM) est invalide.",
        "The transmission signature (SIGNATRANSM) is invalid.";
    TransmissionThumbprintLength = 452, Some(94),
        "EMPRCERTIFTRANSM is not 40 characters",
        "L'empreinte du certificat (EMPRCERTIFTRANSM) doit contenir 40 caractères.",
        "The certificate thumbprint (EMPRCERTIFTRANSM) must have 40 characters.";
    SignedWithInvalidCertificate = 469, Some(16),
        "the transaction is signed with a revoked or expired certificate",
        "La transaction {0} est signée avec un certificat révoqué ou expiré.",
        "Transaction {0} is signed with a revoked or expired certificate.";
    TransmissionSignatureMissing = 508, Some(94),
        "SIGNATRANSM and EMPRCERTIFTRANSM are both required on a transaction request",
        "Les en-têtes SIGNATRANSM et EMPRCERTIFTRANSM sont obligatoires.",
        "The SIGNATRANSM and EMPRCERTIFTRANSM headers are required.";
    QstNumberMismatch = 522, Some(14),
        "NOTVQ is not the QST number (OU) of the certificate",
        "Le numéro de TVQ {0} ne correspond pas au certificat.",
        "The QST number {0} does not match the certificate.";
    TestCaseOutOfOrder = 14, Some(94),
        "CASESSAI is not the step expected next in ESSAI",
        "Le cas d'essai {0} n'est pas celui attendu (les étapes se suivent dans l'ordre).",
        "The test case {0} is not the one expected (steps come in order).";
    StepValueDiffers = 435, Some(93),
        "DEV and ESSAI: a header or JSON value differs from what the test case's step prescribes",
        "La valeur reçue pour {0} diffère de celle du cas d'essai (reçu ≠ attendu : {1}).",
        "The value received for {0} differs from the test case's (received ≠ expected: {1}).";
    ServerVersionNotCertified = 520, Some(94),
        "a server's request does not name a certified SRS version",
        "Les en-têtes de version ne désignent pas une version certifiée du SEV.",
        "The version headers do not designate a certified version of the SRS.";
    QstHeaderUnknown = 7, Some(14),
        "NOTVQ missing or not the QST number of a known operator",
        "Le numéro de dossier ou de TVQ est invalide ou inconnu (NOTVQ={0}).",
        "The file number or QST number is invalid or unknown (NOTVQ={0}).";
    GstHeaderUnknown = 8, Some(14),
        "NOTPS missing or not the GST number of a known operator",
        "Le numéro de dossier ou de TPS est invalide ou inconnu (NOTPS={0}).",
        "The file number or GST number is invalid or unknown (NOTPS={0}).";
    TaxHeadersOfTwoOperators = 34, Some(14),
        "NOTPS and NOTVQ belong to different operators",
        "Les numéros de TPS et de TVQ appartiennent à des mandataires différents.",
        "The GST and QST numbers belong to different operators.";
    VersionMustBeCertified = 60, Some(94),
        "in PROD, IDVERSI is neither zeros nor a certified version",
        "Cette version du SEV doit être certifiée (IDVERSI={0}).",
        "This version of the SRS must be certified (IDVERSI={0}).";
    PartnerNotRegistered = 63, Some(94),
        "IDPARTN is a developer not registered for DEV and ESSAI",
        "Le partenaire {0} (IDPARTN) n'est pas inscrit : les environnements DEV et ESSAI lui sont refusés.",
        "Partner {0} (IDPARTN) is not registered: the DEV and ESSAI environments are refused.";
    VersionAwaitingCertification = 65, Some(94),
        "IDVERSI is a version awaiting certification, which ESSAI refuses",
        "La version {0} (IDVERSI) est en attente de certification : l'environnement ESSAI lui est refusé.",
        "Version {0} (IDVERSI) is awaiting certification: the ESSAI environment is refused.";
    TestCaseCertifiedVersion = 72, Some(94),
        "the version is certified: ESSAI is closed to it, and DEV takes it only with CASESSAI 000.000",
        "Le cas d'essai {0} (CASESSAI) est invalide : la version {1} est certifiée.",
        "The test case {0} (CASESSAI) is invalid: version {1} is certified.";
    TestCaseInvalid = 425, Some(94),
        "CASESSAI missing or not 999.999",
        "Le cas d'essai {0} (CASESSAI) est absent ou invalide.",
        "The test case {0} (CASESSAI) is missing or invalid.";
    VersionHeaderInvalid = 440, Some(94),
        "VERSI missing, longer than 20 characters, or not letters, digits and dots",
        "La version {0} (VERSI) est absente ou invalide.",
        "The version {0} (VERSI) is missing or invalid.";
    VersionHeaderUnknown = 442, Some(94),
        "VERSI is no version of the SRS",
        "La version {0} (VERSI) n'est pas reconnue.",
        "Version {0} (VERSI) is not recognized.";
    ParentVersionHeaderInvalid = 444, Some(94),
        "VERSIPARN missing, longer than 20 characters, or not letters, digits and dots",
        "La version parente {0} (VERSIPARN) est absente ou invalide.",
        "The parent version {0} (VERSIPARN) is missing or invalid.";
    InitiatingDeviceInvalid = 460, Some(94),
        "APPRLINIT missing or not SEV/SRV (SEV only on a transaction)",
        "Le type d'appareil {0} (APPRLINIT) est absent ou invalide.",
        "The device type {0} (APPRLINIT) is missing or invalid.";
    QstNotTransactions = 536, Some(14),
        "NOTVQ is not transActu's noTax.noTVQ",
        "Le numéro de TVQ de l'en-tête ({0}) ne correspond pas à celui de la transaction.",
        "The QST number of the header ({0}) does not match the transaction's.";
    ContactRetailer = 999, None,
        "companion message after errors the user cannot fix alone",
        "Veuillez communiquer avec votre détaillant.",
        "Please contact your retailer.";
}
