//! The authority's certificate authority: its root, the certificates it issues, and its
//! `certifPSI` certificate.

use std::fmt;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyIdMethod,
    KeyUsagePurpose, SerialNumber as RcgenSerial, SubjectPublicKeyInfo,
};
use ring::rand::{SecureRandom, SystemRandom};
use rsa::RsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use time::{Duration, OffsetDateTime};
use websrm_domain::{Environment, RevocationReason, SerialNumber, Thumbprint, Validity};
use zeroize::Zeroizing;

use websrm_domain::Source;

use crate::csr::{distinguished_name, key_identifier};
use crate::key::{open_bytes, seal_bytes};
use crate::{
    Error, KeyEncryptionKey, PrivateKey, PublicKey, SealedKey, ValidatedCsr, inspect_certificate,
};

/// How long the authority's root is valid.
const ROOT_VALIDITY_YEARS: i64 = 25;

/// A certificate authority for one environment: the conformity environments (DEV and ESSAI)
/// share one, production has its own, and they never share keys.
pub struct CertificateAuthority {
    environment: Environment,
    certificate_der: Vec<u8>,
    issuer: Issuer<'static, PrivateKey>,
}

impl CertificateAuthority {
    /// A new root for `environment`, valid from `now` for 25 years. The caller persists
    /// [`certificate_der`](Self::certificate_der) and the sealed key ([`seal_key`](Self::seal_key)).
    pub fn generate(environment: Environment, now: OffsetDateTime) -> Result<Self, Error> {
        Self::generate_generation(environment, now, 1)
    }

    /// A new root like [`generate`](Self::generate), the authority's `generation`th: from the
    /// second on, its name says which (`… G2`), so that certificates, CRLs and trust stores
    /// tell the roots of one authority apart by name as well as by key.
    pub fn generate_generation(
        environment: Environment,
        now: OffsetDateTime,
        generation: u32,
    ) -> Result<Self, Error> {
        let key = PrivateKey::generate()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        let name = match generation {
            0 | 1 => Self::common_name(environment),
            n => format!("{} G{n}", Self::common_name(environment)),
        };
        dn.push(DnType::CommonName, name);
        dn.push(DnType::OrganizationName, "websrm");
        dn.push(DnType::CountryName, country_ca());
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.key_identifier_method = KeyIdMethod::PreSpecified(key_identifier(&key.public_key()));
        params.serial_number = Some(RcgenSerial::from_slice(random_serial()?.as_bytes()));
        params.not_before = now;
        params.not_after = now + Duration::days(365 * ROOT_VALIDITY_YEARS);
        let certificate = params.self_signed(&key).map_err(Error::certificate)?;
        Self::from_parts(environment, certificate.der().to_vec(), key)
    }

    /// The authority from its persisted root certificate and key; fails if they do not match.
    pub fn from_parts(
        environment: Environment,
        certificate_der: Vec<u8>,
        key: PrivateKey,
    ) -> Result<Self, Error> {
        let info = inspect_certificate(&certificate_der)?;
        if !info.matches_key(&key) {
            return Err(Error::Certificate {
                cause: Source::text("the key does not match the authority's certificate"),
            });
        }
        let issuer = Issuer::from_ca_cert_der(&certificate_der.clone().into(), key)
            .map_err(Error::certificate)?;
        Ok(Self {
            environment,
            certificate_der,
            issuer,
        })
    }

    fn common_name(environment: Environment) -> String {
        let scope = if environment.is_conformity() {
            "DEV/ESSAI"
        } else {
            "PROD"
        };
        format!("websrm authority {scope}")
    }

    /// Whether the certificate `der` names this authority as its issuer (its issuer is this
    /// root's subject, byte for byte). Not a signature check: for sorting certificates the
    /// authority recorded itself, by the root that issued them.
    pub fn is_issuer_of(&self, der: &[u8]) -> bool {
        use x509_parser::prelude::FromDer as _;
        let Ok((_, root)) =
            x509_parser::certificate::X509Certificate::from_der(&self.certificate_der)
        else {
            return false;
        };
        x509_parser::certificate::X509Certificate::from_der(der)
            .is_ok_and(|(_, c)| c.issuer().as_raw() == root.subject().as_raw())
    }

    /// The environment this authority serves.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The root certificate (DER), the trust anchor of every certificate it issues.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The root key, sealed for storage.
    pub fn seal_key(&self, kek: &KeyEncryptionKey, purpose: &str) -> Result<SealedKey, Error> {
        self.issuer.key().seal(kek, purpose)
    }

