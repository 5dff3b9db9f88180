//! `websrm demo`: a local authority and an SRS going through the whole certificate lifecycle,
//! told step by step. It exits with an error at the first step that does not behave as the
//! protocol says.

use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use time::{Duration, OffsetDateTime};
use websrm::domain::published::{self, PublishedOperator};
use websrm::domain::{CertificateState, Environment, Health, Sector};
use websrm::{
    AuthorityAddress, BillingGuard, Config, Confirmation, DeviceIdAnswer, OperatorEnrolment, Srs,
};
use websrm_authority::{Authority, AuthorityFiles, SystemClock, seed, server};

use crate::facade::{health_text, test_product};

/// Sale `n` of the day, `n` minutes after the day's first one (Eastern time), from the example
/// a POS writes (docs/examples/transactions).
fn sale(first: OffsetDateTime, n: i64) -> Result<websrm::transaction::Sale> {
    let mut json: serde_json::Value = serde_json::from_str(include_str!(
        "../../../docs/examples/transactions/restaurant-closing-receipt.json"
    ))?;
    let at = (first + Duration::minutes(n)).to_offset(time::UtcOffset::from_hms(-5, 0, 0)?);
    json["noTrans"] = format!("{:010}", 1000 + n).into();
    json["datTrans"] = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
    .into();
    websrm::transaction::read_sale(&json, websrm::transaction::Checks::default().with_sums())
        .map_err(|found| anyhow::anyhow!("the example sale is refused: {found:?}"))
}

/// Three sales transmitted, two kept while the authority cannot be reached (`cut_off` is the
/// same SRS seen through a closed port), and the next one taking them along in a batch.
async fn day_of_business(
    srs: &Srs,
    cut_off: &Srs,
    operator: &websrm::domain::IdentificationNumber,
) -> Result<()> {
    use websrm::transaction::Checks;
    use websrm::{Origin, Outcome};
    let first = OffsetDateTime::now_utc() - Duration::minutes(10);
    for n in 1..=3 {
        let t = srs
            .transmit(&Origin::Host, operator, sale(first, n)?, Checks::default())
            .await?;
        let Outcome::Transmitted {
            psi_no_trans,
            psi_dat_trans,
        } = &t.outcome
        else {
            bail!("sale {n} was not transmitted: {:?}", t.outcome);
        };
        say(format!(
            "bill {}: psiNoTrans {psi_no_trans} at {psi_dat_trans}, device {}",
            t.transaction.sale.number, t.device_id
        ));
        if n == 1 {
            let mentions: Vec<&str> = t.mentions.iter().map(|m| m.text.as_str()).collect();
            say(format!("  mentions: {}", mentions.join(" / ")));
            ensure!(
                t.qr_url.starts_with("https://cnfr.qr.mev-web.ca?f="),
                "the QR code's URL"
            );
            say(format!(
                "  QR code: {}… ({} characters, encrypted with certifPSI)",
                t.qr_url.get(..64).unwrap_or_default(),
                t.qr_url.len()
            ));
        }
    }
    say("the connection drops:");
    for n in 4..=5 {
        let t = cut_off
            .transmit(&Origin::Host, operator, sale(first, n)?, Checks::default())
            .await?;
        ensure!(
            matches!(t.outcome, Outcome::Offline { .. }),
            "sale {n} kept offline: {:?}",
            t.outcome
        );
        say(format!(
            "bill {}: « {} », kept in the outbox",
            t.transaction.sale.number,
            t.outcome.mention().unwrap_or_default()
        ));
    }
    let outbox = srs.outbox(10)?;
    ensure!(
        outbox.pending == 2 && outbox.offline.is_some(),
        "two pending, offline"
    );
    say("the connection is back:");
    let t = srs
        .transmit(&Origin::Host, operator, sale(first, 6)?, Checks::default())
        .await?;
    ensure!(
        matches!(t.outcome, Outcome::Transmitted { .. }) && t.batch.sent == 2,
        "the next sale takes the batch along: {:?} {:?}",
        t.outcome,
        t.batch
    );
    let (no_lot, _) = t.batch.batches.first().context("a batch number")?;
    say(format!(
        "bill {} transmitted with the two pending ones (batch noLot {no_lot}); outbox empty, offline mode logged from start to end",
        t.transaction.sale.number
    ));
    ensure!(srs.outbox(1)?.pending == 0, "nothing pending");
    Ok(())
}

/// What `operator` of the published test data enters for its restaurant's certificate.
fn restaurant_enrolment(operator: PublishedOperator, nickname: &str) -> Result<OperatorEnrolment> {
    let missing = || anyhow::anyhow!("the published test data has no restaurant values");
    Ok(OperatorEnrolment::parse(
        operator.identification_number,
        operator.code(Sector::Restaurant).ok_or_else(missing)?,
        "RBC",
        operator.qst.ok_or_else(missing)?,
        operator.file(Sector::Restaurant).ok_or_else(missing)?,
        nickname,
        "-05:00",
    )?)
}

fn step(n: u32, text: &str) {
    println!("\n{n}. {text}");
}

fn say(text: impl AsRef<str>) {
    println!("   {}", text.as_ref());
}

