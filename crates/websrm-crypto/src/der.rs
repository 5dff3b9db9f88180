//! The few DER encodings this crate writes by hand: they are fixed shapes, simpler to state
//! than to configure a general encoder for.

/// DER length octets.
pub(crate) fn length(len: usize) -> Vec<u8> {
    match len {
        0..=0x7F => vec![len as u8],
        0x80..=0xFF => vec![0x81, len as u8],
        _ => vec![0x82, (len >> 8) as u8, len as u8],
    }
}

/// A DER TLV.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(length(content.len()));
    out.extend_from_slice(content);
    out
}

/// SubjectPublicKeyInfo of an uncompressed P-256 point.
pub(crate) fn ec_p256_spki(point: &[u8]) -> Vec<u8> {
    const ALGORITHM: [u8; 21] = [
        0x30, 0x13, // SEQUENCE
        0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, // id-ecPublicKey
        0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, // prime256v1
    ];
    let mut bits = vec![0x00];
    bits.extend_from_slice(point);
    let mut content = ALGORITHM.to_vec();
    content.extend(tlv(0x03, &bits));
    tlv(0x30, &content)
}

/// An unsigned big-endian integer as a DER INTEGER.
pub(crate) fn unsigned_integer(bytes: &[u8]) -> Vec<u8> {
    let start = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or_else(|| bytes.len().saturating_sub(1));
    let trimmed = &bytes[start..];
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(0x02, &content)
}

/// An object identifier from its arcs (the first two combined as X.690 requires).
pub(crate) fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut content = Vec::new();
    let mut push = |mut v: u64| {
        let mut stack = vec![(v & 0x7F) as u8];
        v >>= 7;
        while v > 0 {
            stack.push(((v & 0x7F) as u8) | 0x80);
            v >>= 7;
        }
        content.extend(stack.into_iter().rev());
    };
    if let [first, second, rest @ ..] = arcs {
        push(first * 40 + second);
        rest.iter().for_each(|&a| push(a));
    }
    tlv(0x06, &content)
}
