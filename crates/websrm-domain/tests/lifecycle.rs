//! Validity, states and health at a given moment.

use proptest::prelude::*;
use time::{Duration, OffsetDateTime, macros::datetime};
use websrm_domain::*;

const ACTIVE: CertificateState = CertificateState::Active;

#[test]
fn validity_is_five_calendar_years() {
    let v = Validity::five_years_from(datetime!(2026-11-26 14:00:00.123 UTC));
    assert_eq!(v.not_before(), datetime!(2026-11-26 14:00:00 UTC));
    assert_eq!(v.not_after(), datetime!(2031-11-26 14:00:00 UTC));
    assert_eq!(v.half_life(), datetime!(2029-05-27 14:00:00 UTC));
    // 29 February has no counterpart five years later.
    let leap = Validity::five_years_from(datetime!(2028-02-29 09:30:00 UTC));
    assert_eq!(leap.not_after(), datetime!(2033-02-28 09:30:00 UTC));
    assert!(Validity::new(leap.not_after(), leap.not_before()).is_none());
}

#[test]
fn health_through_a_certificate_life() {
    let issued = datetime!(2026-01-01 00:00:00 UTC);
    let v = Validity::five_years_from(issued);
    let policy = WarningPolicy::default();
    let at = |t: OffsetDateTime| Health::classify(ACTIVE, &v, t, policy);
    assert_eq!(at(issued - Duration::seconds(1)), Health::NotYetValid);
    assert_eq!(at(issued), Health::Valid);
    assert_eq!(at(v.half_life() - Duration::seconds(1)), Health::Valid);
    assert_eq!(at(v.half_life()), Health::ReplacementRecommended);
    assert_eq!(
        at(v.not_after() - Duration::days(91)),
        Health::ReplacementRecommended
    );
    assert_eq!(
        at(v.not_after() - Duration::days(90)),
        Health::ExpiringSoon { days_left: 90 }
    );
    assert_eq!(
        at(v.not_after() - Duration::hours(1)),
        Health::ExpiringSoon { days_left: 0 }
    );
    assert_eq!(at(v.not_after()), Health::ExpiringSoon { days_left: 0 });
    assert_eq!(at(v.not_after() + Duration::seconds(1)), Health::Expired);
    assert!(at(v.not_after()).is_usable());
    assert!(!at(v.not_after() + Duration::seconds(1)).is_usable());
}

#[test]
fn warning_window_is_configurable() {
    let v = Validity::five_years_from(datetime!(2026-01-01 00:00:00 UTC));
    let policy = WarningPolicy {
        window: Duration::days(30),
    };
    let t = v.not_after() - Duration::days(60);
    assert_eq!(
        Health::classify(ACTIVE, &v, t, policy),
        Health::ReplacementRecommended
    );
    assert_eq!(
        Health::classify(ACTIVE, &v, t, WarningPolicy::default()),
        Health::ExpiringSoon { days_left: 60 }
    );
}

#[test]
fn recorded_states_take_precedence() {
    let v = Validity::five_years_from(datetime!(2026-01-01 00:00:00 UTC));
    let t = datetime!(2027-01-01 00:00:00 UTC);
    let p = WarningPolicy::default();
    let revoked = CertificateState::Revoked {
        reason: RevocationReason::KeyCompromise,
        channel: RevocationChannel::CustomerService,
    };
    assert_eq!(Health::classify(revoked, &v, t, p), Health::Revoked);
    assert_eq!(
        Health::classify(CertificateState::Deleted, &v, t, p),
        Health::Deleted
    );
    assert_eq!(
        Health::classify(CertificateState::Replaced, &v, t, p),
        Health::Replaced
    );
    assert!(!Health::classify(revoked, &v, t, p).is_usable());
    assert_eq!(
        ACTIVE.at(&v, v.not_after() + Duration::days(1)),
        CertificateState::Expired
    );
    assert_eq!(revoked.at(&v, v.not_after() + Duration::days(1)), revoked);
    assert!(ACTIVE.is_in_force() && !CertificateState::Expired.is_in_force());
}

#[test]
fn fixed_clock_is_an_input() {
    let clock = FixedClock(datetime!(2026-11-26 00:00:00 UTC));
    let dyn_clock: &dyn Clock = &clock;
    assert_eq!(dyn_clock.now(), datetime!(2026-11-26 00:00:00 UTC));
}

#[test]
fn revocation_reasons_and_channels() {
    for r in RevocationReason::ALL {
        assert_eq!(RevocationReason::from_code(r.code()), Some(r));
        assert_eq!(r.to_string().parse::<RevocationReason>().unwrap(), r);
    }
    assert_eq!(RevocationReason::from_code(7), None);
    assert_eq!(RevocationReason::KeyCompromise.code(), 1);
    assert_eq!(RevocationReason::CessationOfOperation.code(), 5);
    assert_eq!(
        "stolen".parse::<RevocationReason>().unwrap_err().kind(),
        Kind::RevocationReason
    );
    assert_eq!(
        "online-services".parse::<RevocationChannel>().unwrap(),
        RevocationChannel::OnlineServices
    );
    assert_eq!(
        RevocationChannel::CustomerService.to_string(),
        "customer-service"
    );
}

proptest! {
    #[test]
    fn validity_ends_five_years_later_and_half_life_is_inside(secs in 946_684_800i64..4_102_444_800) {
        let issued = OffsetDateTime::from_unix_timestamp(secs).unwrap();
        let v = Validity::five_years_from(issued);
        prop_assert_eq!(v.not_after().year(), issued.year() + 5);
        prop_assert!(v.contains(v.half_life()));
        let days = (v.not_after() - v.not_before()).whole_days();
        prop_assert!((1825..=1827).contains(&days), "{} days", days);
    }

    #[test]
    fn health_is_usable_exactly_within_validity(secs in 0i64..(6 * 366 * 86_400)) {
        let issued = datetime!(2026-01-01 00:00:00 UTC);
        let v = Validity::five_years_from(issued);
        let t = issued + Duration::seconds(secs);
        let h = Health::classify(ACTIVE, &v, t, WarningPolicy::default());
        prop_assert_eq!(h.is_usable(), v.contains(t));
    }
}
