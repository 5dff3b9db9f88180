//! What the checks of a transaction find: the WEB-SRM error id the authority would answer, its
//! `codRetour`, where (`transActu/items[0]/prix`) and the value found.

use std::fmt;

use websrm_domain::{ErrorId, ReturnCode};

/// One finding: an error WEB-SRM answers for this transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The error, `JW00B999nnnE`.
    pub id: ErrorId,
    /// Its `codRetour`.
    pub return_code: ReturnCode,
    /// Where: the path of the field (`transActu/mont/TPS`), or of its parent.
    pub path: String,
    /// The value found, when there is one.
    pub value: Option<String>,
}

impl Finding {
    /// The finding `JW00B999{number}E` at `path`, with its `codRetour` and messages from the
    /// transaction service's table.
    pub fn new(number: u16, path: impl Into<String>, value: Option<&str>) -> Self {
        let (_, code, _, _) = entry(number);
        Self {
            id: ErrorId::new(number).unwrap_or(ErrorId::CONTACT_RETAILER),
            return_code: ReturnCode::new(code).unwrap_or_else(unreachable_code),
            path: path.into(),
            value: value.map(str::to_owned),
        }
    }

    /// The message in French, as WEB-SRM words the error, with where and what.
    pub fn message_fr(&self) -> String {
        let (_, _, fr, _) = entry(self.id.number());
        self.with_place(fr)
    }

    /// The same in English.
    pub fn message_en(&self) -> String {
        let (_, _, _, en) = entry(self.id.number());
        self.with_place(en)
    }

    fn with_place(&self, text: &str) -> String {
        match &self.value {
            Some(v) => format!("{text} ({} = {v})", self.path),
            None => format!("{text} ({})", self.path),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.id, self.message_en())
    }
}

const fn unreachable_code() -> ReturnCode {
    match ReturnCode::new(96) {
        Some(c) => c,
        None => panic!("96 is a return code"),
    }
}

