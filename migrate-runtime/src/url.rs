//! Database URLs: `sqlite:path`, `sqlite://path`, `sqlite::memory:`,
//! `postgres://` and `postgresql://` with libpq's `sslmode` and
//! `sslrootcert`. Shown to people only through [`DatabaseUrl::redacted`].

use std::fmt;
use std::path::PathBuf;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, without verification (libpq's default).
    Prefer,
    /// TLS, without verifying the certificate.
    Require,
    /// TLS, verifying the certificate chain but not the host name.
    VerifyCa,
    /// TLS, verifying the chain and the host name.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Option<SslMode> {
        Some(match text {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
}

/// A parsed database URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file, or `None` for `sqlite::memory:`.
    Sqlite {
        path: Option<PathBuf>,
    },
    Postgres(PostgresUrl),
}

/// A PostgreSQL URL with the TLS settings taken out of it.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    /// The URL without `sslmode`/`sslrootcert`, for the postgres crate.
    pub(crate) url: String,
    pub ssl_mode: SslMode,
    pub ssl_root_cert: Option<PathBuf>,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid database URL `{redacted}`: {reason}")]
pub struct UrlError {
    pub redacted: String,
    pub reason: String,
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.url))
    }
}

impl DatabaseUrl {
    /// Parses a URL.
    pub fn parse(text: &str) -> Result<DatabaseUrl, UrlError> {
        let fail = |reason: &str| UrlError { redacted: redact(text), reason: reason.to_owned() };
        if let Some(rest) = text.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or_default();
            return match path {
                ":memory:" => Ok(DatabaseUrl::Sqlite { path: None }),
                "" => Err(fail("no file: write `sqlite:path/to/file.db` or `sqlite::memory:`")),
                path => Ok(DatabaseUrl::Sqlite { path: Some(PathBuf::from(path)) }),
            };
        }
        if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
            return Err(fail("the URL must start with postgres://, postgresql:// or sqlite:"));
        }
        let (base, query) = split_query(text);
        let mut ssl_mode = SslMode::Prefer;
        let mut ssl_root_cert = None;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => {
                    ssl_mode = SslMode::parse(value)
                        .ok_or_else(|| fail("sslmode must be disable, prefer, require, verify-ca or verify-full"))?
                }
                "sslrootcert" => ssl_root_cert = Some(PathBuf::from(percent_decode(value))),
                _ => kept.push(pair),
            }
        }
        let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
        #[cfg(feature = "postgres")]
        {
            let config: postgres::Config = url.parse().map_err(|e: postgres::Error| fail(&e.to_string()))?;
            let host = match config.get_hosts().first() {
                Some(postgres::config::Host::Tcp(host)) => host.clone(),
                #[cfg(unix)]
                Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
                None => "localhost".to_owned(),
            };
            Ok(DatabaseUrl::Postgres(PostgresUrl {
                host,
                port: config.get_ports().first().copied().unwrap_or(5432),
                database: config.get_dbname().or(config.get_user()).unwrap_or("postgres").to_owned(),
                user: config.get_user().unwrap_or("postgres").to_owned(),
                url,
                ssl_mode,
                ssl_root_cert,
            }))
        }
        #[cfg(not(feature = "postgres"))]
        {
            let _ = (url, ssl_mode, ssl_root_cert);
            Err(fail("this build has no PostgreSQL support (feature `postgres`)"))
        }
    }

    /// The SQL dialect the URL speaks.
    pub fn dialect(&self) -> crate::Dialect {
        match self {
            DatabaseUrl::Sqlite { .. } => crate::Dialect::Sqlite,
            DatabaseUrl::Postgres(_) => crate::Dialect::Postgres,
        }
    }

    /// The URL with any password replaced by `****`.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite { path: None } => "sqlite::memory:".to_owned(),
            DatabaseUrl::Sqlite { path: Some(path) } => format!("sqlite:{}", path.display()),
            DatabaseUrl::Postgres(pg) => redact(&pg.url),
        }
    }
}

impl PostgresUrl {
    /// The URL without TLS settings, password redacted.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }

    /// `host:port/database as user`, for messages.
    pub fn describe(&self) -> String {
        format!("{}:{}/{} as {}", self.host, self.port, self.database, self.user)
    }

    /// The same server and credentials, another database.
    pub fn with_database(&self, database: &str) -> PostgresUrl {
        let (base, query) = split_query(&self.url);
        let query = Some(query).filter(|q| !q.is_empty());
        let after_scheme = base.find("://").map_or(0, |i| i + 3);
        let host_start = base[after_scheme..].rfind('@').map_or(after_scheme, |at| after_scheme + at + 1);
        let path_start = base[host_start..].find('/').map_or(base.len(), |i| host_start + i);
        let mut url = format!("{}/{database}", &base[..path_start]);
        if let Some(query) = query {
            url.push('?');
            url.push_str(query);
        }
        PostgresUrl { url, database: database.to_owned(), ..self.clone() }
    }

    /// Neon's `-pooler` endpoints run PgBouncer in transaction mode.
    pub fn is_transaction_pooler(&self) -> bool {
        self.host.split('.').next().is_some_and(|label| label.ends_with("-pooler"))
    }

    /// The direct endpoint of a Neon pooler host name.
    pub fn direct_host(&self) -> String {
        match self.host.split_once('.') {
            Some((first, rest)) => format!("{}.{rest}", first.trim_end_matches("-pooler")),
            None => self.host.trim_end_matches("-pooler").to_owned(),
        }
    }
}

