//! The value types of a transaction: amounts, quantities, moments, the `utc` mark, texts of
//! each kind, and the closed vocabularies (`typTrans`, `modPai`…), each parsed from and written
//! to its exact wire form.

use std::fmt;
use std::str::FromStr;

/// Why a value was refused: it does not have the form its field requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadValue;

/// An amount, `±999999999.99` (13 characters), kept in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Amount(i64);

impl Amount {
    /// The largest magnitude: 999 999 999.99.
    pub const MAX_CENTS: i64 = 99_999_999_999;
    /// Zero, `+000000000.00`.
    pub const ZERO: Self = Self(0);

    /// An amount of `cents`; `None` beyond ±999 999 999.99.
    pub const fn from_cents(cents: i64) -> Option<Self> {
        if cents.abs() > Self::MAX_CENTS {
            None
        } else {
            Some(Self(cents))
        }
    }

    /// The amount in cents.
    pub const fn cents(self) -> i64 {
        self.0
    }

    /// Whether it is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The sum, if it fits.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).and_then(Self::from_cents)
    }
}

impl FromStr for Amount {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, BadValue> {
        fixed_point(s, 9).map(Self)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fixed(f, self.0, 9)
    }
}

/// A quantity, `±99999.99` (9 characters), kept in hundredths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Quantity(i64);

impl Quantity {
    /// The largest magnitude: 99 999.99.
    pub const MAX_HUNDREDTHS: i64 = 9_999_999;
    /// One, `+00001.00`.
    pub const ONE: Self = Self(100);
    /// Zero, `+00000.00` (never printed).
    pub const ZERO: Self = Self(0);

    /// A quantity of `hundredths`; `None` beyond ±99 999.99.
    pub const fn from_hundredths(hundredths: i64) -> Option<Self> {
        if hundredths.abs() > Self::MAX_HUNDREDTHS {
            None
        } else {
            Some(Self(hundredths))
        }
    }

    /// The quantity in hundredths.
    pub const fn hundredths(self) -> i64 {
        self.0
    }
}

impl FromStr for Quantity {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, BadValue> {
        fixed_point(s, 5).map(Self)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fixed(f, self.0, 5)
    }
}

/// `±` + `digits` digits + `.` + 2 digits, as hundredths.
fn fixed_point(s: &str, digits: usize) -> Result<i64, BadValue> {
    let b = s.as_bytes();
    if b.len() != digits + 4 || b[digits + 1] != b'.' {
        return Err(BadValue);
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return Err(BadValue),
    };
    let mut value: i64 = 0;
    for (i, c) in b[1..].iter().enumerate() {
        if i == digits {
            continue;
        }
        if !c.is_ascii_digit() {
            return Err(BadValue);
        }
        value = value * 10 + i64::from(c - b'0');
    }
    Ok(sign * value)
}

fn write_fixed(f: &mut fmt::Formatter<'_>, value: i64, digits: usize) -> fmt::Result {
    let sign = if value < 0 { '-' } else { '+' };
    let v = value.unsigned_abs();
    write!(
        f,
        "{sign}{:0digits$}.{:02}",
        v / 100,
        v % 100,
        digits = digits
    )
}

/// A moment, `AAAAMMJJhhmmss` in the SRS's local time: a real date, in 2019 or later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Moment(time::PrimitiveDateTime);

impl Moment {
    /// The moment `at`, to the second; `None` before 2019 or after 9999.
    pub fn new(at: time::PrimitiveDateTime) -> Option<Self> {
        (2019..=9999)
            .contains(&at.year())
            .then(|| Self(at.replace_nanosecond(0).unwrap_or(at)))
    }

    /// The date and time.
    pub const fn date_time(self) -> time::PrimitiveDateTime {
        self.0
    }
}

impl FromStr for Moment {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, BadValue> {
        if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadValue);
        }
        let n = |r: std::ops::Range<usize>| s[r].parse::<u16>().map_err(|_| BadValue);
        let year = i32::from(n(0..4)?);
        let month = time::Month::try_from(n(4..6)? as u8).map_err(|_| BadValue)?;
        let date =
            time::Date::from_calendar_date(year, month, n(6..8)? as u8).map_err(|_| BadValue)?;
        let clock = time::Time::from_hms(n(8..10)? as u8, n(10..12)? as u8, n(12..14)? as u8)
            .map_err(|_| BadValue)?;
        Self::new(time::PrimitiveDateTime::new(date, clock)).ok_or(BadValue)
    }
}

