//! Faults on purpose, as Pebble injects them for ACME clients: the network an SRS meets in the
//! field (an answer lost after the authority committed, an answer after the SRS gave up, a
//! web application firewall's 5xx or HTML page, a refused connection), so that a vendor can
//! see its SRS end in a consistent state.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::Error;

/// How often each fault strikes a protocol request (`POST` to `/enrolement`, `/certificats`,
/// `/transaction`, `/utilisateur`, `/document`), each a probability from 0 to 1. Written
/// `lost-answer=0.05,late-answer=0.02:12s,server-error=0.02,not-json=0.01,refuse=0.01`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct Faults {
    /// The request is processed (and committed), then the connection is closed without an
    /// answer.
    pub lost_answer: f64,
    /// The request is processed, then answered only after [`Faults::late_by`].
    pub late_answer: f64,
    /// How late a late answer is.
    pub late_by: Duration,
    /// Instead of processing, HTTP 503 with an HTML page, as a firewall in front would.
    pub server_error: f64,
    /// Instead of processing, HTTP 200 with an HTML page: not the JSON an SRS expects.
    pub not_json: f64,
    /// The connection is closed as soon as it is accepted, before TLS.
    pub refuse: f64,
}

/// The fault drawn for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// See [`Faults::lost_answer`].
    LostAnswer,
    /// See [`Faults::late_answer`].
    LateAnswer(Duration),
    /// See [`Faults::server_error`].
    ServerError,
    /// See [`Faults::not_json`].
    NotJson,
}

impl Fault {
    /// Its name, as written in [`Faults`] and in the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Self::LostAnswer => "lost-answer",
            Self::LateAnswer(_) => "late-answer",
            Self::ServerError => "server-error",
            Self::NotJson => "not-json",
        }
    }

    /// Whether the request is processed before the fault strikes.
    pub fn processes(self) -> bool {
        matches!(self, Self::LostAnswer | Self::LateAnswer(_))
    }
}

impl Faults {
    /// No fault at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether no fault can strike.
    pub fn is_none(&self) -> bool {
        self.request_total() == 0.0 && self.refuse == 0.0
    }

    fn request_total(&self) -> f64 {
        self.lost_answer + self.late_answer + self.server_error + self.not_json
    }

    /// The fault for one request, if any: one draw, so that at most one strikes and each with
    /// its own probability.
    pub fn draw(&self) -> Option<Fault> {
        if self.request_total() == 0.0 {
            return None;
        }
        let mut x = uniform();
        for (p, fault) in [
            (self.lost_answer, Fault::LostAnswer),
            (self.late_answer, Fault::LateAnswer(self.late_by)),
            (self.server_error, Fault::ServerError),
            (self.not_json, Fault::NotJson),
        ] {
            if x < p {
                return Some(fault);
            }
            x -= p;
        }
        None
    }

    /// Whether to close a connection just accepted.
    pub fn draw_refusal(&self) -> bool {
        self.refuse > 0.0 && uniform() < self.refuse
    }
}

/// A number drawn uniformly from [0, 1).
fn uniform() -> f64 {
    let mut bytes = [0u8; 8];
    // A generator that fails draws no fault.
    if getrandom::fill(&mut bytes).is_err() {
        return 1.0;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

impl FromStr for Faults {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let mut faults = Self {
            late_by: Duration::from_secs(12),
            ..Self::default()
        };
        let invalid = |why: String| Error::Invalid(format!("--faults {s}: {why}"));
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| invalid(format!("{part} is not NAME=PROBABILITY")))?;
            let (p, delay) = match value.split_once(':') {
                Some((p, delay)) if name == "late-answer" => (p, Some(delay)),
                Some(_) => return Err(invalid(format!("only late-answer takes a delay ({part})"))),
                None => (value, None),
            };
            let p: f64 = p
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .ok_or_else(|| invalid(format!("{value} is not a probability from 0 to 1")))?;
            match name {
                "lost-answer" => faults.lost_answer = p,
                "late-answer" => {
                    faults.late_answer = p;
                    if let Some(delay) = delay {
                        faults.late_by = parse_duration(delay).map_err(invalid)?;
                    }
                }
                "server-error" => faults.server_error = p,
                "not-json" => faults.not_json = p,
                "refuse" => faults.refuse = p,
                _ => {
                    return Err(invalid(format!(
                        "{name} is not a fault: lost-answer, late-answer, server-error, not-json or refuse"
                    )));
                }
            }
        }
        if faults.request_total() > 1.0 {
            return Err(invalid(
                "lost-answer, late-answer, server-error and not-json add up to more than 1".into(),
            ));
        }
        Ok(faults)
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lost-answer={},late-answer={}:{}ms,server-error={},not-json={},refuse={}",
            self.lost_answer,
            self.late_answer,
            self.late_by.as_millis(),
            self.server_error,
            self.not_json,
            self.refuse
        )
    }
}

/// `500ms`, `12s`, `2m`, `1h`, `3d`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text} has no unit (ms, s, m, h, d)"))?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{text} does not start with a number"))?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text}: the unit is ms, s, m, h or d")),
    };
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_read_their_spec_and_refuse_what_is_not_one() {
        let f: Faults =
            "lost-answer=0.05,late-answer=0.02:12s,server-error=0.02,not-json=0.01,refuse=0.01"
                .parse()
                .unwrap();
        assert_eq!(f.lost_answer, 0.05);
        assert_eq!((f.late_answer, f.late_by), (0.02, Duration::from_secs(12)));
        assert_eq!((f.server_error, f.not_json, f.refuse), (0.02, 0.01, 0.01));
        assert_eq!(f.to_string().parse::<Faults>().unwrap(), f);
        let short: Faults = "late-answer=0.5:250ms".parse().unwrap();
        assert_eq!(short.to_string().parse::<Faults>().unwrap(), short);
        assert!("".parse::<Faults>().unwrap().is_none());
        for bad in [
            "lost-answer",
            "lost-answer=2",
            "lost=0.1",
            "refuse=0.1:3s",
            "late-answer=0.1:3x",
            "lost-answer=0.6,not-json=0.6",
        ] {
            assert!(bad.parse::<Faults>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_certain_fault_always_strikes_and_none_never_does() {
        let always: Faults = "not-json=1".parse().unwrap();
        let never = Faults::none();
        for _ in 0..1000 {
            assert_eq!(always.draw(), Some(Fault::NotJson));
            assert_eq!(never.draw(), None);
            assert!(!never.draw_refusal());
        }
        // Drawn about as often as asked (a loose bound: 10,000 draws of 0.3 fall within
        // 0.25–0.35 with overwhelming probability).
        let some: Faults = "server-error=0.3".parse().unwrap();
        let n = (0..10_000).filter(|_| some.draw().is_some()).count();
        assert!((2_500..3_500).contains(&n), "{n}");
    }
}