/// Where the query of a URL starts: after the user info, which ends at the
/// last `@` (as the postgres crate reads it), so a `?` or `/` in a password
/// is part of the password.
fn query_start(url: &str) -> Option<usize> {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let after_userinfo = url[after_scheme..].rfind('@').map_or(after_scheme, |at| after_scheme + at + 1);
    url[after_userinfo..].find('?').map(|i| after_userinfo + i)
}

/// `(url without query, query)`.
fn split_query(url: &str) -> (&str, &str) {
    match query_start(url) {
        Some(at) => (&url[..at], &url[at + 1..]),
        None => (url, ""),
    }
}

/// Replaces the password in a URL's user info (up to the last `@`), any
/// `password=` parameter, and `password=` in a `key=value` connection string.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        // A libpq key=value string: `host=db user=a password=secret`.
        return url
            .split(' ')
            .map(|word| if word.starts_with("password=") { "password=****" } else { word })
            .collect::<Vec<_>>()
            .join(" ");
    };
    let (base, query) = split_query(url);
    let mut out = base.to_owned();
    let authority_start = scheme_end + 3;
    if let Some(at) = out[authority_start..].rfind('@') {
        let userinfo = &out[authority_start..authority_start + at];
        if let Some(colon) = userinfo.find(':') {
            out.replace_range(authority_start + colon + 1..authority_start + at, "****");
        }
    }
    if query_start(url).is_some() {
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("password", _)) => "password=****".to_owned(),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&query.join("&"));
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(&h), Some(&l)) = (bytes.get(i + 1), bytes.get(i + 2))
            && let (Some(h), Some(l)) = (hex(h), hex(l))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_forms() {
        assert_eq!(DatabaseUrl::parse("sqlite::memory:").unwrap(), DatabaseUrl::Sqlite { path: None });
        assert_eq!(
            DatabaseUrl::parse("sqlite:db/app.db").unwrap(),
            DatabaseUrl::Sqlite { path: Some("db/app.db".into()) }
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/a.db").unwrap(),
            DatabaseUrl::Sqlite { path: Some("/tmp/a.db".into()) }
        );
        assert!(DatabaseUrl::parse("mysql://x").is_err());
    }

    #[test]
    fn passwords_with_special_characters_never_show() {
        assert_eq!(redact("postgres://alice:pa/ss@db/app"), "postgres://alice:****@db/app");
        assert_eq!(
            redact("postgres://alice:pa?ss@db/app?sslmode=require"),
            "postgres://alice:****@db/app?sslmode=require"
        );
        assert_eq!(redact("host=db user=a password=s3cret dbname=x"), "host=db user=a password=**** dbname=x");
        assert_eq!(percent_decode("%1é%2F"), "%1é/");
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn a_question_mark_in_the_password_keeps_the_tls_settings() {
        let DatabaseUrl::Postgres(pg) = DatabaseUrl::parse("postgres://u:pa?ss@h/db?sslmode=verify-full").unwrap()
        else {
            panic!("postgres")
        };
        assert_eq!(pg.ssl_mode, SslMode::VerifyFull);
        assert_eq!(pg.with_database("other").redacted_url(), "postgres://u:****@h/other");
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("postgres://alice:s3cret@db.example.com:5432/app"),
            "postgres://alice:****@db.example.com:5432/app"
        );
        assert_eq!(redact("postgres://db/app?user=a&password=s3cret"), "postgres://db/app?user=a&password=****");
        assert_eq!(redact("postgres://alice@db/app"), "postgres://alice@db/app");
        let error = DatabaseUrl::parse("postgres://alice:s3cret@db/app?sslmode=sideways").unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
        let url = DatabaseUrl::parse("postgresql://alice:s3cret@db/app").unwrap();
        assert!(!format!("{url:?} {}", url.redacted()).contains("s3cret"));
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn neon_urls() {
        let text = "postgresql://neondb_owner:npg_secret@ep-cool-darkness-a1b2c3d4-pooler.eu-central-1.aws.neon.tech/neondb?sslmode=require&channel_binding=require";
        let DatabaseUrl::Postgres(pg) = DatabaseUrl::parse(text).unwrap() else { panic!("postgres") };
        assert_eq!(pg.ssl_mode, SslMode::Require);
        assert!(pg.is_transaction_pooler());
        assert_eq!(pg.direct_host(), "ep-cool-darkness-a1b2c3d4.eu-central-1.aws.neon.tech");
        assert_eq!(pg.database, "neondb");
        assert!(!pg.url.contains("sslmode"));
        assert!(pg.url.contains("channel_binding=require"));
        let DatabaseUrl::Postgres(direct) =
            DatabaseUrl::parse("postgres://u@ep-x.neon.tech/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem")
                .unwrap()
        else {
            panic!("postgres")
        };
        assert!(!direct.is_transaction_pooler());
        let other = direct.with_database("scratch");
        assert_eq!(other.database, "scratch");
        assert_eq!(other.redacted_url(), "postgres://u@ep-x.neon.tech/scratch");
        assert_eq!(direct.ssl_mode, SslMode::VerifyFull);
        assert_eq!(direct.ssl_root_cert, Some(PathBuf::from("/etc/ca.pem")));
    }
}
