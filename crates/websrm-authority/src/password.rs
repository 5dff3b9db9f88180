//! Passwords: argon2id hashes, and the checks of the online services' sign-in, bounded so that
//! no flood of sign-ins can take the authority's memory or the threads enrolment needs.
//!
//! - Each verification costs argon2id's memory (19 MiB with the default parameters), so at most
//!   [`SignInLimits::concurrent`] run at once, on threads of their own (`Verifier`), never on
//!   the blocking pool that answers certificate requests; at most as many again wait. Beyond
//!   that a sign-in is answered at once as busy (503 with `Retry-After`).
//! - Before any of that, a sign-in is counted against its network address and against the
//!   identification number typed (`RateLimiter`); beyond [`SignInLimits::per_address`] or
//!   [`SignInLimits::per_number`] in a [`SignInLimits::window`], it is answered at once (429 with
//!   `Retry-After`).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use time::OffsetDateTime;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use websrm_store::Zeroizing;

use crate::Error;

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Failed {
            what: "hashing the password".into(),
            cause: websrm_domain::Source::new(e),
        })
}

/// The hash an unknown identification number is checked against, so that signing in with one
/// costs what signing in with a known one does (argon2id with the same parameters).
pub(crate) fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("websrm: no operator has this password").unwrap_or_default())
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A random password of 20 letters and digits (about 119 bits).
pub fn generate_password() -> Result<String, Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).map_err(|e| Error::Failed {
        what: "random generator".into(),
        cause: websrm_domain::Source::new(e),
    })?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

/// How much sign-in work the online services accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignInLimits {
    /// Password verifications running at once (each holds argon2id's memory).
    pub concurrent: usize,
    /// Verifications waiting for one of those; more are answered as busy.
    pub queued: usize,
    /// Sign-ins accepted from one network address per window.
    pub per_address: u32,
    /// Sign-ins accepted for one identification number per window.
    pub per_number: u32,
    /// The window of the two rates.
    pub window: Duration,
}

impl Default for SignInLimits {
    /// One verification per core at once and as many waiting; 30 sign-ins a minute from one
    /// address, 10 a minute for one identification number (the lockout takes 5).
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            concurrent: cores,
            queued: cores,
            per_address: 30,
            per_number: 10,
            window: Duration::from_secs(60),
        }
    }
}

impl SignInLimits {
    /// These limits with `per_address` and `per_number` sign-ins per window.
    pub fn with_rates(mut self, per_address: u32, per_number: u32) -> Self {
        self.per_address = per_address;
        self.per_number = per_number;
        self
    }

    /// These limits with `concurrent` verifications at once and `queued` waiting.
    pub fn with_verifications(mut self, concurrent: usize, queued: usize) -> Self {
        self.concurrent = concurrent.max(1);
        self.queued = queued;
        self
    }
}

/// Why a sign-in is not verified now, and after how long to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Too many sign-ins from this address or for this number (429).
    TooMany(Duration),
    /// Every verification slot is taken (503).
    Busy(Duration),
}

impl Refused {
    /// Whole seconds for `Retry-After`, at least 1.
    pub(crate) fn retry_after(self) -> u64 {
        let (Self::TooMany(d) | Self::Busy(d)) = self;
        d.as_secs() + u64::from(d.subsec_nanos() > 0)
    }
}

struct Job {
    password: Zeroizing<String>,
    hash: String,
    answer: mpsc::SyncSender<bool>,
}

/// The threads that verify passwords, and the slots that bound them.
pub(crate) struct Verifier {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    /// Slots taken: running and waiting verifications.
    taken: Arc<AtomicUsize>,
    slots: usize,
    /// The most verifications that ran at once.
    peak: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("slots", &self.slots)
            .finish_non_exhaustive()
    }
}