pub(crate) fn run() -> Result<()> {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir()?;
    let now = OffsetDateTime::now_utc();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    step(
        1,
        "Starting a local WEB-SRM authority (DEV) with the published test data.",
    );
    let files =
        AuthorityFiles::open_or_create(&dir.path().join("authority"), Environment::Dev, now)?;
    let (authority, tls) = Authority::new(files, Environment::Dev, Arc::new(SystemClock));
    seed::seed_test_data(&authority, now)?;
    let authority = Arc::new(authority);
    let (enrolment, api) = runtime.block_on(async {
        Ok::<_, std::io::Error>((
            tokio::net::TcpListener::bind("127.0.0.1:0").await?,
            tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        ))
    })?;
    let enrolment_base = format!("https://{}", enrolment.local_addr()?);
    let api_base = format!("https://{}", api.local_addr()?);
    say(format!(
        "enrolment host {enrolment_base}/enrolement (server-authenticated TLS)"
    ));
    say(format!(
        "API host       {api_base}/certificats (mutual TLS with the SRS's certificate)"
    ));
    let trust_pem = tls.root_pem();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = authority.clone();
    let server = runtime.spawn(async move {
        server::serve(served, enrolment, api, tls.chain.clone(), &tls.key, async {
            let _ = stopped.await;
        })
        .await
    });

    let result = runtime.block_on(walk(&authority, &dir, enrolment_base, api_base, trust_pem));
    let _ = stop.send(());
    let _ = runtime.block_on(server);
    result?;
    authority
        .admin()
        .verify_audit()
        .context("the authority's audit log")?;
    println!(
        "\nEvery step behaved as the protocol says ({:.1} s). The authority's audit log is intact.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn walk(
    authority: &Authority,
    dir: &tempfile::TempDir,
    enrolment: String,
    api: String,
    trust_pem: String,
) -> Result<()> {
    let store = dir.path().join("pos").join("websrm.db");
    std::fs::create_dir_all(store.parent().context("a folder")?)?;
    let address = AuthorityAddress::Local {
        enrolment,
        api,
        trust_pem,
    };
    let config =
        Config::new(Environment::Dev, test_product()?, &store).with_authority(address.clone());
    let srs = Srs::open(config.clone().with_installation("caisse-bar"))?;
    let bar: websrm::domain::Nickname = "Caisse du bar".parse()?;

    step(
        2,
        "The restaurant's SRS asks for its first certificate (AJO). The device has no identifier yet,",
    );
    say(
        "so the SRS asks \"Do you already have an identifier for this device?\"; the user answers no.",
    );
    ensure!(srs.device_id()?.is_none(), "a new device has no identifier");
    let michel = restaurant_enrolment(published::MICHEL_UNTEL, "Caisse du bar")?;
    match srs.enrol(&michel, None).await {
        Err(websrm::Error::DeviceIdQuestion) => {}
        other => {
            bail!("without an answer to the device question the SRS must ask it, got {other:?}")
        }
    }
    let first = srs.enrol(&michel, Some(DeviceIdAnswer::RequestNew)).await?;
    let device = srs
        .device_id()?
        .context("the authority assigned a device identifier")?;
    say(format!(
        "the authority issued certificate {} and device identifier {device}",
        first.serial
    ));
    say(format!(
        "valid from {} to {} (five years)",
        first.validity.not_before().date(),
        first.validity.not_after().date()
    ));
    ensure!(
        first.validity.not_after().year() == first.validity.not_before().year() + 5,
        "five years of validity"
    );

    step(3, "Status of the SRS today.");
    let today = OffsetDateTime::now_utc();
    for c in srs.certificates(today)? {
        say(format!(
            "\"{}\": {} — expires {}",
            c.nickname,
            health_text(c.health),
            c.validity.not_after().date()
        ));
        ensure!(c.health == Health::Valid, "a new certificate is valid");
    }
    ensure!(
        srs.billing_guard(&michel.identification_number, today)? == BillingGuard::Allowed,
        "billing is allowed"
    );
    say("the billing guard allows producing bills");

    step(
        4,
        "A second operator (Express Taxe) installs its SRS on the same device.",
    );
    let second_srs = Srs::open(config.clone().with_installation("caisse-express"))?;
    let express = restaurant_enrolment(published::EXPRESS_TAXE, "Caisse Express Taxe")?;
    let other = second_srs.enrol(&express, None).await?;
    ensure!(
        second_srs.device_id()? == Some(device),
        "the same device keeps its identifier"
    );
    say(format!(
        "certificate {} issued under the same device identifier {device}",
        other.serial
    ));

    step(
        5,
        "The restaurant replaces its certificate (REM, over mutual TLS with the current one).",
    );
    let replaced = srs.replace(&bar, Confirmation::Confirmed).await?;
    ensure!(replaced.serial != first.serial, "a new certificate");
    let old = authority
        .admin()
        .certificate(first.serial)?
        .context("the old certificate is on record")?;
    ensure!(
        old.state == CertificateState::Replaced,
        "the authority marked the old certificate replaced"
    );
    say(format!(
        "new certificate {}; the authority marked {} replaced",
        replaced.serial, first.serial
    ));

    step(
        6,
        "A day of business: each sale is recorded in the outbox, then transmitted with the certificate.",
    );
    let unreachable = {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")?;
        format!("https://{}", closed.local_addr()?)
    };
    let AuthorityAddress::Local {
        enrolment,
        trust_pem,
        ..
    } = address
    else {
        bail!("the demo's authority is local");
    };
    let cut_off = Srs::open(
        config
            .clone()
            .with_installation("caisse-bar")
            .with_authority(AuthorityAddress::Local {
                enrolment,
                api: unreachable,
                trust_pem,
            }),
    )?;
    day_of_business(&srs, &cut_off, &michel.identification_number).await?;

    step(
        7,
        "Status at later dates: the SRS warns before expiry and stops billing after it.",
    );
    let validity = replaced.validity;
    let dates = [
        ("past half-life", validity.half_life() + Duration::days(1)),
        (
            "30 days before expiry",
            validity.not_after() - Duration::days(30),
        ),
        (
            "the day after expiry",
            validity.not_after() + Duration::days(1),
        ),
    ];
    for (label, at) in dates {
        let view = srs
            .certificates(at)?
            .into_iter()
            .find(|c| c.nickname == bar)
            .context("the certificate")?;
        say(format!(
            "{label} ({}): {}",
            at.date(),
            health_text(view.health)
        ));
        if let Some(w) = &view.warning {
            say(format!("  « {} »", w.french));
        }
        let guard = srs.billing_guard(&michel.identification_number, at)?;
        match (label, view.health, &guard) {
            ("past half-life", Health::ReplacementRecommended, BillingGuard::Allowed) => {}
            (
                "30 days before expiry",
                Health::ExpiringSoon { days_left: 30 },
                BillingGuard::Allowed,
            ) => {}
            ("the day after expiry", Health::Expired, BillingGuard::Blocked { mentions, .. }) => {
                say(format!(
                    "  billing blocked; a bill printed anyway must bear {} and {}",
                    mentions[0], mentions[1]
                ));
            }
            _ => bail!(
                "unexpected health {:?} or billing decision {guard:?} {label}",
                view.health
            ),
        }
    }

    step(
        8,
        "The restaurant deletes its certificate (SUP), after the user confirms.",
    );
    ensure!(
        matches!(
            srs.delete(&bar, Confirmation::NotConfirmed).await,
            Err(websrm::Error::NotConfirmed)
        ),
        "deletion needs confirmation"
    );
    srs.delete(&bar, Confirmation::Confirmed).await?;
    let record = authority
        .admin()
        .certificate(replaced.serial)?
        .context("on record")?;
    ensure!(
        record.state == CertificateState::Deleted,
        "the authority marked it deleted"
    );
    ensure!(
        srs.device_id()? == Some(device),
        "the device identifier outlives its certificates"
    );
    say(format!(
        "the authority marked {} deleted; the device keeps identifier {device}",
        replaced.serial
    ));
    let left: Vec<String> = srs
        .certificates(OffsetDateTime::now_utc())?
        .iter()
        .map(|c| c.nickname.to_string())
        .collect();
    say(format!(
        "certificates left on the device: {}",
        left.join(", ")
    ));
    ensure!(
        left == ["Caisse Express Taxe"],
        "only the other operator's certificate is left"
    );

    step(
        9,
        "Express Taxe reports a backup of its POS lost: customer service revokes the certificate.",
    );
    let stolen = second_srs
        .certificates(OffsetDateTime::now_utc())?
        .into_iter()
        .next()
        .context("the Express Taxe certificate")?;
    authority.revocation().revoke(
        stolen.serial,
        websrm::domain::RevocationReason::KeyCompromise,
        websrm::domain::RevocationChannel::CustomerService,
        "agent:demo",
        "tablet stolen",
    )?;
    let check = second_srs.refresh_revocations().await?;
    ensure!(
        check.newly_revoked == ["Caisse Express Taxe"],
        "the CRL named in the certificate lists it: {check:?}"
    );
    let now = OffsetDateTime::now_utc();
    ensure!(
        matches!(
            second_srs.billing_guard(&"1234567890".parse()?, now)?,
            BillingGuard::Blocked { .. }
        ),
        "billing refused with a revoked certificate"
    );
    say(format!(
        "the SRS read the CRL at {}: revoked, billing blocked before any request failed",
        check.consulted.join(", ")
    ));
    let renewed = second_srs.enrol(&express, None).await?;
    ensure!(
        renewed.serial != stolen.serial && second_srs.device_id()? == Some(device),
        "a new certificate on the same device identifier"
    );
    say(format!(
        "the operator obtained a new certificate {} with its authorization code; the revoked one stays in the history",
        renewed.serial
    ));
    // Asked after the new certificate's issuance: it is valid from the second it was issued, which
    // may be later than the time read before the revocation.
    let now = OffsetDateTime::now_utc();
    ensure!(
        matches!(
            second_srs.billing_guard(&"1234567890".parse()?, now)?,
            BillingGuard::Allowed
        ),
        "billing allowed again"
    );
    Ok(())
}
