//! Checking text against the fixed shapes the protocol writes as `9999-9999-9999`.

use crate::error::{CharClass, Kind, ParseError};

/// Checks `input` against `pattern`, in which `9` is a digit, `A` a letter, `X` a letter or digit,
/// `H` a hexadecimal digit and any other character itself (ASCII case ignored).
pub(crate) fn check(kind: Kind, input: &str, pattern: &str) -> Result<(), ParseError> {
    let found = input.chars().count();
    if found != pattern.len() {
        return Err(ParseError::Length {
            kind,
            min: pattern.len(),
            max: pattern.len(),
            found,
        });
    }
    for (index, (c, p)) in input.chars().zip(pattern.chars()).enumerate() {
        let (ok, expected) = match p {
            '9' => (c.is_ascii_digit(), CharClass::Digit),
            'A' => (c.is_ascii_alphabetic(), CharClass::Letter),
            'X' => (c.is_ascii_alphanumeric(), CharClass::Alphanumeric),
            'H' => (c.is_ascii_hexdigit(), CharClass::Hex),
            literal => (
                c.eq_ignore_ascii_case(&literal),
                CharClass::Literal(literal),
            ),
        };
        if !ok {
            return Err(ParseError::Character {
                kind,
                position: index + 1,
                expected,
            });
        }
    }
    Ok(())
}

/// Checks that every character of `input` satisfies `allowed`, with a length in `min..=max`.
pub(crate) fn check_chars(
    kind: Kind,
    input: &str,
    (min, max): (usize, usize),
    expected: CharClass,
    allowed: impl Fn(char) -> bool,
) -> Result<(), ParseError> {
    let found = input.chars().count();
    if !(min..=max).contains(&found) {
        return Err(ParseError::Length {
            kind,
            min,
            max,
            found,
        });
    }
    match input.chars().position(|c| !allowed(c)) {
        Some(index) => Err(ParseError::Character {
            kind,
            position: index + 1,
            expected,
        }),
        None => Ok(()),
    }
}

/// Whether `c` belongs to the WEB-SRM text alphabet: ASCII letters and digits, space,
/// `@:!#$%&'()*+,-.=?_|~` and the accented letters of Latin-1.
pub fn is_websrm_text_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || " @:!#$%&'()*+,-.=?_|~".contains(c)
        || matches!(c, '\u{C0}'..='\u{FF}') && c != '\u{D7}' && c != '\u{F7}'
}

/// Parses a run of ASCII hex digits into bytes; the caller has checked the shape.
pub(crate) fn hex_bytes<const N: usize>(input: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, pair) in input.as_bytes().chunks_exact(2).enumerate() {
        out[i] = (hex_value(pair[0]) << 4) | hex_value(pair[1]);
    }
    out
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        // Callers check the shape first; a non-hex byte cannot reach this point.
        _ => 0,
    }
}

/// Parses ASCII digits the caller has checked into a number.
pub(crate) fn digits_value(input: &str) -> u64 {
    input
        .bytes()
        .filter(u8::is_ascii_digit)
        .fold(0, |acc, b| acc * 10 + u64::from(b - b'0'))
}
