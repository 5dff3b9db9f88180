//! Where a registry lives: an SQLite file or a PostgreSQL connection string, named without its
//! password.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Where a registry lives.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Database {
    /// An SQLite file, created on first use.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by URL (`postgres://user:password@host:port/name`, or any form
    /// libpq accepts); its schema is created on first use.
    Postgres(String),
}

impl Database {
    /// Reads `postgres://…` or `postgresql://…`, and a libpq `key=value` string (`host=…
    /// dbname=…`), as PostgreSQL; anything else as an SQLite file (with or without `sqlite:` in
    /// front). A connection string is never taken for a file name.
    pub fn parse(text: &str) -> Self {
        let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
        if let Some(scheme) = ["postgresql://", "postgres://"]
            .into_iter()
            .find(|scheme| lower.starts_with(scheme))
        {
            // The scheme in lower case, as the client reads it.
            Self::Postgres(format!("{scheme}{}", &text[scheme.len()..]))
        } else if is_key_value(text) {
            Self::Postgres(text.to_owned())
        } else {
            Self::Sqlite(PathBuf::from(text.strip_prefix("sqlite:").unwrap_or(text)))
        }
    }
}

/// Whether `text` is a libpq `key=value` connection string: one of its words sets a
/// connection parameter.
fn is_key_value(text: &str) -> bool {
    const KEYS: &[&str] = &[
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "sslmode",
        "sslrootcert",
        "connect_timeout",
        "application_name",
        "options",
        "target_session_attrs",
    ];
    // libpq allows spaces around `=`: `host = db password = x`.
    let words: Vec<&str> = text.split_whitespace().collect();
    words.iter().enumerate().any(|(i, word)| {
        let key = match word.split_once('=') {
            Some((key, _)) if !key.is_empty() => key,
            // `key =` or `key = value`: the key is this word, followed by a word starting `=`.
            _ => match words.get(i + 1) {
                Some(next) if next.starts_with('=') => word,
                _ => return false,
            },
        };
        KEYS.contains(&key.to_ascii_lowercase().as_str())
    })
}

impl FromStr for Database {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(s))
    }
}

/// Shows the file, or the database by user, host, port and name: never the connection string,
/// which may hold a password in any of its forms.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => f.write_str(&describe(url)),
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(_) => f.debug_tuple("Postgres").field(&self.to_string()).finish(),
        }
    }
}

/// A PostgreSQL database named by what the client's own parser reads of the connection string:
/// `postgresql://USER@HOST:PORT/NAME`, without the password.
#[cfg(feature = "postgres")]
fn describe(url: &str) -> String {
    // TLS words are read by the store (the client knows neither verify-full nor sslrootcert).
    let parsed = crate::pg_tls::split(url)
        .ok()
        .and_then(|(rest, _, _)| rest.parse::<postgres::Config>().ok());
    let Some(config) = parsed else {
        return "a PostgreSQL connection string that does not parse".into();
    };
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let host = match host {
                postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(path) => path.display().to_string(),
            };
            match config
                .get_ports()
                .get(i)
                .or_else(|| config.get_ports().first())
            {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    format!(
        "postgresql://{}@{}/{}",
        config.get_user().unwrap_or("(default user)"),
        if hosts.is_empty() {
            "(default host)".to_owned()
        } else {
            hosts.join(",")
        },
        config.get_dbname().unwrap_or("(default database)"),
    )
}

/// Without the PostgreSQL client, nothing of the string is shown.
#[cfg(not(feature = "postgres"))]
fn describe(_: &str) -> String {
    "a PostgreSQL database (this build has no PostgreSQL client)".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form of a PostgreSQL connection string is read as one, and named without its
    /// password, TLS words included.
    #[test]
    fn connection_strings_are_postgresql_and_named_without_their_password() {
        for text in [
            "postgres://u:s3cret@db.internal:5432/x",
            "POSTGRESQL://u:s3cret@db.internal:5432/x",
            "host=db.internal password=s3cret dbname=x user=u",
            "host = db.internal password = s3cret dbname = x user = u",
            "postgres://u@db.internal/x?sslmode=verify-full&sslrootcert=/r.pem&password=s3cret",
        ] {
            let database = Database::parse(text);
            assert!(matches!(database, Database::Postgres(_)), "{text}");
            let shown = format!("{database} {database:?}");
            assert!(!shown.contains("s3cret"), "{text}: {shown}");
            #[cfg(feature = "postgres")]
            assert!(shown.contains("db.internal"), "{text}: {shown}");
        }
        assert!(matches!(
            Database::parse("./authority/authority.db"),
            Database::Sqlite(_)
        ));
    }
}
