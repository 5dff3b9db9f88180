//! The lower error that an error of websrm was caused by, kept whole and opaque.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// The lower error that caused an error of websrm (SQLite's, the system's, rustls'...), kept whole
/// behind an opaque type: its text and its own chain of sources stay available (`Display`,
/// [`Error::source`], [`Source::error`] to downcast), and no dependency's error type appears in
/// a public signature. Where websrm itself found the problem (a row missing, a value out of
/// range), the source is that sentence.
///
/// An error of websrm carries it in a field named `cause` and says its text in its own message
/// (`database error: disk I/O error`), so it does not return it again from
/// [`Error::source`]: an error should do one or the other, never both, or a chain printed whole
/// says each cause twice. The lower error stays reachable through the field, to downcast.
///
/// Cloning shares the lower error. Two sources are equal when they read the same, so that the
/// errors carrying one stay comparable whatever the lower error's type.
#[derive(Clone)]
pub struct Source(Repr);

#[derive(Clone)]
enum Repr {
    Error(Arc<dyn Error + Send + Sync + 'static>),
    Text(Arc<str>),
}

impl Source {
    /// Keeps `error` as the source.
    pub fn new(error: impl Error + Send + Sync + 'static) -> Self {
        Self(Repr::Error(Arc::new(error)))
    }

    /// A source that is a sentence: websrm found the problem itself, no lower layer reported it.
    pub fn text(text: impl Into<String>) -> Self {
        Self(Repr::Text(text.into().into()))
    }

    /// The lower error, when there is one, for example to downcast it to the type the caller
    /// expects (`source.error().and_then(|e| e.downcast_ref::<std::io::Error>())`).
    pub fn error(&self) -> Option<&(dyn Error + Send + Sync + 'static)> {
        match &self.0 {
            Repr::Error(e) => Some(e.as_ref()),
            Repr::Text(_) => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Error(e) => fmt::Display::fmt(e, f),
            Repr::Text(t) => f.write_str(t),
        }
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Error(e) => fmt::Debug::fmt(e, f),
            Repr::Text(t) => fmt::Debug::fmt(t, f),
        }
    }
}

/// A source reads as the lower error and continues with that error's own source, so that a
/// chain walked from the top names each cause once.
impl Error for Source {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.0 {
            Repr::Error(e) => e.source(),
            Repr::Text(_) => None,
        }
    }
}

impl PartialEq for Source {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Source {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("opening the file")
        }
    }

    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    /// The lower error is kept whole: its text, its own source, its type for a downcast.
    #[test]
    fn the_lower_error_is_kept_with_its_chain_and_its_type() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let source = Source::new(Outer(io));
        assert_eq!(source.to_string(), "opening the file");
        assert_eq!(Error::source(&source).unwrap().to_string(), "denied");
        assert!(source.error().unwrap().downcast_ref::<Outer>().is_some());
        let clone = source.clone();
        assert_eq!(clone, source);
    }

    /// A sentence has no lower error; sources compare by what they say.
    #[test]
    fn a_sentence_has_no_lower_error_and_sources_compare_by_text() {
        let text = Source::text("count(*) returned no row");
        assert!(text.error().is_none());
        assert!(Error::source(&text).is_none());
        assert_eq!(text, Source::text("count(*) returned no row"));
        assert_ne!(text, Source::text("another"));
        let io = Source::new(std::io::Error::other("count(*) returned no row"));
        assert_eq!(io, text, "the same words, whatever carries them");
    }
}
