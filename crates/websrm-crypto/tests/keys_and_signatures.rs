//! Keys sealed at rest, and WEB-SRM signatures checked by OpenSSL.

mod common;

use common::*;
use websrm_crypto::{
    Error, KeyEncryptionKey, Preceding, PrivateKey, SealedKey, Signature,
    TransactionSignatureInput, pem, signatransm_input,
};

#[test]
fn a_sealed_key_opens_only_with_its_kek_and_purpose() {
    let kek = KeyEncryptionKey::generate().unwrap();
    let key = PrivateKey::generate().unwrap();
    let sealed = key.seal(&kek, "slot 1").unwrap();
    let opened = PrivateKey::open(&sealed, &kek, "slot 1").unwrap();
    assert_eq!(opened.public_key(), key.public_key());

    let other_kek = KeyEncryptionKey::generate().unwrap();
    assert_eq!(
        PrivateKey::open(&sealed, &other_kek, "slot 1").unwrap_err(),
        Error::SealedKeyRejected
    );
    assert_eq!(
        PrivateKey::open(&sealed, &kek, "slot 2").unwrap_err(),
        Error::SealedKeyRejected
    );

    let mut bytes = sealed.as_bytes().to_vec();
    for i in [1, 13, bytes.len() / 2, bytes.len() - 1] {
        bytes[i] ^= 0x40;
        let e =
            PrivateKey::open(&SealedKey::from_bytes(bytes.clone()), &kek, "slot 1").unwrap_err();
        assert_eq!(e, Error::SealedKeyRejected, "byte {i} tampered");
        bytes[i] ^= 0x40;
    }
    bytes[0] = 9;
    assert_eq!(
        PrivateKey::open(&SealedKey::from_bytes(bytes), &kek, "slot 1").unwrap_err(),
        Error::SealedKeyFormat { version: 9 }
    );
    assert_eq!(
        PrivateKey::open(&SealedKey::from_bytes(vec![1, 2, 3]), &kek, "slot 1").unwrap_err(),
        Error::SealedKeyRejected
    );
    assert_eq!(
        PrivateKey::open(&SealedKey::from_bytes(vec![]), &kek, "slot 1").unwrap_err(),
        Error::SealedKeyRejected
    );

    // Two sealings of the same key differ (random nonce), and a KEK survives its byte form.
    assert_ne!(key.seal(&kek, "slot 1").unwrap(), sealed);
    let same_kek = KeyEncryptionKey::from_bytes(*kek.expose_bytes());
    assert!(PrivateKey::open(&sealed, &same_kek, "slot 1").is_ok());
}

#[test]
fn debug_output_never_shows_secrets() {
    let kek = KeyEncryptionKey::generate().unwrap();
    let key = PrivateKey::generate().unwrap();
    assert_eq!(format!("{kek:?}"), "KeyEncryptionKey(<redacted>)");
    let debug = format!("{key:?}");
    assert!(
        debug.starts_with("PrivateKey { public_key: PublicKey(04"),
        "{debug}"
    );
    let sealed = key.seal(&kek, "p").unwrap();
    assert_eq!(
        format!("{sealed:?}"),
        format!("SealedKey({} bytes)", sealed.as_bytes().len())
    );
}

#[test]
fn signatures_are_88_base64_characters_and_verify() {
    let key = PrivateKey::generate().unwrap();
    let sig = key.sign(b"message").unwrap();
    let b64 = sig.to_base64();
    assert_eq!(b64.len(), 88);
    assert_eq!(Signature::from_base64(&b64).unwrap(), sig);
    key.public_key().verify(b"message", &sig).unwrap();
    assert_eq!(
        key.public_key().verify(b"messagf", &sig).unwrap_err(),
        Error::BadSignature
    );
    assert_eq!(
        PrivateKey::generate()
            .unwrap()
            .public_key()
            .verify(b"message", &sig)
            .unwrap_err(),
        Error::BadSignature
    );
    assert!(matches!(
        Signature::from_base64("AAAA"),
        Err(Error::SignatureLength { found: 3 })
    ));
    assert!(matches!(
        Signature::from_base64("***"),
        Err(Error::Base64 { .. })
    ));
    assert_eq!(Signature::FIRST_PRECED.len(), 88);
    assert!(Signature::FIRST_PRECED.chars().all(|c| c == '='));
}