/// A verification slot, given back when dropped.
pub(crate) struct Slot<'a> {
    verifier: &'a Verifier,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.verifier.taken.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Slot<'_> {
    /// Verifies `password` against `hash`; with no hash (an unknown name, or one without a
    /// password), against a dummy hash of the same cost, and `false`: the time of the answer
    /// tells nothing.
    pub(crate) fn verify_known(&self, password: &str, hash: Option<&str>) -> bool {
        match hash {
            Some(hash) => self.verify(password, hash),
            None => {
                let _ = self.verify(password, dummy_hash());
                false
            }
        }
    }

    /// Verifies `password` against `hash` on the verifier's threads; `false` if they are gone.
    pub(crate) fn verify(&self, password: &str, hash: &str) -> bool {
        let (answer, answered) = mpsc::sync_channel(1);
        let job = Job {
            password: Zeroizing::new(password.to_owned()),
            hash: hash.to_owned(),
            answer,
        };
        let sent = self
            .verifier
            .jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok());
        sent && answered.recv().unwrap_or(false)
    }
}

impl Verifier {
    /// `limits.concurrent` threads, and as many slots again for waiting verifications.
    pub(crate) fn start(limits: SignInLimits) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        for i in 0..limits.concurrent.max(1) {
            let (queue, running, peak) = (queue.clone(), running.clone(), peak.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("websrm-password-{i}"))
                .spawn(move || {
                    loop {
                        let job = {
                            let queue = queue
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            queue.recv()
                        };
                        let Ok(job) = job else { break };
                        let now = running.fetch_add(1, Ordering::AcqRel) + 1;
                        peak.fetch_max(now, Ordering::AcqRel);
                        let matches = verify_password(&job.password, &job.hash);
                        running.fetch_sub(1, Ordering::AcqRel);
                        let _ = job.answer.send(matches);
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password verification thread");
            }
        }
        Self {
            jobs: Mutex::new(Some(jobs)),
            taken: Arc::new(AtomicUsize::new(0)),
            slots: limits.concurrent.max(1) + limits.queued,
            peak,
        }
    }

    /// A slot, or `None` when every one is taken.
    pub(crate) fn slot(&self) -> Option<Slot<'_>> {
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                (taken < self.slots).then_some(taken + 1)
            })
            .ok()
            .map(|_| Slot { verifier: self })
    }

    /// The most verifications that ran at once so far.
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Acquire)
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        // The threads end when the queue closes.
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }
}

/// Counts events per key in fixed windows; bounded in memory (keys whose window ended are
/// dropped when the table grows).
pub(crate) struct RateLimiter<K> {
    limit: u32,
    window: Duration,
    counts: Mutex<HashMap<K, (OffsetDateTime, u32)>>,
}

impl<K> std::fmt::Debug for RateLimiter<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limit", &self.limit)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// Keys kept before those whose window ended are dropped.
const MAX_KEYS: usize = 65_536;

impl<K: Hash + Eq> RateLimiter<K> {
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event for `key` at `now`: `Err` with the time left in the window when the
    /// limit is already reached (the refused event is not counted).
    pub(crate) fn hit(&self, key: K, now: OffsetDateTime) -> Result<(), Duration> {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if counts.len() >= MAX_KEYS && !counts.contains_key(&key) {
            let window = self.window;
            counts.retain(|_, (start, _)| elapsed(*start, now) < window);
            if counts.len() >= MAX_KEYS {
                // Every key is live: a flood from more keys than the table holds. The counts
                // start over rather than the table grow, or every newcomer be refused (which
                // would let one flood lock everyone out); the other bounds still hold.
                tracing::warn!(
                    keys = counts.len(),
                    "sign-in rate table full; counts start over"
                );
                counts.clear();
            }
        }
        let entry = counts.entry(key).or_insert((now, 0));
        if elapsed(entry.0, now) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            return Err(self.window.saturating_sub(elapsed(entry.0, now)));
        }
        entry.1 += 1;
        Ok(())
    }
}

/// The time from `start` to `now`, zero if the clock went back.
fn elapsed(start: OffsetDateTime, now: OffsetDateTime) -> Duration {
    Duration::try_from(now - start).unwrap_or(Duration::ZERO)
}

/// The network a client's address stands for: the address itself for IPv4, its /64 for IPv6
/// (one host commonly holds a whole /64).
fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(v6) & !u128::from(u64::MAX),
        )),
    }
}

/// The sign-in's bounds: its rates and its verifier.
#[derive(Debug)]
pub(crate) struct SignInGate {
    by_address: RateLimiter<IpAddr>,
    by_number: RateLimiter<String>,
    pub(crate) verifier: Verifier,
}

