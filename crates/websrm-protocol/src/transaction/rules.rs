//! The coherence rules of a transaction (SW-73.A 9500–9599) that can be decided from the
//! transaction alone: references, payment modes, sequences, instalments, precisions, sectors.
//! Rules that need the authority's records (540E, 556E, 555E, 552E/553E) are the authority's.

use super::finding::Finding;
use super::model::*;
use super::values::*;

/// What the checks may assume of where the transaction goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Checks {
    /// The sums are checked (523E, 535E, 547E): in ESSAI, and in DEV with a test case.
    pub sums: bool,
}

impl Checks {
    /// With the sums checked.
    pub fn with_sums(mut self) -> Self {
        self.sums = true;
        self
    }
}

/// The descriptions an item may have in transportation (445E).
pub const TRANSPORT_ITEMS: &[&str] = &[
    "Autre",
    "Annulation",
    "Extra",
    "Frais de service",
    "Tarif horaire",
    "Rabais",
    "Redevance",
    "Tarif app.",
    "Tarif fixe c.",
    "Tarif fixe r.",
    "Tarif odo.",
    "Tarif taxi.",
    "Tr. adapté",
    "Tr. collectif",
    "Taxe(s) supplémentaire(s)",
    "SOB",
];

/// The coherence findings of `sale`, at `path`.
pub(crate) fn coherence(sale: &Sale, path: &str, checks: Checks) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut find = |n: u16, at: &str, v: Option<&str>| found.push(Finding::new(n, at, v));
    let sector = sale.sector.sector;
    let amounts = &sale.amounts;

    // References.
    for (i, r) in sale.references.iter().enumerate() {
        let at = format!("{path}/refs[{i}]");
        if r.number == sale.number && r.date == sale.date {
            find(502, &at, Some(r.number.as_str()));
        }
        if sale.references[..i]
            .iter()
            .any(|o| o.number == r.number && o.date == r.date)
        {
            find(503, &at, Some(r.number.as_str()));
        }
    }
    // Payment modes.
    let modpai = format!("{path}/modPai");
    let pay = Some(sale.payment.code());
    if matches!(
        sale.kind,
        TransactionType::Addition
            | TransactionType::Estimate
            | TransactionType::Quotation
            | TransactionType::UnusualThirdParty
    ) && sale.payment != PaymentMode::Sob
    {
        find(504, &modpai, pay);
    }
    if sale.kind == TransactionType::ClosingReceipt
        && sale.print_mode != PrintMode::Abandoned
        && sale.payment == PaymentMode::Sob
    {
        find(505, &modpai, pay);
    }
    if sale.print_mode == PrintMode::LeftWithoutPaying && sale.payment != PaymentMode::None {
        find(528, &modpai, pay);
    }
    let nothing_due = match amounts.due {
        Some(due) => due.is_zero(),
        None => amounts.after_tax.is_zero(),
    };
    if nothing_due
        && sale.payment != PaymentMode::None
        && !matches!(sale.payment, PaymentMode::Sob)
        && sale.kind == TransactionType::ClosingReceipt
    {
        find(546, &modpai, pay);
    }
    if sale.electronic == Electronic::Yes
        && matches!(sale.payment, PaymentMode::Cash | PaymentMode::Cheque)
    {
        find(548, &modpai, pay);
    }
    // The user's name.
    if sale.user_name.is_none() && (sector == SectorCode::Transport || amounts.tip.is_some()) {
        find(529, &format!("{path}/nomUtil"), None);
    }
    // Amounts.
    let mont = format!("{path}/mont");
    let instalments = [
        amounts.instalment,
        amounts.earlier_instalments,
        amounts.balance,
    ];
    let present = instalments.iter().filter(|a| a.is_some()).count();
    if present != 0 && present != 3 {
        find(532, &mont, None);
    }
    if amounts.earlier_instalments.is_some_and(|a| !a.is_zero()) && sale.references.is_empty() {
        find(534, &format!("{path}/refs"), None);
    }
    if amounts.adjustment.is_some() != amounts.due.is_some() {
        find(538, &mont, None);
    }
    if sale.kind == TransactionType::ClosingReceipt
        && sale.print_mode == PrintMode::Bill
        && amounts.after_tax.is_zero()
        && !sale.references.is_empty()
        && (amounts.adjustment.is_some() || amounts.due.is_some())
    {
        find(549, &mont, None);
    }
    if checks.sums {
        let sum = amounts
            .before_tax
            .checked_add(amounts.gst)
            .and_then(|s| s.checked_add(amounts.qst));
        if sum != Some(amounts.after_tax) {
            find(
                523,
                &format!("{mont}/apresTax"),
                Some(&amounts.after_tax.to_string()),
            );
        }
        if let (Some(adjustment), Some(due)) = (amounts.adjustment, amounts.due)
            && amounts.after_tax.checked_add(adjustment) != Some(due)
        {
            find(547, &format!("{mont}/mtdu"), Some(&due.to_string()));
        }
        if let [Some(current), Some(earlier), Some(balance)] = instalments {
            let owed = amounts.due.unwrap_or(amounts.after_tax);
            let paid = balance
                .checked_add(current)
                .and_then(|s| s.checked_add(earlier));
            if paid != Some(owed) {
                find(535, &format!("{mont}/sold"), Some(&balance.to_string()));
            }
        }
    }
    // Items and precisions.
    let mut restaurant_activity = false;
    let mut habitual = false;
    let mut supplementary = false;
    for (i, item) in sale.items.iter().enumerate() {
        let at = format!("{path}/items[{i}]");
        if !item.activity.allowed_in(sector) {
            find(454, &format!("{at}/acti"), Some(item.activity.code()));
        }
        if sector == SectorCode::Transport && !TRANSPORT_ITEMS.contains(&item.description.as_str())
        {
            find(445, &format!("{at}/descr"), Some(&item.description));
        }
        priced(&mut find, &at, Some(item.price), item.activity);
        if item.description == "Frais de service" && item.tax != TaxCode::Fp {
            find(543, &format!("{at}/tax"), Some(item.tax.code()));
        }
        if (item.description == "Autre" && sector == SectorCode::Transport)
            && item.precisions.is_empty()
        {
            find(507, &at, Some("Autre"));
        }
        if item.description == "Annulation" && item.precisions.is_empty() {
            find(551, &at, Some("Annulation"));
        }
        restaurant_activity |= matches!(
            item.activity,
            Activity::Bar | Activity::Caterer | Activity::Restaurant
        );
        habitual |= item.activity == Activity::Habitual;
        supplementary |= item.tax.supplementary();
        for (j, p) in item.precisions.iter().enumerate() {
            let at = format!("{at}/preci[{j}]");
            if !p.activity.allowed_in(sector) {
                find(454, &format!("{at}/acti"), Some(p.activity.code()));
            }
            priced(&mut find, &at, p.price, p.activity);
            if (p.unit_price.is_some() || p.price.is_some()) && p.quantity.is_none() {
                find(541, &at, Some(&p.description));
            }
            if p.price.is_some_and(|x| !x.is_zero()) && p.tax.is_none() {
                find(542, &at, Some(&p.description));
            }
            habitual |= p.activity == Activity::Habitual;
            supplementary |= p.tax.is_some_and(TaxCode::supplementary);
        }
    }
    if restaurant_activity && (sale.sector.service.is_none() || sale.sector.customers.is_none()) {
        find(537, &format!("{path}/sectActi"), None);
    }
    if sector == SectorCode::Restaurant && habitual {
        let complete = sale
            .customer
            .as_ref()
            .is_some_and(|c| c.qst.is_some() && !c.addresses.is_empty());
        if !complete {
            find(545, &format!("{path}/clint"), None);
        }
    }
    if supplementary {
        let described = sale
            .items
            .iter()
            .any(|i| i.description == "Taxe(s) supplémentaire(s)" && !i.precisions.is_empty());
        if !described {
            find(554, &format!("{path}/items"), None);
        }
    }
    found
}

/// 550E: `acti` is `SOB` exactly when the price is absent or zero.
fn priced(
    find: &mut impl FnMut(u16, &str, Option<&str>),
    at: &str,
    price: Option<Amount>,
    activity: Activity,
) {
    let no_price = price.is_none_or(Amount::is_zero);
    if no_price != (activity == Activity::Sob) {
        find(550, &format!("{at}/acti"), Some(activity.code()));
    }
}