impl fmt::Display for Moment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(
            f,
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        )
    }
}

/// A text field's rules: its length and the characters it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TextRule {
    pub min: usize,
    pub max: usize,
    /// `descr` also accepts `/ < > \`.
    pub extended: bool,
}

impl TextRule {
    pub(crate) const NAME: Self = Self::new(1, 64);
    pub(crate) const DESCRIPTION: Self = Self {
        min: 2,
        max: 128,
        extended: true,
    };
    pub(crate) const CIVIC: Self = Self::new(1, 16);
    pub(crate) const STREET: Self = Self::new(2, 128);

    const fn new(min: usize, max: usize) -> Self {
        Self {
            min,
            max,
            extended: false,
        }
    }

    /// Whether `s` keeps the rule (its characters counted, not its bytes).
    pub(crate) fn accepts(self, s: &str) -> bool {
        let n = s.chars().count();
        n >= self.min
            && n <= self.max
            && s.chars()
                .all(|c| base_char(c) || (self.extended && matches!(c, '/' | '<' | '>' | '\\')))
    }
}

/// The base character set of SW-73 §4.1.
pub(crate) fn base_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || " @:!#$%&'()*+,-.=?_|~".contains(c)
        || matches!(c, 'À'..='Ï' | 'Ñ'..='Ö' | 'Ø'..='Ý' | 'à'..='ö' | 'ø'..='ý' | 'ÿ')
}

/// Whether `s` starts or ends with a space (`JW00B999468E`).
pub(crate) fn padded(s: &str) -> bool {
    s.starts_with(' ') || s.ends_with(' ')
}

/// A transaction number, `noTrans`: 1 to 10 of `[a-zA-Z0-9-.]`, at least one letter or digit;
/// compared case-sensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionNumber(String);

impl TransactionNumber {
    /// The number as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TransactionNumber {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, BadValue> {
        let ok = (1..=10).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && s.bytes().any(|b| b.is_ascii_alphanumeric());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(BadValue)
        }
    }
}

impl fmt::Display for TransactionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A signature as a transaction carries it (`actu`, `preced`): 88 Base64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SignatureText(String);