/// The errors of the transaction service: number, `codRetour`, French, English (SW-73.A).
const ENTRIES: &[(u16, u8, &str, &str)] = &[
    (
        38,
        96,
        "Les valeurs idPartn, idSEV, idVersi, codCertif et versi ne désignent pas une même version du SEV.",
        "idPartn, idSEV, idVersi, codCertif and versi do not designate one SRS version.",
    ),
    (
        40,
        96,
        "Aucune version du SEV (idSEV) n'est certifiée.",
        "No version of the SRS (idSEV) is certified.",
    ),
    (
        43,
        16,
        "Les numéros de TPS et de TVQ appartiennent à des mandataires différents.",
        "The GST and QST numbers belong to different operators.",
    ),
    (
        51,
        96,
        "L'identifiant du SEV (idSEV) est invalide.",
        "The SRS identifier (idSEV) is invalid.",
    ),
    (
        52,
        96,
        "L'identifiant de la version (idVersi) est invalide.",
        "The version identifier (idVersi) is invalid.",
    ),
    (
        53,
        96,
        "L'identifiant du partenaire (idPartn) est invalide.",
        "The partner identifier (idPartn) is invalid.",
    ),
    (
        54,
        96,
        "Une version non enregistrée (idVersi formé de zéros) est refusée dans l'environnement ESSAI.",
        "An unregistered version (all-zero idVersi) is refused in ESSAI.",
    ),
    (
        55,
        96,
        "Le code de certification (codCertif) est invalide pour DEV ou ESSAI.",
        "The certification code (codCertif) is invalid in DEV or ESSAI.",
    ),
    (
        56,
        96,
        "Le code de certification (codCertif) est invalide pour la production.",
        "The certification code (codCertif) is invalid in production.",
    ),
    (
        58,
        96,
        "La version (versi) n'est pas reconnue.",
        "The version (versi) is not recognized.",
    ),
    (
        62,
        96,
        "Cette version du SEV doit être certifiée (idVersi).",
        "This version of the SRS must be certified (idVersi).",
    ),
    (
        64,
        96,
        "Le développeur n'est pas inscrit; DEV et ESSAI sont refusés (idPartn).",
        "The developer is not registered; DEV and ESSAI are refused (idPartn).",
    ),
    (
        66,
        96,
        "Une version en attente de certification est refusée dans l'environnement ESSAI (idVersi).",
        "A version awaiting certification is refused in ESSAI (idVersi).",
    ),
    (
        70,
        16,
        "Le numéro de dossier ou de TVQ est invalide ou inconnu.",
        "The file number or QST number is invalid or unknown.",
    ),
    (
        71,
        16,
        "Le numéro de dossier ou de TPS est invalide ou inconnu.",
        "The file number or GST number is invalid or unknown.",
    ),
    (
        300,
        95,
        "Champ inconnu ou à la mauvaise place.",
        "Unknown field, or a field in the wrong place.",
    ),
    (
        304,
        95,
        "Un champ sous-jacent obligatoire est absent.",
        "A required field is missing.",
    ),
    (
        305,
        95,
        "Un champ obligatoire est absent.",
        "A mandatory field is missing.",
    ),
    (
        306,
        95,
        "Un champ est présent plus d'une fois.",
        "A field occurs more than once.",
    ),
    (
        308,
        95,
        "Ce champ ne peut pas avoir d'enfants.",
        "This field cannot have children.",
    ),
    (
        314,
        95,
        "Champ inconnu au premier niveau pour cette adresse.",
        "Unknown top-level field for this address.",
    ),
    (
        315,
        95,
        "Le champ de premier niveau est absent.",
        "The top-level field is missing.",
    ),
    (
        317,
        95,
        "reqTrans doit contenir transActu ou transLot.",
        "reqTrans must contain transActu or transLot.",
    ),
    (
        318,
        95,
        "Le nom de l'utilisateur (nomUtil) est obligatoire pour AJO et SUP.",
        "The user name (nomUtil) is required for AJO and SUP.",
    ),
    (
        319,
        95,
        "Le nom de l'utilisateur (nomUtil) doit être absent pour VAL.",
        "The user name (nomUtil) must be absent for VAL.",
    ),
    (
        405,
        96,
        "Le secteur d'activité est invalide.",
        "The sector is invalid.",
    ),
    (
        406,
        96,
        "Le numéro de transaction est invalide.",
        "The transaction number is invalid.",
    ),
    (407, 16, "Le nom est invalide.", "The name is invalid."),
    (408, 96, "La date est invalide.", "The date is invalid."),
    (
        409,
        96,
        "La quantité est invalide.",
        "The quantity is invalid.",
    ),
    (
        410,
        16,
        "La description est invalide.",
        "The description is invalid.",
    ),
    (
        411,
        96,
        "Le montant est invalide.",
        "The amount is invalid.",
    ),
    (
        412,
        96,
        "Le code de taxe est invalide.",
        "The tax code is invalid.",
    ),
    (
        413,
        96,
        "Le type de transaction est invalide.",
        "The transaction type is invalid.",
    ),
    (
        414,
        96,
        "Le mode de paiement est invalide.",
        "The payment mode is invalid.",
    ),
    (
        415,
        96,
        "Le mode d'impression est invalide.",
        "The print mode is invalid.",
    ),
    (
        416,
        96,
        "Le mode de transaction est invalide.",
        "The transaction mode is invalid.",
    ),
    (
        417,
        96,
        "La signature est invalide.",
        "The signature is invalid.",
    ),
    (
        422,
        96,
        "L'empreinte du certificat est invalide.",
        "The certificate thumbprint is invalid.",
    ),
    (
        423,
        96,
        "Le fuseau horaire est invalide.",
        "The UTC mark is invalid.",
    ),
    (
        427,
        96,
        "Le format d'impression est invalide.",
        "The print format is invalid.",
    ),
    (
        434,
        96,
        "La valeur de modif est invalide.",
        "The value of modif is invalid.",
    ),
    (
        441,
        96,
        "La version du SEV est invalide.",
        "The SRS version is invalid.",
    ),
    (
        443,
        96,
        "La version parente du SEV est invalide.",
        "The SRS parent version is invalid.",
    ),
    (
        445,
        96,
        "La description de l'item est invalide pour le transport.",
        "The item description is not one of transportation's.",
    ),
    (
        447,
        96,
        "L'indicateur de commerce électronique est invalide.",
        "The e-commerce flag is invalid.",
    ),
    (
        448,
        16,
        "Le code postal de l'adresse du document est invalide.",
        "The document address's postal code is invalid.",
    ),
    (
        449,
        16,
        "Le numéro civique est invalide.",
        "The civic number is invalid.",
    ),
    (
        450,
        96,
        "Le montant de versement est invalide.",
        "The instalment amount is invalid.",
    ),
    (
        453,
        96,
        "Le type de document (typDoc) est invalide.",
        "The document type (typDoc) is invalid.",
    ),
    (
        454,
        96,
        "La sous-activité est invalide pour le secteur.",
        "The sub-activity is not valid for the sector.",
    ),
    (
        455,
        96,
        "Le type de service est invalide.",
        "The service type is invalid.",
    ),
    (
        456,
        96,
        "Le numéro de table est invalide.",
        "The table number is invalid.",
    ),
    (
        458,
        96,
        "Le nombre de clients est invalide.",
        "The number of customers is invalid.",
    ),
    (
        461,
        96,
        "La relation commerciale est invalide.",
        "The business relation is invalid.",
    ),
    (
        462,
        96,
        "Le type d'adresse est invalide.",
        "The address type is invalid.",
    ),
    (
        463,
        16,
        "Le numéro de TVQ du client est invalide.",
        "The customer's QST number is invalid.",
    ),
    (
        464,
        16,
        "Le numéro de téléphone est invalide.",
        "The phone number is invalid.",
    ),
    (
        465,
        16,
        "Le courriel est invalide.",
        "The e-mail address is invalid.",
    ),
    (
        466,
        16,
        "Le numéro de dossier est absent ou inconnu.",
        "The file number is missing or unknown.",
    ),
    (
        467,
        16,
        "La rue ou la ville est invalide.",
        "The street or city is invalid.",
    ),
    (
        468,
        16,
        "La valeur commence ou se termine par une espace.",
        "The value starts or ends with a space.",
    ),
    (
        469,
        16,
        "Le document est signé avec un certificat révoqué, expiré ou qui n'était plus en vigueur.",
        "The document is signed with a certificate revoked, expired or no longer in force.",
    ),
    (
        471,
        16,
        "Le code postal est invalide.",
        "The postal code is invalid.",
    ),
    (
        502,
        96,
        "Une référence désigne la transaction elle-même.",
        "A reference designates the transaction itself.",
    ),
    (
        503,
        96,
        "Deux références sont identiques.",
        "Two references are identical.",
    ),
    (
        504,
        96,
        "Le mode de paiement n'est pas permis pour ce type de transaction.",
        "The payment mode is not allowed for this transaction type.",
    ),
    (
        505,
        96,
        "Un reçu de fermeture doit avoir un mode de paiement.",
        "A closing receipt needs a payment mode.",
    ),
    (
        507,
        16,
        "La description détaillée est absente pour « Autre ».",
        "The detailed description of \"Autre\" is missing.",
    ),
    (
        523,
        96,
        "avantTax + TPS + TVQ ne donne pas apresTax.",
        "avantTax + TPS + TVQ does not give apresTax.",
    ),
    (
        524,
        96,
        "Le codCertif d'une version non enregistrée doit être FOB000000000 ou le secteur suivi de neuf zéros.",
        "The certification code (codCertif) of an unregistered version must be FOB000000000 or the sector and nine zeros.",
    ),
    (
        526,
        16,
        "Une transaction du lot est postérieure à l'envoi du lot.",
        "A batched transaction is later than the batch.",
    ),
    (
        527,
        96,
        "Une transaction du lot n'est pas antérieure à la transaction actuelle.",
        "A batched transaction is not older than the current one.",
    ),
    (
        528,
        96,
        "Le mode de paiement doit être AUC quand le client part sans payer.",
        "The payment mode must be AUC when the customer left without paying.",
    ),
    (
        529,
        16,
        "Le nom de l'utilisateur est obligatoire.",
        "The user's name is required.",
    ),
    (
        530,
        16,
        "Un SEV ne peut pas faire cette requête.",
        "An SRS cannot make this request.",
    ),
    (
        532,
        16,
        "versActu, versAnt et sold doivent être tous présents.",
        "versActu, versAnt and sold must all be present.",
    ),
    (
        534,
        96,
        "La référence à la transaction précédente est obligatoire après un versement.",
        "A reference to the previous transaction is required after an instalment.",
    ),
    (
        535,
        96,
        "Les versements et le solde ne donnent pas le montant dû.",
        "The instalments and the balance do not give the amount due.",
    ),
    (
        537,
        96,
        "Le type de service ou le nombre de clients est absent.",
        "The service type or the number of customers is missing.",
    ),
    (
        538,
        96,
        "mtdu ou ajus est absent.",
        "mtdu or ajus is missing.",
    ),
    (
        540,
        16,
        "L'empreinte du certificat (emprCertifSEV) et le numéro de TVQ appartiennent à des mandataires différents.",
        "The certificate thumbprint (emprCertifSEV) and the QST number belong to different operators.",
    ),
    (
        541,
        16,
        "La quantité de la précision est absente.",
        "The precision's quantity is missing.",
    ),
    (
        542,
        16,
        "Le code de taxe de la précision est absent.",
        "The precision's tax code is missing.",
    ),
    (
        543,
        96,
        "Le code de taxe des frais de service doit être FP.",
        "The tax code of a service charge must be FP.",
    ),
    (
        545,
        16,
        "Les renseignements de l'établissement de restauration sont incomplets.",
        "The restaurant establishment's data are incomplete.",
    ),
    (
        546,
        16,
        "Le mode de paiement doit être AUC quand rien n'est dû.",
        "The payment mode must be AUC when nothing is due.",
    ),
    (
        547,
        96,
        "apresTax + ajus ne donne pas mtdu.",
        "apresTax + ajus does not give mtdu.",
    ),
    (
        548,
        16,
        "Le mode de paiement est invalide pour le commerce électronique.",
        "The payment mode is not valid for e-commerce.",
    ),
    (
        549,
        96,
        "ajus et mtdu doivent être absents à l'annulation d'une addition ou d'une estimation transmise.",
        "ajus and mtdu must be absent when cancelling a transmitted addition or estimate.",
    ),
    (
        550,
        16,
        "Le prix et la sous-activité sont incohérents.",
        "The price and the sub-activity do not agree.",
    ),
    (
        551,
        16,
        "Une précision est absente ou invalide pour l'item.",
        "A precision of the item is missing or invalid.",
    ),
    (
        554,
        16,
        "La description de la taxe supplémentaire est absente ou invalide.",
        "The supplementary tax's description is missing or invalid.",
    ),
    (
        556,
        16,
        "Le numéro de dossier (noDossFO) ne correspond pas à celui du certificat.",
        "The file number (noDossFO) does not match the certificate's.",
    ),
];

