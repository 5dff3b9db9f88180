//! The mentions a bill bears (SW-73 §4.4.1.4, table 43), in their order: those decided by the
//! transaction itself, by its place in its sequence when the POS says it, and by what happened
//! to it (received or not, certificate valid or not).

use super::Sale;
use super::values::{
    PaymentMode, PrintFormat, PrintMode, ServiceType, TransactionType, TransmissionMode,
};

/// A mention, with its order (its vertical group on the bill: 1 is the highest; 1 and 2 go
/// above the first row of `=`, the others between the two rows).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct Mention {
    /// Table 43's order.
    pub order: u8,
    /// The exact text to print.
    pub text: String,
}

/// What the transaction alone does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(clippy::exhaustive_structs)]
pub struct BillContext {
    /// How many printed documents of the same type (addition, quotation, estimate) come before
    /// this one in its sequence, when the POS knows it: `Some(0)` for the first (`FACTURE
    /// ORIGINALE`), `Some(n)` for a revision (`FACTURE RÉVISÉE`, `Remplace n factures`).
    /// `None` leaves these mentions out.
    pub earlier_in_sequence: Option<u32>,
    /// The bill is produced with a certificate that cannot be used (expired, revoked, deleted).
    pub invalid_certificate: bool,
    /// The authority did not answer: `PROBLÈME DE COMMUNICATION` replaces `psiNoTrans`.
    pub communication_problem: bool,
}

/// What a bill prints for a payment mode (SW-73.D figure 9).
pub fn payment_label(mode: PaymentMode) -> &'static str {
    match mode {
        PaymentMode::Cash => "ARGENT COMPTANT",
        PaymentMode::Cheque => "CHÈQUE",
        PaymentMode::Coupon => "COUPON",
        PaymentMode::Credit => "CARTE DE CRÉDIT",
        PaymentMode::Debit => "CARTE DE DÉBIT",
        PaymentMode::Prepaid => "CARTE PRÉPAYÉE / CERTIFICAT-CADEAU / CHÈQUE CADEAU",
        PaymentMode::Loyalty => "PROGRAMME DE FIDÉLISATION",
        PaymentMode::Crypto => "CRYPTOMONNAIE",
        PaymentMode::Wallet => "PORTEFEUILLE ÉLECTRONIQUE",
        PaymentMode::Transfer => "TRANSFERT DE FONDS",
        PaymentMode::Mixed => "PAIEMENT MIXTE",
        PaymentMode::Account => "PORTÉ AU COMPTE",
        PaymentMode::Other => "AUTRE MODE DE PAIEMENT",
        PaymentMode::Unknown => "INCONNU",
        _ => "AUCUN PAIEMENT",
    }
}

/// The mentions of `sale`'s bill, in table 43's order. The mentions that depend on earlier
/// documents' contents (`ESTIMATION ANNULÉE`, `FACTURE ANNULÉE`, `Note de crédit corrigée`,
/// `Facture corrigée`) are the POS's to add: the transaction alone does not decide them.
pub fn mentions(sale: &Sale, context: &BillContext) -> Vec<Mention> {
    let mut out = Vec::new();
    let mut put = |order: u8, text: &str| {
        out.push(Mention {
            order,
            text: text.to_owned(),
        });
    };
    let kind = sale.kind;
    let print = sale.print_mode;
    let document = matches!(
        print,
        PrintMode::Bill | PrintMode::Reproduction | PrintMode::Duplicate
    );
    let due = sale.amounts.due.unwrap_or(sale.amounts.after_tax).cents();
    let closing = kind == TransactionType::ClosingReceipt;
    let payment = sale.payment;
    let unpaid = matches!(payment, PaymentMode::None | PaymentMode::Sob);

    // Above the first row of `=`.
    if closing
        && document
        && ((due != 0 && !unpaid && payment != PaymentMode::Account)
            || (due == 0 && payment == PaymentMode::None))
    {
        put(1, payment_label(payment));
    }
    if matches!(
        kind,
        TransactionType::Addition | TransactionType::ClosingReceipt
    ) && sale.sector.service == Some(ServiceType::Platform)
        && document
    {
        put(2, "COMMANDE PAR UNE PLATEFORME NUMÉRIQUE");
    }

    // Between the two rows of `=`.
    let training = sale.mode == TransmissionMode::Training;
    let merchant_copy = matches!(
        print,
        PrintMode::Duplicate | PrintMode::LeftWithoutPaying | PrintMode::Abandoned
    ) || kind == TransactionType::UnusualThirdParty;
    if training {
        put(3, "*** DOCUMENT DE FORMATION ***");
    }
    if merchant_copy {
        put(4, "*** COPIE DU COMMERÇANT ***");
    }
    if print == PrintMode::Reproduction {
        put(4, "REPRODUCTION");
    }
    if training || merchant_copy {
        put(5, "NE PAS REMETTRE AU CLIENT");
    }
    if kind == TransactionType::UnusualThirdParty && print == PrintMode::Duplicate {
        put(6, "TIERS INHABITUEL");
    }
    if print == PrintMode::Abandoned {
        put(6, "TRANSACTION ABANDONNÉE");
    }
    if closing && document && due > 0 && !unpaid && payment != PaymentMode::Account {
        put(6, "PAIEMENT REÇU");
    }
    if closing && document && due != 0 && payment == PaymentMode::Account {
        put(6, "PORTÉ AU COMPTE");
    }
    if closing && print == PrintMode::LeftWithoutPaying && due > 0 && payment == PaymentMode::None {
        put(6, "PAIEMENT NON REÇU");
    }
    if closing && document && due < 0 {
        put(6, "NOTE DE CRÉDIT");
    }
    let printed = sale.print_format != PrintFormat::NotPrinted;
    if let Some(earlier) = context.earlier_in_sequence
        && document
        && printed
    {
        let names = match kind {
            TransactionType::Addition => Some(("FACTURE ORIGINALE", "FACTURE RÉVISÉE", "factures")),
            TransactionType::Quotation => Some(("SOUMISSION", "SOUMISSION RÉVISÉE", "soumissions")),
            TransactionType::Estimate => Some((
                "ESTIMATION DES RENSEIGNEMENTS",
                "ESTIMATION RÉVISÉE",
                "estimations",
            )),
            _ => None,
        };
        match (names, earlier) {
            (Some((first, _, _)), 0) => put(6, first),
            (Some((_, revised, plural)), n) => {
                put(6, revised);
                put(7, &format!("Remplace {n} {plural}"));
            }
            (None, _) => {}
        }
    }
    if sale.print_format == PrintFormat::PaperAndElectronic {
        put(8, "Copie électronique");
    }
    if matches!(
        sale.print_format,
        PrintFormat::PaperAndElectronic | PrintFormat::Electronic
    ) {
        put(9, "Consulter la transaction en ligne");
    }
    if context.invalid_certificate {
        put(10, "*** CERTIFICAT INVALIDE ***");
        put(10, "NE PAS REMETTRE AU CLIENT");
    }
    if context.communication_problem {
        put(10, "PROBLÈME DE COMMUNICATION");
    }
    out
}
