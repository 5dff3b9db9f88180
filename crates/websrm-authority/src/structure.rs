//! The structure of a request body, checked as WEB-SRM checks it before its content: JSON
//! (200E), one top-level field and only the service's (314E another field, 315E none, 316E
//! repeated), and inside it only the fields it may hold (300E), each once (306E), and no field
//! repeated at any depth (306E). Duplicated keys are seen, which a map-based parser would
//! silently merge.

use std::cell::RefCell;
use std::collections::HashSet;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
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

/// The first field repeated inside any object of `bytes`, at any depth, as its parent's path
/// and its name (`reqTrans/transActu/mont`, `TPS`): a map-based parser would keep one of the
/// two silently, and WEB-SRM refuses it (306E). `None` when there is none, or when `bytes` is
/// not JSON (which the structure check reports).
pub(crate) fn repeated_field(bytes: &[u8]) -> Option<(String, String)> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Seek {
        path: String::new(),
        found: &found,
    }
    .deserialize(&mut de)
    .ok()?;
    found.into_inner()
}

/// Walks a JSON value, noting the first repeated field.
struct Seek<'f> {
    path: String,
    found: &'f RefCell<Option<(String, String)>>,
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if keys.contains(&key) && self.found.borrow().is_none() {
                *self.found.borrow_mut() = Some((self.path.clone(), key.clone()));
            }
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}/{key}", self.path)
            };
            map.next_value_seed(Seek {
                path,
                found: self.found,
            })?;
            keys.insert(key);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Seek {
                path: self.path.clone(),
                found: self.found,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
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