    /// Issues the certificate of a validated CSR at `now`.
    ///
    /// The subject is the CSR's, rebuilt from its validated values; the extensions are the
    /// issuer's own, whatever the CSR asked: basic constraints CA:false, key usage
    /// digitalSignature and nonRepudiation, extended key usage clientAuth and 1.3.6.1.5.5.7.3.8,
    /// subject and authority key identifiers. Validity: five years from `now`. Serial: 20 random
    /// bytes, the first in `0x10..=0x7F`, so always 40 hex digits.
    pub fn issue(
        &self,
        csr: &ValidatedCsr,
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, Error> {
        self.issue_linked(csr, now, &PublicationLinks::default())
    }

    /// Issues like [`issue`](Self::issue), and writes where the authority publishes its CRL
    /// (CRL distribution points) and its own certificate (authority information access,
    /// caIssuers), so that an SRS can check for revocation without being told where.
    pub fn issue_linked(
        &self,
        csr: &ValidatedCsr,
        now: OffsetDateTime,
        links: &PublicationLinks,
    ) -> Result<IssuedCertificate, Error> {
        let validity = Validity::five_years_from(now);
        let serial = serial_at(now)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(&csr.subject);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        // Critical, as the CSR asks (and as RFC 3161 requires of id-kp-timeStamping); rcgen
        // writes its own EKU extension non-critical, so it is written here.
        let mut eku = rcgen::CustomExtension::from_oid_content(
            &OID_EXTENDED_KEY_USAGE,
            extended_key_usage(&[&EKU_CLIENT_AUTH_DER, &EKU_REQUESTED_DER]),
        );
        eku.set_criticality(true);
        params.custom_extensions.push(eku);
        params.key_identifier_method = KeyIdMethod::PreSpecified(key_identifier(&csr.public_key));
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(RcgenSerial::from_slice(serial.as_bytes()));
        params.not_before = validity.not_before();
        params.not_after = validity.not_after();
        if let Some(url) = &links.crl_url {
            params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
                uris: vec![url.clone()],
            }];
        }
        if let Some(url) = &links.ca_issuers_url {
            params
                .custom_extensions
                .push(rcgen::CustomExtension::from_oid_content(
                    &OID_AUTHORITY_INFO_ACCESS,
                    authority_info_access(url),
                ));
        }
        let der = params
            .signed_by(&csr.public_key, &self.issuer)
            .map_err(Error::certificate)?
            .der()
            .to_vec();
        Ok(IssuedCertificate {
            thumbprint: crate::thumbprint(&der),
            der,
            serial,
            validity,
        })
    }

    /// Issues the authority's `certifPSI` certificate for `psi`, valid five years from `now`.
    pub fn issue_psi(&self, psi: &PsiKey, now: OffsetDateTime) -> Result<IssuedCertificate, Error> {
        let validity = Validity::five_years_from(now);
        let serial = random_serial()?;
        let spki = psi
            .key
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| Error::Rsa {
                cause: Source::new(e),
            })?;
        let public = SubjectPublicKeyInfo::from_der(spki.as_bytes()).map_err(Error::certificate)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            format!("{} certifPSI", Self::common_name(self.environment)),
        );
        dn.push(DnType::OrganizationName, "websrm");
        dn.push(DnType::CountryName, country_ca());
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(RcgenSerial::from_slice(serial.as_bytes()));
        params.not_before = validity.not_before();
        params.not_after = validity.not_after();
        let der = params
            .signed_by(&public, &self.issuer)
            .map_err(Error::certificate)?
            .der()
            .to_vec();
        Ok(IssuedCertificate {
            thumbprint: crate::thumbprint(&der),
            der,
            serial,
            validity,
        })
    }
}

/// Where an authority publishes what an SRS needs to check revocation, written into the
/// certificates it issues.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublicationLinks {
    /// The URL of the CRL (CRL distribution points).
    pub crl_url: Option<String>,
    /// The URL of the authority's certificate, DER (authority information access, caIssuers).
    pub ca_issuers_url: Option<String>,
}

impl PublicationLinks {
    /// Links under `base` (`https://HOST:PORT`): the CRL at `base/crl`, the CA at `base/ca`.
    pub fn under(base: &str) -> Self {
        Self::of_generation(base, 1)
    }

    /// Links under `base` for the authority's `generation`th root: the first at `base/crl` and
    /// `base/ca`, each later one at `base/crl/N` and `base/ca/N`, so that the addresses written
    /// into a certificate stay those of the root that issued it after the authority rotates.
    pub fn of_generation(base: &str, generation: u32) -> Self {
        let base = base.trim_end_matches('/');
        let suffix = match generation {
            0 | 1 => String::new(),
            n => format!("/{n}"),
        };
        Self {
            crl_url: Some(format!("{base}/crl{suffix}")),
            ca_issuers_url: Some(format!("{base}/ca{suffix}")),
        }
    }
}