impl SignInGate {
    pub(crate) fn new(limits: SignInLimits) -> Self {
        Self {
            by_address: RateLimiter::new(limits.per_address, limits.window),
            by_number: RateLimiter::new(limits.per_number, limits.window),
            verifier: Verifier::start(limits),
        }
    }

    /// Counts a sign-in at `now` from `peer` for `number` (as typed, when it is one): refused
    /// beyond either rate.
    pub(crate) fn admit(
        &self,
        now: OffsetDateTime,
        peer: Option<IpAddr>,
        number: Option<&str>,
    ) -> Result<(), Refused> {
        if let Some(peer) = peer {
            self.by_address
                .hit(network(peer), now)
                .map_err(Refused::TooMany)?;
        }
        if let Some(number) = number {
            self.by_number
                .hit(number.to_owned(), now)
                .map_err(Refused::TooMany)?;
        }
        Ok(())
    }

    /// A verification slot, or busy.
    pub(crate) fn slot(&self) -> Result<Slot<'_>, Refused> {
        self.verifier
            .slot()
            .ok_or(Refused::Busy(Duration::from_secs(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_more_verifications_run_at_once_than_the_limit_and_the_rest_are_busy() {
        let verifier = Arc::new(Verifier::start(
            SignInLimits::default().with_verifications(2, 2),
        ));
        let hash = hash_password("right").unwrap();
        let barrier = Arc::new(std::sync::Barrier::new(24));
        #[allow(clippy::needless_collect)] // Every thread starts before the first is joined.
        let threads: Vec<_> = (0..24)
            .map(|_| {
                let (verifier, hash, barrier) = (verifier.clone(), hash.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    verifier.slot().map(|slot| slot.verify("right", &hash))
                })
            })
            .collect();
        let outcomes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let busy = outcomes.iter().filter(|o| o.is_none()).count();
        assert!(busy >= 24 - 4, "at most 4 slots: {outcomes:?}");
        assert!(outcomes.iter().flatten().all(|m| *m), "{outcomes:?}");
        assert!(verifier.peak() <= 2, "peak {}", verifier.peak());
        assert!(verifier.peak() >= 1);
        // Slots are given back.
        assert!(verifier.slot().unwrap().verify("right", &hash));
        assert!(!verifier.slot().unwrap().verify("wrong", &hash));
    }

    #[test]
    fn a_rate_refuses_beyond_its_limit_until_the_window_ends() {
        let limiter = RateLimiter::new(3, Duration::from_secs(60));
        let t0 = OffsetDateTime::UNIX_EPOCH;
        for _ in 0..3 {
            limiter.hit("a", t0).unwrap();
        }
        let left = limiter.hit("a", t0 + Duration::from_secs(20)).unwrap_err();
        assert_eq!(left, Duration::from_secs(40));
        limiter.hit("b", t0).unwrap();
        limiter.hit("a", t0 + Duration::from_secs(60)).unwrap();
        assert_eq!(Refused::TooMany(left).retry_after(), 40);
        assert_eq!(Refused::Busy(Duration::from_millis(1500)).retry_after(), 2);
    }

    #[test]
    fn an_ipv6_host_counts_once_for_its_64_and_a_full_table_starts_over() {
        let gate = SignInGate::new(
            SignInLimits::default()
                .with_rates(2, 100)
                .with_verifications(1, 0),
        );
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        gate.admit(t0, Some(a), None).unwrap();
        gate.admit(t0, Some(b), None).unwrap();
        assert!(
            gate.admit(t0, Some(a), None).is_err(),
            "one /64, one budget"
        );
        gate.admit(t0, Some("2001:db8:1:3::1".parse().unwrap()), None)
            .unwrap();

        let limiter = RateLimiter::new(1, Duration::from_secs(60));
        for i in 0..MAX_KEYS {
            limiter.hit(i, t0).unwrap();
        }
        // Full of live keys: a newcomer is counted (the table starts over), not refused.
        limiter.hit(usize::MAX, t0).unwrap();
        limiter.hit(0, t0).unwrap();
    }
}