/// Whether WEB-SRM follows the error `id` with `JW00B999999E` ("contact your retailer"): those
/// the guide marks so (SW-73.A, †), which the software, not the user, must correct.
pub fn needs_companion(id: ErrorId) -> bool {
    COMPANION.contains(&id.number())
}

/// The English text of a transaction-service error `id`, if this table knows it.
pub fn english_message(id: ErrorId) -> Option<&'static str> {
    ENTRIES
        .iter()
        .find(|e| e.0 == id.number())
        .map(|&(_, _, _, en)| en)
}

/// Every error of the transaction, user and document services this table knows: number,
/// `codRetour`, French, English.
pub fn service_errors() -> impl Iterator<Item = (u16, u8, &'static str, &'static str)> {
    ENTRIES.iter().copied()
}

/// The transaction service's errors marked † in SW-73.A.
const COMPANION: &[u16] = &[
    38, 40, 51, 52, 53, 55, 56, 58, 62, 64, 66, 300, 304, 305, 306, 308, 314, 315, 317, 318, 319,
    405, 406, 408, 409, 411, 412, 413, 414, 415, 416, 417, 422, 423, 427, 434, 441, 443, 445, 447,
    450, 453, 455, 456, 461, 462, 502, 503, 504, 505, 524, 526, 527, 537, 538, 551,
];

fn entry(number: u16) -> (u16, u8, &'static str, &'static str) {
    ENTRIES.iter().copied().find(|e| e.0 == number).unwrap_or((
        number,
        96,
        "Erreur de la transaction.",
        "Transaction error.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_each_id_once() {
        assert!(ENTRIES.windows(2).all(|w| w[0].0 < w[1].0));
        let f = Finding::new(411, "transActu/mont/TPS", Some("0.25"));
        assert_eq!(f.id.to_string(), "JW00B999411E");
        assert_eq!(f.return_code.value(), 96);
        assert_eq!(
            f.message_en(),
            "The amount is invalid. (transActu/mont/TPS = 0.25)"
        );
    }
}
