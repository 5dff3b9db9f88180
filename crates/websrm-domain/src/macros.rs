//! Macros that give the many small identifier types one shape.

/// A closed set of protocol codes, parsed without regard to ASCII case and written in upper case.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $kind:expr, $allowed:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $code:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The code as written on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $code, )+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $( if s.eq_ignore_ascii_case($code) { return Ok(Self::$variant); } )+
                Err($crate::ParseError::NotOneOf { kind: $kind, allowed: $allowed, found: s.to_owned() })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A text identifier of a fixed shape (see `shape::check`), kept in canonical upper case.
macro_rules! shaped_text {
    (
        $(#[$meta:meta])*
        pub struct $name:ident : $kind:expr, $pattern:literal;
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The identifier as written on the wire, in upper case.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::shape::check($kind, s, $pattern)?;
                Ok(Self(s.to_ascii_uppercase()))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// A 16-hex-digit identifier issued by the authority, kept as a number and written in upper case.
macro_rules! hex16_id {
    (
        $(#[$meta:meta])*
        pub struct $name:ident : $kind:expr;
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u64);

        impl $name {
            /// The identifier from its numeric value.
            pub const fn from_u64(value: u64) -> Self {
                Self(value)
            }

            /// The numeric value of the identifier.
            pub const fn as_u64(self) -> u64 {
                self.0
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::shape::check($kind, s, "HHHHHHHHHHHHHHHH")?;
                Ok(Self(u64::from_be_bytes($crate::shape::hex_bytes::<8>(s))))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{:016X}", self.0)
            }
        }
    };
}

/// A 40-hex-digit (20-byte) value, compared as bytes and written in upper case.
macro_rules! hex20_value {
    (
        $(#[$meta:meta])*
        pub struct $name:ident : $kind:expr;
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 20]);

        impl $name {
            /// The value from its 20 bytes.
            pub const fn from_bytes(bytes: [u8; 20]) -> Self {
                Self(bytes)
            }

            /// The 20 bytes.
            pub const fn as_bytes(&self) -> &[u8; 20] {
                &self.0
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::shape::check($kind, s, "HHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHH")?;
                Ok(Self($crate::shape::hex_bytes::<20>(s)))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.iter().try_for_each(|b| write!(f, "{b:02X}"))
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }
    };
}

pub(crate) use {code_enum, hex16_id, hex20_value, shaped_text};