/// `countryName` `CA`, a PrintableString as X.520 requires.
fn country_ca() -> rcgen::DnValue {
    rcgen::DnValue::PrintableString(
        rcgen::string::PrintableString::try_from("CA")
            .unwrap_or_else(|_| unreachable!("CA is printable")),
    )
}

/// id-ce-extKeyUsage.
const OID_EXTENDED_KEY_USAGE: [u64; 4] = [2, 5, 29, 37];
/// id-kp-clientAuth (1.3.6.1.5.5.7.3.2), DER.
const EKU_CLIENT_AUTH_DER: [u8; 10] = [0x06, 0x08, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
/// 1.3.6.1.5.5.7.3.8, the purpose the protocol's CSR requests, DER.
const EKU_REQUESTED_DER: [u8; 10] = [0x06, 0x08, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

/// ExtKeyUsageSyntax: a SEQUENCE of the purposes' OIDs.
fn extended_key_usage(purposes: &[&[u8]]) -> Vec<u8> {
    crate::der::tlv(0x30, &purposes.concat())
}

/// id-pe-authorityInfoAccess.
const OID_AUTHORITY_INFO_ACCESS: [u64; 9] = [1, 3, 6, 1, 5, 5, 7, 1, 1];

/// AuthorityInfoAccessSyntax with one caIssuers access description naming `url`.
fn authority_info_access(url: &str) -> Vec<u8> {
    // id-ad-caIssuers, 1.3.6.1.5.5.7.48.2
    const CA_ISSUERS: [u8; 10] = [0x06, 0x08, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    let mut description = CA_ISSUERS.to_vec();
    // GeneralName uniformResourceIdentifier: [6] IMPLICIT IA5String
    description.extend(crate::der::tlv(0x86, url.as_bytes()));
    crate::der::tlv(0x30, &crate::der::tlv(0x30, &description))
}

/// A revoked certificate, as a CRL lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevokedEntry {
    /// The serial number.
    pub serial: SerialNumber,
    /// When it was revoked.
    pub revoked_at: OffsetDateTime,
    /// Why.
    pub reason: RevocationReason,
}

impl RevokedEntry {
    /// An entry.
    pub fn new(serial: SerialNumber, revoked_at: OffsetDateTime, reason: RevocationReason) -> Self {
        Self {
            serial,
            revoked_at,
            reason,
        }
    }
}

impl CertificateAuthority {
    /// A CRL (RFC 5280) of `revoked`, signed by this authority, numbered `number`, valid from
    /// `this_update` to `next_update`.
    pub fn issue_crl(
        &self,
        revoked: &[RevokedEntry],
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Vec<u8>, Error> {
        let params = rcgen::CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: RcgenSerial::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|r| rcgen::RevokedCertParams {
                    serial_number: RcgenSerial::from_slice(r.serial.as_bytes()),
                    revocation_time: r.revoked_at,
                    reason_code: Some(rcgen_reason(r.reason)),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::PreSpecified(key_identifier(
                &self.issuer.key().public_key(),
            )),
        };
        Ok(params
            .signed_by(&self.issuer)
            .map_err(Error::certificate)?
            .der()
            .to_vec())
    }
}

fn rcgen_reason(reason: RevocationReason) -> rcgen::RevocationReason {
    use rcgen::RevocationReason as R;
    match reason {
        RevocationReason::KeyCompromise => R::KeyCompromise,
        RevocationReason::CaCompromise => R::CaCompromise,
        RevocationReason::AffiliationChanged => R::AffiliationChanged,
        RevocationReason::Superseded => R::Superseded,
        RevocationReason::CessationOfOperation => R::CessationOfOperation,
        RevocationReason::CertificateHold => R::CertificateHold,
        RevocationReason::RemoveFromCrl => R::RemoveFromCrl,
        RevocationReason::PrivilegeWithdrawn => R::PrivilegeWithdrawn,
        RevocationReason::AaCompromise => R::AaCompromise,
        _ => R::Unspecified,
    }
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

impl rcgen::PublicKeyData for PublicKey {
    fn der_bytes(&self) -> &[u8] {
        self.as_sec1()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

/// A certificate the authority issued.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedCertificate {
    /// The DER encoding.
    pub der: Vec<u8>,
    /// The serial number (`noSerie`).
    pub serial: SerialNumber,
    /// SHA-1 of the DER.
    pub thumbprint: Thumbprint,
    /// The validity period.
    pub validity: Validity,
}

impl IssuedCertificate {
    /// The certificate as PEM, the form of `certif` and `certifPSI`.
    pub fn to_pem(&self) -> String {
        crate::pem::encode("CERTIFICATE", &self.der)
    }
}

/// A random serial: 20 bytes, the first in `0x10..=0x7F`, so that its DER integer is positive,
/// needs no padding byte, and is always written with 40 hex digits.
pub fn random_serial() -> Result<SerialNumber, Error> {
    let mut bytes = [0u8; 20];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Random)?;
    bytes[0] = 0x10 + bytes[0] % 0x70;
    Ok(SerialNumber::from_bytes(bytes))
}

/// The serial of a certificate issued at `at`: 20 bytes, the first `0x40`, then the time in
/// microseconds since 1970 (7 bytes, big-endian), then 12 random bytes: 96 bits of randomness,
/// more than the 64 that the CA/Browser Forum asks of public CAs, so that serials stay
/// unguessable. Serials thus sort by issuance time: an index on them grows at one end, where
/// random serials would put each certificate on a page of its own, to be read, written to the
/// log and copied back (one page of five in the authority's registry). Like [`random_serial`],
/// positive, with no padding byte, always 40 hex digits.
pub fn serial_at(at: OffsetDateTime) -> Result<SerialNumber, Error> {
    let mut bytes = [0u8; 20];
    SystemRandom::new()
        .fill(&mut bytes[8..])
        .map_err(|_| Error::Random)?;
    let micros = u64::try_from(at.unix_timestamp_nanos() / 1000).unwrap_or(0);
    bytes[0] = 0x40;
    bytes[1..8].copy_from_slice(&micros.to_be_bytes()[1..]);
    Ok(SerialNumber::from_bytes(bytes))
}

/// The RSA key of the authority's `certifPSI` certificate, with which SRSs encrypt the
/// payload of the QR codes printed on bills. Not `Clone`; `Debug` shows nothing of it.
pub struct PsiKey {
    key: RsaPrivateKey,
}

impl PsiKey {
    /// The RSA modulus length.
    pub const BITS: usize = 2048;

    /// A new RSA-2048 key.
    pub fn generate() -> Result<Self, Error> {
        let key =
            RsaPrivateKey::new(&mut rsa::rand_core::OsRng, Self::BITS).map_err(|e| Error::Rsa {
                cause: Source::new(e),
            })?;
        Ok(Self { key })
    }

    /// Encrypts the key for storage (see [`PrivateKey::seal`]).
    pub fn seal(&self, kek: &KeyEncryptionKey, purpose: &str) -> Result<SealedKey, Error> {
        let der = self.key.to_pkcs8_der().map_err(|e| Error::Rsa {
            cause: Source::new(e),
        })?;
        seal_bytes(der.as_bytes(), kek, purpose).map(SealedKey::from_bytes)
    }

    /// Decrypts a key sealed by [`PsiKey::seal`].
    pub fn open(sealed: &SealedKey, kek: &KeyEncryptionKey, purpose: &str) -> Result<Self, Error> {
        let der: Zeroizing<Vec<u8>> = open_bytes(sealed.as_bytes(), kek, purpose)?;
        let key = RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| Error::Rsa {
            cause: Source::new(e),
        })?;
        Ok(Self { key })
    }

    /// Decrypts an RSA PKCS#1 v1.5 ciphertext made with the `certifPSI` certificate's key, to
    /// check in tests what an SRS encrypted. Test-only (feature `test-util`): PKCS#1 v1.5
    /// decryption with the rsa crate is open to the Marvin timing attack (RUSTSEC-2023-0071),
    /// and nothing in production decrypts.
    #[cfg(feature = "test-util")]
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, Error> {
        self.key
            .decrypt(rsa::Pkcs1v15Encrypt, ciphertext)
            .map_err(|e| Error::Rsa {
                cause: Source::new(e),
            })
    }

    /// Decrypts what [`encrypt_for_psi`](crate::encrypt_for_psi) made, block by block
    /// (test-only, as [`decrypt`](Self::decrypt)).
    #[cfg(feature = "test-util")]
    pub fn decrypt_blocks(&self, ciphertext: &[u8]) -> Result<Vec<u8>, Error> {
        use rsa::traits::PublicKeyParts;
        let mut plaintext = Vec::new();
        for block in ciphertext.chunks(self.key.size()) {
            plaintext.extend(self.decrypt(block)?);
        }
        Ok(plaintext)
    }
}

impl fmt::Debug for PsiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PsiKey(<redacted>)")
    }
}