impl SignatureText {
    /// `preced` of the first transaction of a chain: 88 `=`.
    pub fn first() -> Self {
        Self("=".repeat(88))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SignatureText {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, BadValue> {
        let ok = s.len() == 88
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(BadValue)
        }
    }
}

impl fmt::Display for SignatureText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A closed vocabulary of the wire: each variant and its code.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in the guide's order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The code on the wire.
            pub const fn code(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }
        }

        impl FromStr for $name {
            type Err = BadValue;

            fn from_str(s: &str) -> Result<Self, BadValue> {
                match s {
                    $($code => Ok(Self::$variant),)*
                    _ => Err(BadValue),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

vocabulary! {
    /// `abrvt`: the sector of the transaction.
    SectorCode {
        /// Restaurants, bars, food trucks.
        Restaurant = "RBC",
        /// Remunerated passenger transportation.
        Transport = "TRP",
    }
}

vocabulary! {
    /// `typServ`: how a restaurant served.
    ServiceType {
        /// Counter service.
        Counter = "CMP",
        /// Delivery by the operator or its staff.
        Delivery = "LVR",
        /// Ordered through a digital platform.
        Platform = "LVT",
        /// Table service.
        Table = "TBL",
    }
}

vocabulary! {
    /// `tax`: the taxes that apply to a price.
    TaxCode {
        /// GST.
        F = "F",
        /// QST.
        P = "P",
        /// Supplementary tax.
        S = "S",
        /// GST and QST.
        Fp = "FP",
        /// GST and supplementary tax.
        Fs = "FS",
        /// QST and supplementary tax.
        Ps = "PS",
        /// All three.
        Fps = "FPS",
        /// Not taxable.
        Non = "NON",
        /// Not applicable (a price of zero).
        Sob = "SOB",
    }
}

impl TaxCode {
    /// Whether GST applies.
    pub fn gst(self) -> bool {
        self.code().contains('F')
    }

    /// Whether QST applies.
    pub fn qst(self) -> bool {
        self.code().contains('P')
    }

    /// Whether a supplementary tax applies.
    pub fn supplementary(self) -> bool {
        self.code().contains('S') && self != Self::Sob
    }
}

vocabulary! {
    /// `acti`: the sub-activity of an item.
    Activity {
        /// Restaurant (food).
        Restaurant = "RES",
        /// Bar (alcohol).
        Bar = "BAR",
        /// Caterer (cuisine de rue, traiteur).
        Caterer = "CDR",
        /// Habitual third party.
        Habitual = "HAB",
        /// Passenger transportation.
        Transport = "TRP",
        /// Not covered.
        Non = "NON",
        /// Not applicable (no price).
        Sob = "SOB",
    }
}

impl Activity {
    /// Whether the sector admits it (`JW00B999454E`).
    pub fn allowed_in(self, sector: SectorCode) -> bool {
        match sector {
            SectorCode::Transport => matches!(self, Self::Transport | Self::Non | Self::Sob),
            SectorCode::Restaurant => !matches!(self, Self::Transport),
        }
    }
}

vocabulary! {
    /// `relaCommer`: business to business, or to consumer.
    Relation {
        /// To a business.
        B2b = "B2B",
        /// To a consumer.
        B2c = "B2C",
    }
}

vocabulary! {
    /// `typAdr`: what an address of `clint` is.
    AddressType {
        /// Where the business operates.
        Establishment = "EXP",
        /// Where the service was rendered.
        Service = "SRV",
    }
}

vocabulary! {
    /// `commerElectr`: whether the sale is electronic commerce.
    Electronic {
        /// No.
        No = "N",
        /// Yes.
        Yes = "O",
    }
}

vocabulary! {
    /// `typTrans`: the kind of document.
    TransactionType {
        /// Addition (a bill before payment).
        Addition = "ADDI",
        /// Estimate.
        Estimate = "ESTM",
        /// Closing receipt (also credit notes).
        ClosingReceipt = "RFER",
        /// Quotation.
        Quotation = "SOUM",
        /// Unusual third party.
        UnusualThirdParty = "TIER",
        /// Not applicable (abandoned before a type was chosen).
        Sob = "SOB",
    }
}

vocabulary! {
    /// `modPai`: how it was paid.
    PaymentMode {
        /// Cash.
        Cash = "ARG",
        /// Cheque.
        Cheque = "CHQ",
        /// Coupon.
        Coupon = "COU",
        /// Credit card.
        Credit = "CRE",
        /// Debit card.
        Debit = "DEB",
        /// Prepaid card, gift certificate.
        Prepaid = "CPR",
        /// Loyalty programme.
        Loyalty = "FID",
        /// Cryptocurrency.
        Crypto = "CRY",
        /// Electronic wallet.
        Wallet = "MVO",
        /// Funds transfer.
        Transfer = "TFD",
        /// Several modes.
        Mixed = "MIX",
        /// Charged to an account.
        Account = "PAC",
        /// Another mode.
        Other = "AUT",
        /// Unknown.
        Unknown = "INC",
        /// No payment.
        None = "AUC",
        /// Not applicable.
        Sob = "SOB",
    }
}

vocabulary! {
    /// `modImpr`: what the document is.
    PrintMode {
        /// A bill or any other document.
        Bill = "FAC",
        /// A reproduction.
        Reproduction = "RPR",
        /// A duplicate.
        Duplicate = "DUP",
        /// The customer left without paying.
        LeftWithoutPaying = "PSP",
        /// Cancelled during entry.
        Abandoned = "ANN",
    }
}

vocabulary! {
    /// `formImpr`: how it was given.
    PrintFormat {
        /// On paper.
        Paper = "PAP",
        /// Electronically.
        Electronic = "ELE",
        /// Both at once.
        PaperAndElectronic = "PEL",
        /// Not printed.
        NotPrinted = "NON",
    }
}

vocabulary! {
    /// `modTrans`: operational or training.
    TransmissionMode {
        /// Operational.
        Operational = "OPE",
        /// Training.
        Training = "FOR",
    }
}

vocabulary! {
    /// `utc`: the SRS's standard offset and whether daylight time was in force.
    UtcMark {
        /// Eastern, standard time.
        EasternStandard = "-05:00N",
        /// Eastern, daylight time.
        EasternDaylight = "-05:00A",
        /// Atlantic (Îles-de-la-Madeleine), standard time.
        AtlanticStandard = "-04:00N",
        /// Atlantic, daylight time.
        AtlanticDaylight = "-04:00A",
    }
}

impl UtcMark {
    /// The offset from UTC in force at the moment: the standard one, plus an hour in daylight
    /// time.
    pub fn offset_minutes(self) -> i32 {
        match self {
            Self::EasternStandard => -300,
            Self::EasternDaylight | Self::AtlanticStandard => -240,
            Self::AtlanticDaylight => -180,
        }
    }
}
