//! Every error id websrm knows, explained: its messages in French and English, its `codRetour`,
//! when it is returned (where the catalogue states it), whether WEB-SRM follows it with
//! `JW00B999999E`, who can fix it and whether the request may be sent again. One source for
//! `websrm explain` and `docs/ERRORS.md`.

use websrm_domain::{Cause, ErrorId, Origin, ReturnCode};

use crate::catalogue::{CATALOGUE, lookup};
use crate::transaction::{needs_companion, service_errors};

/// What websrm knows of one error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Explanation {
    /// The id, `JW00B999nnnE`.
    pub id: ErrorId,
    /// The `codRetour`; none for the companion message.
    pub return_code: Option<ReturnCode>,
    /// The message in French (values shown as `{0}`, `{1}` where the authority fills them).
    pub french: &'static str,
    /// The same in English.
    pub english: &'static str,
    /// When the authority returns it, where the catalogue states it.
    pub condition: Option<&'static str>,
    /// Whether WEB-SRM follows it with `JW00B999999E` ("contact your retailer").
    pub companion: bool,
}

impl Explanation {
    /// Who can fix it, from the first digit of `codRetour`, in English.
    pub fn who(&self) -> &'static str {
        match self.return_code.map(ReturnCode::cause) {
            None => "nobody: it accompanies another error and is never shown alone",
            Some(Cause::UserData) => "the user: it comes from data the user entered",
            Some(Cause::Software) => "the SRS's vendor: it comes from the software or its version",
            Some(Cause::Unexpected) => "neither: an unexpected error of the authority",
            Some(_) => "not stated by the protocol",
        }
    }

    /// What the SRS does next, from the second digit of `codRetour` (SW-73 table 6), in
    /// English.
    pub fn next_step(&self) -> &'static str {
        match self.return_code.map(ReturnCode::origin) {
            None => "show it after the error it accompanies",
            Some(Origin::Unexpected) => {
                "send the same request again later; a transaction goes unchanged in the next batch"
            }
            Some(Origin::NotUnderstandable | Origin::MissingFields) => {
                "correct the request and send it again; a transaction is sent again as a new one \
                 (new noTrans, datTrans, datActu, actu, preced)"
            }
            Some(Origin::InvalidCertificate) => {
                "do not send it again: the certificate can no longer be used; obtain a new one, and \
                 until then print the invalid-certificate mentions"
            }
            Some(Origin::UnexpectedValue) => {
                "do not send it again: a value differs from the test case's; correct it and run \
                 the step again"
            }
            Some(Origin::InvalidHeader)
                if self.return_code.map(ReturnCode::cause) == Some(Cause::UserData) =>
            {
                "do not send it again: the user corrects what it names (authorization code, tax or \
                 file numbers), then a new request is made"
            }
            Some(Origin::InvalidHeader) => {
                "do not send it again: correct the headers (the software or its configuration)"
            }
            Some(Origin::InvalidInformation) => {
                "do not send it again: it was received; correct it with a new transaction (revise \
                 the addition, correct the receipt)"
            }
            Some(_) => "not stated by the protocol",
        }
    }

    /// Whether the same request may be sent again (`codRetour` ending in 0, 1 or 5).
    pub fn retransmittable(&self) -> bool {
        self.return_code.is_some_and(ReturnCode::is_retransmittable)
    }
}

/// The explanation of `id`, if websrm knows it.
pub fn explain(id: ErrorId) -> Option<Explanation> {
    if let Some(e) = lookup(id) {
        return Some(Explanation {
            id,
            return_code: e.return_code(),
            french: e.french,
            english: e.english,
            condition: Some(e.condition),
            companion: e.has_companion(),
        });
    }
    service_errors()
        .find(|e| e.0 == id.number())
        .map(|(_, code, french, english)| Explanation {
            id,
            return_code: ReturnCode::new(code),
            french,
            english,
            condition: None,
            companion: needs_companion(id),
        })
}

/// Every error websrm knows, by number.
pub fn all() -> Vec<Explanation> {
    let mut numbers: Vec<u16> = CATALOGUE
        .iter()
        .map(|e| e.number)
        .chain(service_errors().map(|e| e.0))
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers
        .into_iter()
        .filter_map(ErrorId::new)
        .filter_map(explain)
        .collect()
}

/// Reads an error id written `JW00B999514E`, `514E` or `514`.
pub fn parse_id(text: &str) -> Option<ErrorId> {
    let text = text.trim();
    if let Ok(id) = text.parse::<ErrorId>() {
        return Some(id);
    }
    let digits = text.strip_suffix(['E', 'e']).unwrap_or(text);
    (digits.len() <= 3 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse::<u16>().ok())
        .flatten()
        .and_then(ErrorId::new)
}

/// `docs/ERRORS.md`: every error, as `websrm explain` explains it.
pub fn markdown() -> String {
    let mut out = String::from(
        "# WEB-SRM errors\n\n\
         Generated from websrm-protocol's tables (`websrm explain --all --markdown`); do not edit by \
         hand. `websrm explain ID` prints one. `codRetour`: the first digit says who can fix it \
         (1 the user, 9 the software, 0 neither), the second what the SRS does next (SW-73 \
         table 6). † marks the errors WEB-SRM follows with `JW00B999999E`.\n\n\
         | id | codRetour | message (French) | message (English) | when | next step |\n\
         |---|---|---|---|---|---|\n",
    );
    let cell = |s: &str| s.replace('|', "\\|");
    for e in all() {
        out.push_str(&format!(
            "| `{}`{} | {} | {} | {} | {} | {} |\n",
            e.id,
            if e.companion { " †" } else { "" },
            e.return_code
                .map_or_else(|| "—".to_owned(), |c| c.to_string()),
            cell(e.french),
            cell(e.english),
            e.condition.map_or_else(String::new, cell),
            cell(e.next_step()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_in_any_of_their_forms_and_every_one_is_explained() {
        for text in ["JW00B999514E", "514E", "514", " 514 "] {
            assert_eq!(parse_id(text).map(|i| i.number()), Some(514), "{text}");
        }
        assert_eq!(parse_id("5145"), None);
        assert_eq!(parse_id("abc"), None);
        let e = explain(parse_id("514").unwrap()).unwrap();
        assert_eq!(e.return_code.map(|c| c.value()), Some(14));
        assert!(!e.retransmittable());
        assert!(e.who().starts_with("the user"));
        let e = explain(parse_id("305").unwrap()).unwrap();
        assert!(e.retransmittable() && e.companion, "{e:?}");
        let all = all();
        assert!(all.len() > 120, "{}", all.len());
        assert!(all.windows(2).all(|w| w[0].id.number() < w[1].id.number()));
        assert!(
            all.iter()
                .all(|e| !e.french.is_empty() && !e.english.is_empty())
        );
        let doc = markdown();
        assert_eq!(
            doc.lines().filter(|l| l.starts_with("| `JW")).count(),
            all.len()
        );
    }
}
