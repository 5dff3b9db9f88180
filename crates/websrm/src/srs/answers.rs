//! Idempotency keys: a request retried after its answer was lost gets the first answer again,
//! not a second effect. Signatures remember theirs with the link itself
//! ([`Srs::sign_in_chain_once`]); other callers (the agent) remember whole answers here.

use std::fmt;

use super::*;

/// How long remembered answers are kept at least: a POS retries within minutes, a till that was
/// off overnight within a day.
pub const ANSWERS_KEPT: time::Duration = time::Duration::hours(48);

/// A key the caller chooses for one request (e.g. a UUID), sent again with the same request
/// when it retries: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The key as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for IdempotencyKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::InvalidIdempotencyKey);
        }
        Ok(Self(s.to_owned()))
    }
}

/// A digest of a request's parts (SHA-256, hex), to tell whether a key is sent again with the
/// same request.
pub fn request_digest(parts: &[&[u8]]) -> String {
    let mut text = Vec::new();
    for part in parts {
        text.extend_from_slice(&(part.len() as u64).to_be_bytes());
        text.extend_from_slice(part);
    }
    websrm_crypto::sha256(&text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Srs {
    /// The answer remembered under `key`, if any (and not yet forgotten).
    pub fn remembered_answer(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<RememberedAnswer>, Error> {
        Ok(self.store().remembered_answer(key.as_str())?)
    }

    /// Remembers `answer` under `key`; a key already used keeps its first answer (`Ok(false)`).
    /// Answers older than [`ANSWERS_KEPT`] are forgotten at the same time.
    pub fn remember_answer(
        &self,
        key: &IdempotencyKey,
        answer: &RememberedAnswer,
    ) -> Result<bool, Error> {
        let mut store = self.store();
        store.forget_answers_before(self.now() - ANSWERS_KEPT)?;
        Ok(store.remember_answer(key.as_str(), answer)?)
    }
}
