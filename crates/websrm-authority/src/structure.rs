//! The structure of a request body, checked as WEB-SRM checks it before its content: JSON
//! (200E), one top-level field and only the service's (314E another field, 315E none, 316E
//! repeated), and inside it only the fields it may hold (300E), each once (306E). Duplicated
//! keys are seen, which a map-based parser would silently merge.

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use websrm_protocol::catalogue::ErrorCode as E;

/// A structural error: its code and the values of its message.
pub(crate) type Fault = (E, Vec<String>);

/// The fields of the one top-level field `parent` of `bytes`, sent to `service` (`enrolement`,
/// `certificats`, `transaction`), in order; each must be one of `allowed`, once. A `parent`
/// that is not an object has no fields.
pub(crate) fn request_fields(
    bytes: &[u8],
    service: &str,
    parent: &str,
    allowed: &[&str],
) -> Result<Vec<(String, Value)>, Fault> {
    let top: Entries<Box<RawValue>> =
        serde_json::from_slice(bytes).map_err(|_| (E::NotJson, Vec::new()))?;
    let fault = |code: E, field: &str| (code, vec![service.to_owned(), field.to_owned()]);
    if let Some((other, _)) = top.0.iter().find(|(k, _)| k != parent) {
        return Err(fault(E::TopLevelFieldNotAllowed, other));
    }
    let raw = match top.0.as_slice() {
        [] => return Err(fault(E::RequestMissing, parent)),
        [(_, raw)] => raw,
        _ => return Err(fault(E::RequestRepeated, parent)),
    };
    let Ok(fields) = serde_json::from_str::<Entries<Value>>(raw.get()) else {
        return Ok(Vec::new());
    };
    for (i, (name, _)) in fields.0.iter().enumerate() {
        let fault = |code: E| (code, vec![parent.to_owned(), name.clone()]);
        if !allowed.contains(&name.as_str()) {
            return Err(fault(E::ChildFieldNotAllowed));
        }
        if fields.0[..i].iter().any(|(n, _)| n == name) {
            return Err(fault(E::ChildFieldRepeated));
        }
    }
    Ok(fields.0)
}

/// A JSON object read as its entries in order, keeping duplicates.
struct Entries<T>(Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for EntriesVisitor<T> {
            type Value = Entries<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, T>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}