#[test]
fn openssl_verifies_a_p1363_signature_converted_to_der() {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate().unwrap();
    let message = "0000000001202611261500000000000000.13+0000000000.26+0000000002.39567891234RT00015678912340TQ0001FACCMP========================================================================================";
    for _ in 0..20 {
        // Several signatures, so that r or s with a high first bit (DER padding) occur.
        let sig = key.sign(message.as_bytes()).unwrap();
        std::fs::write(dir.path().join("msg"), message).unwrap();
        std::fs::write(dir.path().join("sig.der"), sig.to_der()).unwrap();
        std::fs::write(
            dir.path().join("pub.pem"),
            pem::encode("PUBLIC KEY", &key.public_key().to_spki_der()),
        )
        .unwrap();
        let out = openssl_ok(
            dir.path(),
            &[
                "dgst",
                "-sha256",
                "-verify",
                "pub.pem",
                "-signature",
                "sig.der",
                "msg",
            ],
        );
        assert!(out.contains("Verified OK"), "{out}");
    }
    std::fs::write(dir.path().join("msg"), "another message").unwrap();
    assert!(
        !openssl(
            dir.path(),
            &[
                "dgst",
                "-sha256",
                "-verify",
                "pub.pem",
                "-signature",
                "sig.der",
                "msg"
            ]
        )
        .status
        .success()
    );
}

#[test]
fn openssl_signatures_verify_with_our_key_type() {
    // The other direction: OpenSSL signs (DER), we verify after conversion to P1363.
    let dir = tempfile::tempdir().unwrap();
    openssl_ok(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "k.pem",
        ],
    );
    openssl_ok(
        dir.path(),
        &[
            "pkey", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "pub.der",
        ],
    );
    std::fs::write(dir.path().join("msg"), "D8T8-W8W87654-0955-8558").unwrap();
    openssl_ok(
        dir.path(),
        &[
            "dgst", "-sha256", "-sign", "k.pem", "-out", "sig.der", "msg",
        ],
    );
    let spki = std::fs::read(dir.path().join("pub.der")).unwrap();
    let der_sig = std::fs::read(dir.path().join("sig.der")).unwrap();
    let public = websrm_crypto::PublicKey::from_sec1(&spki[spki.len() - 65..]).unwrap();
    let p1363 = der_to_p1363(&der_sig);
    public
        .verify(
            b"D8T8-W8W87654-0955-8558",
            &Signature::from_bytes(&p1363).unwrap(),
        )
        .unwrap();
}

/// ECDSA-Sig-Value (DER) to r ‖ s, written independently of the crate's own conversion.
fn der_to_p1363(der: &[u8]) -> Vec<u8> {
    assert_eq!(der[0], 0x30);
    let mut i = 2;
    let mut out = Vec::new();
    for _ in 0..2 {
        assert_eq!(der[i], 0x02);
        let len = der[i + 1] as usize;
        let int = &der[i + 2..i + 2 + len];
        let int = if int.len() > 32 {
            &int[int.len() - 32..]
        } else {
            int
        };
        out.extend(std::iter::repeat_n(0u8, 32 - int.len()));
        out.extend_from_slice(int);
        i += 2 + len;
    }
    out
}

#[test]
fn signatransm_input_is_code_then_device_then_actus_oldest_first() {
    let a = Signature::from_bytes(&[1u8; 64]).unwrap();
    let b = Signature::from_bytes(&[2u8; 64]).unwrap();
    let code = "D8T8-W8W8".parse().unwrap();
    let device = "7654-0955-8558".parse().unwrap();
    let text = signatransm_input(&code, device, &[a, b]);
    assert_eq!(
        text,
        "D8T8-W8W87654-0955-8558\
         AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ==\
         AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=="
    );
    assert_eq!(
        signatransm_input(&code, device, &[]),
        "D8T8-W8W87654-0955-8558"
    );
}

#[test]
fn actu_input_concatenates_the_ten_values_in_protocol_order() {
    let gst = "567891234RT0001".parse().unwrap();
    let qst = "5678912340TQ0001".parse().unwrap();
    let first = TransactionSignatureInput {
        no_trans: "0000000001",
        dat_trans: "20261126150000",
        tps: "+0000000000.13",
        tvq: "+0000000000.26",
        apres_tax: "+0000000002.39",
        no_tps: &gst,
        no_tvq: &qst,
        mod_impr: "FAC",
        mod_trans: "CMP",
        preced: Preceding::First,
    };
    assert_eq!(
        first.to_text(),
        "000000000120261126150000+0000000000.13+0000000000.26+0000000002.39\
         567891234RT00015678912340TQ0001FACCMP\
         ========================================================================================"
    );
    let prev = Signature::from_bytes(&[0xFF; 64]).unwrap();
    let second = TransactionSignatureInput {
        no_trans: "0000000002",
        preced: Preceding::Signature(prev),
        ..first
    };
    assert!(second.to_text().ends_with(&prev.to_base64()));
    assert!(second.to_text().starts_with("0000000002"));
}
