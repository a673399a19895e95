//! Database URLs: `sqlite:path`, `sqlite://path`, `sqlite::memory:`, and for
//! PostgreSQL `postgres://`/`postgresql://` URLs or libpq `key=value`
//! strings, and for MariaDB and MySQL `mysql://`/`mariadb://` URLs. A
//! server URL is parsed once (the `url` crate for the URL
//! form) into the parts [`PostgresUrl`] keeps, and the connection's
//! configuration is built from those parts: what is shown is what is
//! connected to. People see URLs only through [`DatabaseUrl::redacted`].

use std::fmt;
use std::path::PathBuf;

use migrate_history::did_you_mean;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

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

    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Parameters read here rather than handed to the driver.
const OWN_PARAMETERS: [&str; 7] = ["host", "port", "user", "password", "dbname", "sslmode", "sslrootcert"];

/// libpq parameters the postgres driver takes; passed on to it as given.
const DRIVER_PARAMETERS: [&str; 13] = [
    "options",
    "application_name",
    "hostaddr",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
    "sslnegotiation",
];

/// libpq parameters the postgres driver does not have.
const UNSUPPORTED_PARAMETERS: [&str; 21] = [
    "passfile",
    "require_auth",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "sslcompression",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "requirepeer",
    "requiressl",
    "gssencmode",
    "gsslib",
    "gssdelegation",
    "krbsrvname",
    "service",
    "client_encoding",
    "fallback_application_name",
    "replication",
];

fn is_known_parameter(key: &str) -> bool {
    OWN_PARAMETERS.contains(&key) || DRIVER_PARAMETERS.contains(&key) || UNSUPPORTED_PARAMETERS.contains(&key)
}

/// A parsed database URL.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatabaseUrl {
    /// A SQLite file, or `None` for `sqlite::memory:`.
    Sqlite {
        /// The database file, as written (a relative path is relative to the
        /// working directory); `None` for a database in memory.
        path: Option<PathBuf>,
    },
    /// A PostgreSQL database.
    Postgres(PostgresUrl),
    /// A MariaDB or MySQL database.
    Mysql(MysqlUrl),
}

/// A MariaDB or MySQL server, database and credentials, taken apart once:
/// `mysql://user:password@host:3306/database?ssl-mode=required&ssl-ca=ca.pem`.
#[derive(Clone, PartialEq, Eq)]
pub struct MysqlUrl {
    /// Written `mariadb://` (shown so again); the same protocol.
    pub mariadb: bool,
    /// A host name or an IP address.
    pub host: String,
    /// The server's port; 3306 unless given.
    pub port: u16,
    /// The database's name; empty when the URL names none (a server).
    pub database: String,
    /// The user to connect as; `root` unless given.
    pub user: String,
    /// Percent-decoded; never shown.
    password: Option<String>,
    /// Whether and how TLS is used (`ssl-mode`, in the mysql client's
    /// spelling: `disabled`, `preferred`, `required`, `verify_ca`,
    /// `verify_identity`); [`SslMode::Prefer`] unless given.
    pub ssl_mode: SslMode,
    /// A PEM file of the certificate authorities the server's certificate
    /// is verified against (`ssl-ca`); the system's when `None`.
    pub ssl_ca: Option<PathBuf>,
}

/// A PostgreSQL server, database and credentials, taken apart once.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    /// A host name, an IP address, or a Unix socket directory (starts with `/`).
    pub host: String,
    /// The server's port; 5432 unless given.
    pub port: u16,
    /// The database's name; the user name unless given.
    pub database: String,
    /// The user to connect as; `postgres` unless given.
    pub user: String,
    /// Percent-decoded; never shown.
    password: Option<Vec<u8>>,
    /// Checked parameters from [`DRIVER_PARAMETERS`], in the order given.
    options: Vec<(String, String)>,
    /// Whether and how TLS is used (`sslmode`); [`SslMode::Prefer`] unless given.
    pub ssl_mode: SslMode,
    /// A PEM file of the certificate authorities that the server's
    /// certificate is verified against (`sslrootcert`); the system's when `None`.
    pub ssl_root_cert: Option<PathBuf>,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid database URL `{redacted}`: {problem}")]
pub struct UrlError {
    /// The URL as given, with anything that may be a password masked.
    pub redacted: String,
    /// What is wrong with it.
    pub problem: UrlProblem,
}

/// What is wrong with a URL. Never holds any part of a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    /// The scheme is not `postgres`, `postgresql`, `mysql`, `mariadb` or `sqlite`.
    #[error("unknown scheme `{scheme}`{}", suggest(*.suggestion))]
    UnknownScheme {
        /// The scheme as written.
        scheme: String,
        /// The known scheme it is close to, if any.
        suggestion: Option<&'static str>,
    },
    /// No `scheme://`, and not a `key=value` string either.
    #[error("it is neither a URL nor a libpq `key=value` string")]
    NotAUrl,
    /// A SQLite URL without a path.
    #[error("no SQLite file")]
    NoSqliteFile,
    /// A SQLite URL with a `?query`; holds the first parameter's name.
    #[error("SQLite URLs take no parameters (`{0}`)")]
    SqliteParameter(String),
    /// A PostgreSQL URL names no host, neither before the path nor as `host=`.
    #[error("no host")]
    NoHost,
    /// A comma-separated list of hosts (libpq's failover); holds the list.
    #[error("several hosts (`{0}`) are not supported")]
    SeveralHosts(String),
    /// A host with a character host names cannot have; holds the host.
    #[error("the host `{0}` holds a character host names cannot have")]
    InvalidHost(String),
    /// A port of digits that is 0 or above 65535; holds the port.
    #[error("port {0} is out of range (1-65535)")]
    PortOutOfRange(String),
    /// A port that is not all digits; holds the port.
    #[error("port `{0}` is not a number")]
    PortNotNumber(String),
    /// An `@` after the host part: most likely a password holding an
    /// unencoded `/`, `?` or `#`. Nothing of the URL is echoed.
    #[error("an `@` follows the first `/`, `?` or `#`, so where the password ends is ambiguous")]
    Ambiguous,
    /// A `#fragment`, most likely an unencoded `#` in a password or value.
    #[error("URLs of databases have no `#fragment`")]
    Fragment,
    /// A `%` that does not start an escape of two hex digits.
    #[error("bad percent escape{} in the {part}", escape.as_ref().map(|e| format!(" `{e}`")).unwrap_or_default())]
    BadEscape {
        /// The part of the URL it is in: `host`, `user name`, `password`,
        /// `database name`, `parameter name` or `` value of `key` ``.
        part: String,
        /// The escape as written (`%` and up to two characters); `None` in a
        /// password, which is never shown.
        escape: Option<String>,
    },
    /// A part that is not UTF-8 once percent-decoded; holds the part's name,
    /// as [`UrlProblem::BadEscape`]'s `part`.
    #[error("the {0} is not UTF-8 once percent-decoded")]
    NotUtf8(String),
    /// A parameter libpq does not have.
    #[error("unknown parameter `{key}`{}", suggest(*.suggestion))]
    UnknownParameter {
        /// The parameter's name.
        key: String,
        /// The known parameter it is close to, if any.
        suggestion: Option<&'static str>,
    },
    /// A libpq parameter the postgres driver does not have, such as
    /// `sslcert`; holds its name.
    #[error("the libpq parameter `{0}` is not supported by the PostgreSQL driver")]
    UnsupportedParameter(String),
    /// A value the parameter does not take.
    #[error("`{key}={value}`: {key} must be {expected}")]
    InvalidValue {
        /// The parameter's name.
        key: String,
        /// The value as given.
        value: String,
        /// What the parameter takes, such as `a number of seconds`.
        expected: &'static str,
    },
    /// A parameter without `=value`; holds what was written.
    #[error("`{0}` has no value")]
    MissingValue(String),
    /// A `'`-quoted value of a `key=value` string that does not end; holds
    /// the key.
    #[error("the quoted value of `{0}` is not closed")]
    UnclosedQuote(String),
    /// What follows a password is not a parameter: most likely a password
    /// holding an unencoded `&` or an unquoted space. Nothing is echoed.
    #[error("what follows `password=` is not a parameter")]
    PasswordSplit,
    /// Any other problem the URL parser reports; holds its message.
    #[error("{0}")]
    Other(String),
    /// A PostgreSQL URL in a build without the `postgres` feature.
    #[error("this build has no PostgreSQL support (feature `postgres` of migrate-runtime)")]
    NoPostgres,
    /// A MariaDB or MySQL URL in a build without the `mysql` feature.
    #[error("this build has no MariaDB/MySQL support (feature `mysql` of migrate-runtime)")]
    NoMysql,
}

fn suggest(suggestion: Option<&str>) -> String {
    suggestion.map(|s| format!(": did you mean `{s}`?")).unwrap_or_default()
}

impl UrlProblem {
    /// How to fix it.
    pub fn help(&self) -> Option<String> {
        let encode = "percent-encode `/` `?` `#` `@` `%` in a user name or password as %2F %3F %23 %40 %25";
        Some(match self {
            UrlProblem::UnknownScheme { .. } | UrlProblem::NotAUrl => {
                "write postgres://user:password@host:5432/db, host=... user=... dbname=..., mysql://user:password@host:3306/db, sqlite:path/to/file.db or sqlite::memory:".into()
            }
            UrlProblem::NoSqliteFile => "write `sqlite:path/to/file.db` or `sqlite::memory:`".into(),
            UrlProblem::SqliteParameter(_) => "remove everything from the `?` on".into(),
            UrlProblem::NoHost => "name the server: postgres://user@localhost/db, or ?host=/run/postgresql for a Unix socket".into(),
            UrlProblem::SeveralHosts(_) => "name one host".into(),
            UrlProblem::InvalidHost(_) | UrlProblem::PortNotNumber(_) | UrlProblem::Ambiguous => encode.into(),
            UrlProblem::PortOutOfRange(_) => "PostgreSQL listens on 5432 unless configured otherwise".into(),
            UrlProblem::Fragment => format!("a `#` in a password or value must be written %23; {encode}"),
            UrlProblem::BadEscape { .. } => "write a literal `%` as %25; an escape is `%` and two hex digits".into(),
            UrlProblem::NotUtf8(_) => "percent-encode text as UTF-8".into(),
            UrlProblem::UnknownParameter { .. } => format!(
                "the parameters are {}",
                OWN_PARAMETERS.iter().chain(&DRIVER_PARAMETERS).copied().collect::<Vec<_>>().join(", ")
            ),
            UrlProblem::UnsupportedParameter(_) => "remove it from the URL".into(),
            UrlProblem::MissingValue(_) => "write key=value".into(),
            UrlProblem::UnclosedQuote(_) => "end the value with `'`; write a `'` inside it as \\'".into(),
            UrlProblem::PasswordSplit => {
                "percent-encode `&` in a password as %26; in a key=value string, quote it: password='a b'".into()
            }
            UrlProblem::InvalidValue { .. } | UrlProblem::Other(_) | UrlProblem::NoPostgres | UrlProblem::NoMysql => {
                return None;
            }
        })
    }
}

impl UrlError {
    /// How to fix it.
    pub fn help(&self) -> Option<String> {
        self.problem.help()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted_url())
    }
}

impl fmt::Debug for MysqlUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted_url())
    }
}

impl DatabaseUrl {
    /// Parses a URL.
    ///
    /// SQLAlchemy's forms are read too: a driver in the scheme
    /// (`postgresql+psycopg2://`, `sqlite+pysqlite:///`) is dropped (see
    /// [`sqlalchemy_driver`]), and after `sqlite+DRIVER://` the path follows
    /// SQLAlchemy: `///app.db` is relative, `////srv/app.db` absolute. A plain
    /// `sqlite:///path` is absolute, as in sqlx, unless it starts with `./`
    /// or `../` (SQLAlchemy's `sqlite:///./app.db`).
    ///
    /// ```
    /// use migrate_runtime::{DatabaseUrl, SslMode, UrlProblem};
    ///
    /// let url = DatabaseUrl::parse("sqlite:data/app.db")?;
    /// assert_eq!(url, DatabaseUrl::Sqlite { path: Some("data/app.db".into()) });
    /// assert_eq!(DatabaseUrl::parse("sqlite::memory:")?, DatabaseUrl::Sqlite { path: None });
    ///
    /// let url = DatabaseUrl::parse("postgresql+psycopg2://app:s3cret@db.example.com/shop?sslmode=require")?;
    /// let DatabaseUrl::Postgres(pg) = &url else { panic!("{url:?}") };
    /// assert_eq!((pg.host.as_str(), pg.port, pg.database.as_str()), ("db.example.com", 5432, "shop"));
    /// assert_eq!(pg.ssl_mode, SslMode::Require);
    /// // libpq's key=value form reads the same.
    /// let same = DatabaseUrl::parse("host=db.example.com user=app password=s3cret dbname=shop sslmode=require")?;
    /// assert_eq!(same, url);
    ///
    /// let error = DatabaseUrl::parse("postgress://app:s3cret@localhost/shop").unwrap_err();
    /// assert!(matches!(error.problem, UrlProblem::UnknownScheme { suggestion: Some("postgres"), .. }));
    /// assert_eq!(error.redacted, "postgress://app:****@localhost/shop");
    /// # Ok::<(), migrate_runtime::UrlError>(())
    /// ```
    pub fn parse(text: &str) -> Result<DatabaseUrl, UrlError> {
        let fail = |problem| UrlError { redacted: redact(text), problem };
        let driver = sqlalchemy_driver(text);
        let plain;
        let text = match driver {
            Some(driver) => {
                plain = text.replacen(&format!("+{driver}"), "", 1);
                plain.as_str()
            }
            None => text,
        };
        if let Some(rest) = text.strip_prefix("sqlite:") {
            let path = match rest.strip_prefix("//") {
                Some("") if driver.is_some() => ":memory:",
                Some(after) if driver.is_some() || after.starts_with("/./") || after.starts_with("/../") => {
                    after.strip_prefix('/').unwrap_or(after)
                }
                Some(after) => after,
                None => rest,
            };
            if let Some((_, query)) = path.split_once('?') {
                let key = query.split(['=', '&']).next().unwrap_or_default();
                return Err(fail(UrlProblem::SqliteParameter(key.to_owned())));
            }
            return match path {
                ":memory:" => Ok(DatabaseUrl::Sqlite { path: None }),
                "" => Err(fail(UrlProblem::NoSqliteFile)),
                path => Ok(DatabaseUrl::Sqlite { path: Some(PathBuf::from(path)) }),
            };
        }
        if let Some(("mysql" | "mariadb", _)) = text.split_once("://") {
            return parse_mysql(text).map(DatabaseUrl::Mysql).map_err(fail);
        }
        parse_postgres(text).map(DatabaseUrl::Postgres).map_err(fail)
    }

    /// The SQL dialect the URL speaks.
    pub fn dialect(&self) -> crate::Dialect {
        match self {
            DatabaseUrl::Sqlite { .. } => crate::Dialect::Sqlite,
            DatabaseUrl::Postgres(_) => crate::Dialect::Postgres,
            DatabaseUrl::Mysql(_) => crate::Dialect::Mysql,
        }
    }

    /// The URL with any password replaced by `****`: the one form to show.
    /// The `Debug` output is the same.
    ///
    /// ```
    /// use migrate_runtime::DatabaseUrl;
    ///
    /// let url = DatabaseUrl::parse("postgres://app:s3cret@db.example.com/shop?connect_timeout=5")?;
    /// assert_eq!(url.redacted(), "postgres://app:****@db.example.com:5432/shop?connect_timeout=5");
    /// assert_eq!(format!("{url:?}"), url.redacted());
    /// assert_eq!(DatabaseUrl::parse("sqlite::memory:")?.redacted(), "sqlite::memory:");
    /// # Ok::<(), migrate_runtime::UrlError>(())
    /// ```
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite { path: None } => "sqlite::memory:".to_owned(),
            DatabaseUrl::Sqlite { path: Some(path) } => format!("sqlite:{}", path.display()),
            DatabaseUrl::Postgres(pg) => pg.redacted_url(),
            DatabaseUrl::Mysql(my) => my.redacted_url(),
        }
    }
}

/// The driver of a SQLAlchemy-style scheme, which [`DatabaseUrl::parse`]
/// drops: `psycopg2` in `postgresql+psycopg2://`, `pysqlite` in
/// `sqlite+pysqlite:///app.db`. `None` for every other URL.
pub fn sqlalchemy_driver(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let (base, driver) = scheme.split_once('+')?;
    let known = matches!(base, "postgres" | "postgresql" | "sqlite" | "mysql" | "mariadb");
    let word = !driver.is_empty() && driver.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (known && word).then_some(driver)
}

/// What is percent-encoded when a URL is written: all but RFC 3986's unreserved characters.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// A server's address and who connects, as shown.
struct Server<'a> {
    user: &'a str,
    password: bool,
    host: &'a str,
    port: u16,
}

impl Server<'_> {
    /// `scheme://user:****@host:port/database?query`, encoded.
    fn redacted_url(&self, scheme: &str, database: &str, query: &[String]) -> String {
        let password = if self.password { ":****" } else { "" };
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { encode(self.host) };
        let mut url = format!("{scheme}://{}{password}@{host}:{}/{}", encode(self.user), self.port, encode(database));
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        url
    }
}

impl PostgresUrl {
    /// The URL built from the parts connected to, the password as `****`.
    pub fn redacted_url(&self) -> String {
        let mut query = Vec::new();
        if self.ssl_mode != SslMode::Prefer {
            query.push(format!("sslmode={}", self.ssl_mode.as_str()));
        }
        if let Some(cert) = &self.ssl_root_cert {
            query.push(format!("sslrootcert={}", encode(&cert.display().to_string())));
        }
        query.extend(self.options.iter().map(|(key, value)| format!("{key}={}", encode(value))));
        let server = Server { user: &self.user, password: self.password.is_some(), host: &self.host, port: self.port };
        server.redacted_url("postgres", &self.database, &query)
    }

    /// `host:port/database as user`, for messages.
    pub fn describe(&self) -> String {
        format!("{}:{}/{} as {}", self.host, self.port, self.database, self.user)
    }

    /// The same server and credentials, another database.
    pub fn with_database(&self, database: &str) -> PostgresUrl {
        PostgresUrl { database: database.to_owned(), ..self.clone() }
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

    /// The driver's configuration, from the parts (TLS is set by `connect`).
    #[cfg(feature = "postgres")]
    pub(crate) fn config(&self) -> tokio_postgres::Config {
        // Only the checked driver parameters go through text, each quoted;
        // the host and the credentials are set as values.
        let mut config: tokio_postgres::Config = key_value_string(&self.options).parse().unwrap_or_default();
        config.host(&self.host).port(self.port).user(&self.user).dbname(&self.database);
        if let Some(password) = &self.password {
            config.password(password);
        }
        config
    }
}

impl MysqlUrl {
    /// The URL built from the parts connected to, the password as `****`.
    pub fn redacted_url(&self) -> String {
        let mut query = Vec::new();
        if self.ssl_mode != SslMode::Prefer {
            query.push(format!("ssl-mode={}", mysql_ssl_mode(self.ssl_mode)));
        }
        if let Some(ca) = &self.ssl_ca {
            query.push(format!("ssl-ca={}", encode(&ca.display().to_string())));
        }
        let server = Server { user: &self.user, password: self.password.is_some(), host: &self.host, port: self.port };
        server.redacted_url(if self.mariadb { "mariadb" } else { "mysql" }, &self.database, &query)
    }

    /// `host:port/database as user`, for messages.
    pub fn describe(&self) -> String {
        format!("{}:{}/{} as {}", self.host, self.port, self.database, self.user)
    }

    /// The same server and credentials, another database (empty: none).
    pub fn with_database(&self, database: &str) -> MysqlUrl {
        MysqlUrl { database: database.to_owned(), ..self.clone() }
    }

    /// The password, for the driver.
    #[cfg(feature = "mysql")]
    pub(crate) fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }
}

/// The mysql client's spelling of an `ssl-mode`.
fn mysql_ssl_mode(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Disable => "disabled",
        SslMode::Prefer => "preferred",
        SslMode::Require => "required",
        SslMode::VerifyCa => "verify_ca",
        SslMode::VerifyFull => "verify_identity",
    }
}

/// `mysql://` and `mariadb://` URLs. Their parameters are the mysql
/// client's TLS options, `ssl-mode` and `ssl-ca`.
fn parse_mysql(text: &str) -> Result<MysqlUrl, UrlProblem> {
    let mut parts = Parts::default();
    let (mut ssl_mode, mut ssl_ca) = (None, None);
    parse_url(text, &mut parts, &mut |_, pairs| {
        for pair in pairs {
            let (key, value) = pair?;
            match key.as_str() {
                "ssl-mode" | "ssl_mode" | "sslmode" => {
                    let mode =
                        [SslMode::Disable, SslMode::Prefer, SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull]
                            .into_iter()
                            .find(|&mode| mysql_ssl_mode(mode).eq_ignore_ascii_case(&value.replace('-', "_")));
                    ssl_mode = Some(mode.ok_or(UrlProblem::InvalidValue {
                        key,
                        value,
                        expected: "disabled, preferred, required, verify_ca or verify_identity",
                    })?);
                }
                "ssl-ca" | "ssl_ca" => ssl_ca = Some(PathBuf::from(value)),
                _ => {
                    return Err(UrlProblem::UnknownParameter {
                        suggestion: did_you_mean(&key, &["ssl-mode", "ssl-ca"]),
                        key,
                    });
                }
            }
        }
        Ok(())
    })?;
    let host = parts.host.filter(|h| !h.is_empty()).ok_or(UrlProblem::NoHost)?;
    if cfg!(not(feature = "mysql")) {
        return Err(UrlProblem::NoMysql);
    }
    let password = match parts.password.filter(|p| !p.is_empty()) {
        Some(bytes) => Some(String::from_utf8(bytes).map_err(|_| UrlProblem::NotUtf8("password".into()))?),
        None => None,
    };
    Ok(MysqlUrl {
        mariadb: text.starts_with("mariadb:"),
        host,
        port: parts.port.unwrap_or(3306),
        database: parts.database.unwrap_or_default(),
        user: parts.user.filter(|u| !u.is_empty()).unwrap_or_else(|| "root".to_owned()),
        password,
        ssl_mode: ssl_mode.unwrap_or(SslMode::Prefer),
        ssl_ca,
    })
}

/// The parts of a PostgreSQL URL as they are read.
#[derive(Default)]
struct Parts {
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    password: Option<Vec<u8>>,
    database: Option<String>,
    options: Vec<(String, String)>,
    ssl_mode: Option<SslMode>,
    ssl_root_cert: Option<PathBuf>,
}

impl Parts {
    fn param(&mut self, key: &str, value: String) -> Result<(), UrlProblem> {
        match key {
            "host" => self.host = Some(value),
            "port" if value.is_empty() => self.port = None,
            "port" => self.port = Some(parse_port(&value)?),
            "user" => self.user = Some(value),
            "password" => self.password = Some(value.into_bytes()),
            "dbname" => self.database = Some(value),
            "sslmode" => {
                self.ssl_mode = Some(SslMode::parse(&value).ok_or(UrlProblem::InvalidValue {
                    key: key.to_owned(),
                    value,
                    expected: "disable, allow, prefer, require, verify-ca or verify-full",
                })?)
            }
            "sslrootcert" => self.ssl_root_cert = Some(PathBuf::from(value)),
            _ if DRIVER_PARAMETERS.contains(&key) => {
                check_driver_parameter(key, &value)?;
                self.options.push((key.to_owned(), value));
            }
            _ if UNSUPPORTED_PARAMETERS.contains(&key) => return Err(UrlProblem::UnsupportedParameter(key.to_owned())),
            _ => {
                let known: Vec<&'static str> = OWN_PARAMETERS.iter().chain(&DRIVER_PARAMETERS).copied().collect();
                return Err(UrlProblem::UnknownParameter {
                    key: key.to_owned(),
                    suggestion: did_you_mean(key, &known),
                });
            }
        }
        Ok(())
    }

    /// Parameters in order; an error right after a password is taken for a
    /// password that holds the separator, and echoes nothing.
    fn params(
        &mut self,
        pairs: impl IntoIterator<Item = Result<(String, String), UrlProblem>>,
    ) -> Result<(), UrlProblem> {
        let mut after_password = false;
        for pair in pairs {
            let result = pair.and_then(|(key, value)| {
                let is_password = key == "password";
                self.param(&key, value).map(|()| is_password)
            });
            after_password = match result {
                Ok(is_password) => is_password,
                Err(_) if after_password => return Err(UrlProblem::PasswordSplit),
                Err(problem) => return Err(problem),
            };
        }
        Ok(())
    }

    fn finish(self) -> Result<PostgresUrl, UrlProblem> {
        let host = self.host.filter(|h| !h.is_empty()).ok_or(UrlProblem::NoHost)?;
        if host.contains(',') {
            return Err(UrlProblem::SeveralHosts(host));
        }
        let user = self.user.filter(|u| !u.is_empty()).unwrap_or_else(|| "postgres".to_owned());
        Ok(PostgresUrl {
            host,
            port: self.port.unwrap_or(5432),
            database: self.database.filter(|d| !d.is_empty()).unwrap_or_else(|| user.clone()),
            user,
            password: self.password.filter(|p| !p.is_empty()),
            options: self.options,
            ssl_mode: self.ssl_mode.unwrap_or(SslMode::Prefer),
            ssl_root_cert: self.ssl_root_cert,
        })
    }
}

fn parse_postgres(text: &str) -> Result<PostgresUrl, UrlProblem> {
    let mut parts = Parts::default();
    match text.split_once("://") {
        Some(("postgres" | "postgresql", _)) => parse_url(text, &mut parts, &mut |parts, pairs| parts.params(pairs))?,
        Some((scheme, _)) => {
            let suggestion = did_you_mean(scheme, &["postgres", "postgresql", "sqlite", "mysql", "mariadb"]);
            return Err(UrlProblem::UnknownScheme { scheme: scheme.to_owned(), suggestion });
        }
        None => parts.params(key_values(text)?.into_iter().map(Ok))?,
    }
    if cfg!(not(feature = "postgres")) {
        return Err(UrlProblem::NoPostgres);
    }
    parts.finish()
}

/// The URL form. An `@` after the host while the host has none means a
/// password holding an unencoded `/`, `?` or `#`, which parsers split
/// differently: any problem then is reported without echoing anything.
fn parse_url(text: &str, parts: &mut Parts, params: &mut Params<'_>) -> Result<(), UrlProblem> {
    let start = text.find("://").map_or(0, |i| i + 3);
    let authority_end = text[start..].find(['/', '?', '#']).map_or(text.len(), |i| start + i);
    let authority = &text[start..authority_end];
    let suspicious = !authority.contains('@') && text[authority_end..].contains('@');
    let path = text[authority_end..].split(['?', '#']).next().unwrap_or_default();
    if suspicious && path.contains('@') {
        return Err(UrlProblem::Ambiguous);
    }
    let result = url_parts(text, authority, parts, params);
    if suspicious { result.map_err(|_| UrlProblem::Ambiguous) } else { result }
}

/// What reads a URL's query parameters, in order.
type Params<'a> = dyn FnMut(&mut Parts, Vec<Result<(String, String), UrlProblem>>) -> Result<(), UrlProblem> + 'a;

#[cfg(any(feature = "postgres", feature = "mysql"))]
fn url_parts(text: &str, authority: &str, parts: &mut Parts, params: &mut Params<'_>) -> Result<(), UrlProblem> {
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let url = url::Url::parse(text).map_err(|error| match error {
        url::ParseError::InvalidPort => {
            let port = host_port.rsplit_once(':').map_or("", |(_, port)| port);
            if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
                UrlProblem::PortOutOfRange(port.to_owned())
            } else {
                UrlProblem::PortNotNumber(port.to_owned())
            }
        }
        url::ParseError::EmptyHost => UrlProblem::NoHost,
        url::ParseError::InvalidDomainCharacter
        | url::ParseError::IdnaError
        | url::ParseError::InvalidIpv4Address
        | url::ParseError::InvalidIpv6Address => {
            let host = host_port.rsplit_once(':').filter(|_| !host_port.ends_with(']')).map_or(host_port, |(h, _)| h);
            UrlProblem::InvalidHost(host.to_owned())
        }
        other => UrlProblem::Other(other.to_string()),
    })?;
    if url.fragment().is_some() {
        return Err(UrlProblem::Fragment);
    }
    parts.host = match url.host() {
        None => None,
        Some(url::Host::Domain(domain)) => Some(decode(domain, "host")?),
        Some(url::Host::Ipv4(ip)) => Some(ip.to_string()),
        Some(url::Host::Ipv6(ip)) => Some(ip.to_string()),
    };
    parts.port = url.port().map(|port| parse_port(&port.to_string())).transpose()?;
    parts.user = Some(decode(url.username(), "user name")?);
    parts.password = url.password().map(|p| decode_bytes(p, "password")).transpose()?;
    parts.database = Some(decode(url.path().strip_prefix('/').unwrap_or(url.path()), "database name")?);
    let pairs = url.query().unwrap_or_default().split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (key, value) = pair.split_once('=').ok_or_else(|| UrlProblem::MissingValue(pair.to_owned()))?;
        let key = decode(key, "parameter name")?;
        let part = if key == "password" { "password".to_owned() } else { format!("value of `{key}`") };
        let value = decode(value, &part)?;
        Ok((key, value))
    });
    params(parts, pairs.collect())
}

#[cfg(not(any(feature = "postgres", feature = "mysql")))]
fn url_parts(text: &str, _: &str, _: &mut Parts, _: &mut Params<'_>) -> Result<(), UrlProblem> {
    Err(if text.starts_with("m") { UrlProblem::NoMysql } else { UrlProblem::NoPostgres })
}

fn parse_port(text: &str) -> Result<u16, UrlProblem> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlProblem::PortNotNumber(text.to_owned()));
    }
    text.parse::<u16>().ok().filter(|&port| port != 0).ok_or_else(|| UrlProblem::PortOutOfRange(text.to_owned()))
}

/// Checks a value with the driver's own parser, so that a bad one fails
/// here, with the values it takes, rather than at connection time.
fn check_driver_parameter(key: &str, value: &str) -> Result<(), UrlProblem> {
    #[cfg(feature = "postgres")]
    if key_value_string(&[(key.to_owned(), value.to_owned())]).parse::<postgres::Config>().is_err() {
        let expected = match key {
            "connect_timeout" | "tcp_user_timeout" | "keepalives_idle" | "keepalives_interval" => "a number of seconds",
            "keepalives" => "0 or 1",
            "keepalives_retries" => "a count",
            "hostaddr" => "an IP address",
            "target_session_attrs" => "any, read-write or read-only",
            "channel_binding" => "disable, prefer or require",
            "load_balance_hosts" => "disable or random",
            "sslnegotiation" => "postgres or direct",
            _ => "another value",
        };
        return Err(UrlProblem::InvalidValue { key: key.to_owned(), value: value.to_owned(), expected });
    }
    let _ = (key, value);
    Ok(())
}

/// `key='value' ...`, quoted as libpq reads it.
#[cfg(feature = "postgres")]
fn key_value_string(pairs: &[(String, String)]) -> String {
    let quote = |value: &str| format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"));
    pairs.iter().map(|(key, value)| format!("{key}={}", quote(value))).collect::<Vec<_>>().join(" ")
}

/// A strict percent-decoding: a `%` must start an escape.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn decode_bytes(text: &str, part: &str) -> Result<Vec<u8>, UrlProblem> {
    let bytes = text.as_bytes();
    if let Some((at, _)) = text
        .match_indices('%')
        .find(|(at, _)| !bytes.get(at + 1..at + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)))
    {
        let escape = (part != "password").then(|| text[at..].chars().take(3).collect());
        return Err(UrlProblem::BadEscape { part: part.to_owned(), escape });
    }
    Ok(percent_decode_str(text).collect())
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
fn decode(text: &str, part: &str) -> Result<String, UrlProblem> {
    String::from_utf8(decode_bytes(text, part)?).map_err(|_| UrlProblem::NotUtf8(part.to_owned()))
}

/// A libpq connection string, `host=db user=a password='x y'`: values
/// quoted with `'`, `\` escapes the next character.
fn key_values(text: &str) -> Result<Vec<(String, String)>, UrlProblem> {
    let mut chars = text.chars().peekable();
    let mut pairs = Vec::new();
    let skip_space =
        |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| while chars.next_if(|c| c.is_whitespace()).is_some() {};
    loop {
        skip_space(&mut chars);
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(UrlProblem::NotAUrl);
        }
        skip_space(&mut chars);
        if chars.next() != Some('=') {
            let after_password = pairs.last().is_some_and(|(k, _): &(String, String)| k == "password");
            return Err(if after_password { UrlProblem::PasswordSplit } else { UrlProblem::MissingValue(key) });
        }
        skip_space(&mut chars);
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(UrlProblem::UnclosedQuote(key)),
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

/// Masks anything in `text` that may be a password, also when `text` does
/// not parse: user info up to the last `@`, `password=` parameters (keys
/// percent-decoded) up to the next known parameter, and `password` in a
/// `key=value` string. Masks more than needed rather than less.
pub fn redact(text: &str) -> String {
    if !text.contains("://") {
        return redact_key_values(text);
    }
    let masked = redact_query(text);
    let start = masked.find("://").map_or(0, |i| i + 3);
    match masked.rfind('@').filter(|&at| at >= start) {
        Some(at) => match masked[start..at].find(':') {
            Some(colon) => format!("{}****{}", &masked[..start + colon + 1], &masked[at..]),
            None => masked,
        },
        None => masked,
    }
}

/// Every `?`- or `&`-separated `password=...` masked, up to the next
/// segment that starts with a known parameter.
fn redact_query(text: &str) -> String {
    let mut out = String::new();
    let mut masking = false;
    let mut rest = text;
    loop {
        let end = rest[1.min(rest.len())..].find(['?', '&']).map_or(rest.len(), |i| i + 1);
        let (segment, tail) = rest.split_at(end);
        let body = segment.strip_prefix(['?', '&']);
        let key = body.and_then(|b| b.split_once('=')).map(|(key, _)| percent_decode_str(key).decode_utf8_lossy());
        match key {
            Some(key) if key == "password" => {
                out.push_str(&segment[..=segment.find('=').unwrap_or(0)]);
                out.push_str("****");
                masking = true;
            }
            Some(key) if is_known_parameter(&key) => {
                masking = false;
                out.push_str(segment);
            }
            _ if masking => {}
            _ => out.push_str(segment),
        }
        if tail.is_empty() {
            return out;
        }
        rest = tail;
    }
}

fn redact_key_values(text: &str) -> String {
    let Ok(pairs) = key_values(text) else {
        // Unreadable: keep what comes before the password.
        return match text.find("password") {
            Some(at) => format!("{}password=****", &text[..at]),
            None => text.to_owned(),
        };
    };
    let mut masking = false;
    let mut out = Vec::new();
    for (key, value) in &pairs {
        if key == "password" {
            out.push("password=****".to_owned());
            masking = true;
        } else if is_known_parameter(key) || !masking {
            masking = false;
            let quoted = if value.contains(char::is_whitespace) { format!("'{value}'") } else { value.clone() };
            out.push(format!("{key}={quoted}"));
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(text: &str) -> PostgresUrl {
        match DatabaseUrl::parse(text) {
            Ok(DatabaseUrl::Postgres(pg)) => pg,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn problem(text: &str) -> String {
        let error = DatabaseUrl::parse(text).unwrap_err();
        format!("{}\nhelp: {}", error.problem, error.help().unwrap_or_default())
    }

    /// Every character the audit named, raw and percent-encoded, as a password.
    const PASSWORDS: [(&str, &str); 11] = [
        ("S3cr3t@Pw", "S3cr3t%40Pw"),
        ("a:b", "a%3Ab"),
        ("a/b", "a%2Fb"),
        ("a?b", "a%3Fb"),
        ("a#b", "a%23b"),
        ("a%b", "a%25b"),
        ("a&b", "a%26b"),
        ("a'b", "a%27b"),
        ("a\"b", "a%22b"),
        ("pä§", "p%C3%A4%C2%A7"),
        ("a b", "a%20b"),
    ];

    #[track_caller]
    fn assert_hidden(shown: &str, password: &str, encoded: &str) {
        for secret in [password, encoded] {
            assert!(!shown.contains(secret), "{shown} shows {secret}");
        }
    }

    #[test]
    fn the_audit_url_with_the_password_in_the_query() {
        let url = pg("postgres://127.0.0.1/db?user=alice&password=S3cr3t@Pw");
        assert_eq!(url.redacted_url(), "postgres://alice:****@127.0.0.1:5432/db");
        assert_eq!(url.describe(), "127.0.0.1:5432/db as alice");
        assert_eq!(url.password.as_deref(), Some(&b"S3cr3t@Pw"[..]));
    }

    #[test]
    fn passwords_in_the_user_info() {
        for (password, encoded) in PASSWORDS {
            let url = pg(&format!("postgres://alice:{encoded}@db.example.com:6543/app?sslmode=require"));
            assert_eq!(url.redacted_url(), "postgres://alice:****@db.example.com:6543/app?sslmode=require");
            assert_eq!(url.password.as_deref(), Some(password.as_bytes()), "{encoded}");
            assert_hidden(&format!("{url:?} {}", url.describe()), password, encoded);
        }
    }

    #[test]
    fn passwords_in_the_query() {
        for (password, encoded) in PASSWORDS {
            for key in ["password", "pass%77ord", "%70assword"] {
                let url = pg(&format!("postgresql://db:6543/app?user=alice&{key}={encoded}&application_name=x"));
                assert_eq!(url.redacted_url(), "postgres://alice:****@db:6543/app?application_name=x");
                assert_eq!(url.password.as_deref(), Some(password.as_bytes()), "{key}={encoded}");
            }
        }
    }

    #[test]
    fn passwords_in_key_value_strings() {
        for (password, _) in PASSWORDS {
            let quoted = password.replace('\\', "\\\\").replace('\'', "\\'");
            let text = format!("host=db port=6543 user=alice password='{quoted}' dbname=app");
            let url = pg(&text);
            assert_eq!(url.redacted_url(), "postgres://alice:****@db:6543/app");
            assert_eq!(url.password.as_deref(), Some(password.as_bytes()), "{text}");
            assert_eq!(redact(&text), "host=db port=6543 user=alice password=**** dbname=app");
        }
        assert_eq!(pg("host=db password=plain dbname=x").password.as_deref(), Some(&b"plain"[..]));
    }

    #[test]
    fn redacting_text_that_does_not_parse() {
        let cases = [
            ("postgres://alice:S3cr3t@db:99999/app", "postgres://alice:****@db:99999/app"),
            ("postgres://alice:pa/ss@db/app", "postgres://alice:****@db/app"),
            (
                "postgres://127.0.0.1/db?user=alice&password=S3cr3t@Pw&sslmod=x",
                "postgres://127.0.0.1/db?user=alice&password=****",
            ),
            ("postgres://db/app?pass%77ord=a&b&c=d&port=1", "postgres://db/app?pass%77ord=****&port=1"),
            ("host=db password=a b=c port=1", "host=db password=**** port=1"),
            ("host=db password='a b", "host=db password=****"),
        ];
        for (text, redacted) in cases {
            assert_eq!(redact(text), redacted);
        }
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn the_connection_config_is_the_parts_shown() {
        let url = pg("postgres://al%40ice:p%40ss@db.example.com:6543/my%2Fdb?connect_timeout=3&options=-c%20x%3Dy");
        let config = url.config();
        assert_eq!(config.get_hosts(), [tokio_postgres::config::Host::Tcp("db.example.com".into())]);
        assert_eq!(config.get_ports(), [6543]);
        assert_eq!(config.get_user(), Some("al@ice"));
        assert_eq!(config.get_password(), Some(&b"p@ss"[..]));
        assert_eq!(config.get_dbname(), Some("my/db"));
        assert_eq!(config.get_connect_timeout(), Some(&std::time::Duration::from_secs(3)));
        assert_eq!(config.get_options(), Some("-c x=y"));
        assert_eq!(
            url.redacted_url(),
            "postgres://al%40ice:****@db.example.com:6543/my%2Fdb?connect_timeout=3&options=-c%20x%3Dy"
        );
        // What is shown parses back to what is connected to.
        let shown = pg(&url.redacted_url().replace("****", "p%40ss"));
        assert_eq!(shown, url);
    }

    #[test]
    fn unix_sockets_and_ipv6() {
        let socket = pg("postgres://alice@%2Frun%2Fpostgresql/app");
        assert_eq!(socket.host, "/run/postgresql");
        assert_eq!(socket.redacted_url(), "postgres://alice@%2Frun%2Fpostgresql:5432/app");
        assert_eq!(pg("postgres:///app?host=/run/postgresql").host, "/run/postgresql");
        let ipv6 = pg("postgres://u:p@[::1]:6000/app");
        assert_eq!((ipv6.host.as_str(), ipv6.port), ("::1", 6000));
        assert_eq!(ipv6.redacted_url(), "postgres://u:****@[::1]:6000/app");
    }

    #[test]
    fn an_unencoded_slash_question_mark_or_hash_in_the_password_is_refused_without_echo() {
        for text in [
            "postgres://u:qX7/zK9@h/db",
            "postgres://u:12/zK9@h/db",
            "postgres://u:qX7?zK9@h/db",
            "postgres://u:12#zK9@h/db",
        ] {
            let error = DatabaseUrl::parse(text).unwrap_err();
            assert_eq!(error.problem, UrlProblem::Ambiguous, "{text}");
            assert_hidden(&format!("{error} {:?}", error.help()), "qX7", "zK9");
        }
    }

    #[test]
    fn an_unencoded_at_sign_in_the_password_is_the_password() {
        let url = pg("postgres://u:p@ss@h/db");
        assert_eq!((url.host.as_str(), url.password.as_deref()), ("h", Some(&b"p@ss"[..])));
    }

    #[test]
    fn a_password_split_by_an_unencoded_ampersand_or_space_is_not_echoed() {
        for text in
            ["postgres://h/db?password=qX7&zK9", "postgres://h/db?password=qX7&zK9=x", "host=h password=qX7 zK9"]
        {
            let error = DatabaseUrl::parse(text).unwrap_err();
            assert_eq!(error.problem, UrlProblem::PasswordSplit, "{text}");
            assert_hidden(&error.to_string(), "qX7", "zK9");
        }
    }

    #[test]
    fn a_bad_escape_in_a_password_is_not_echoed() {
        assert_eq!(
            problem("postgres://u:ab%zzcd@h/db"),
            "bad percent escape in the password\nhelp: write a literal `%` as %25; an escape is `%` and two hex digits"
        );
        assert_eq!(
            problem("postgres://h/db?password=ab%zz").lines().next(),
            Some("bad percent escape in the password")
        );
        assert_eq!(problem("postgres://h/d%zzb").lines().next(), Some("bad percent escape `%zz` in the database name"));
    }

    #[test]
    fn malformed_urls_say_what_is_wrong() {
        let cases = [
            ("postgres://h:99999/db", "port 99999 is out of range (1-65535)"),
            ("postgres://h:0/db", "port 0 is out of range (1-65535)"),
            ("postgres://h:x/db", "port `x` is not a number"),
            ("postgres://h/db?port=70000", "port 70000 is out of range (1-65535)"),
            ("postgres://h/db?sslmod=require", "unknown parameter `sslmod`: did you mean `sslmode`?"),
            (
                "postgres://h/db?sslmode=sideways",
                "`sslmode=sideways`: sslmode must be disable, allow, prefer, require, verify-ca or verify-full",
            ),
            ("postgres://h/db?keepalives=often", "`keepalives=often`: keepalives must be 0 or 1"),
            (
                "postgres://h/db?sslcert=c.pem",
                "the libpq parameter `sslcert` is not supported by the PostgreSQL driver",
            ),
            ("postgres://h/db?sslmode", "`sslmode` has no value"),
            ("postgres:///db", "no host"),
            ("postgres://:5432/db", "no host"),
            ("postgres://a,b/db", "several hosts (`a,b`) are not supported"),
            ("postgres://ho st/db", "the host `ho st` holds a character host names cannot have"),
            ("postgres://h/db#x", "URLs of databases have no `#fragment`"),
            ("postgress://h/db", "unknown scheme `postgress`: did you mean `postgres`?"),
            ("mysqll://h/db", "unknown scheme `mysqll`: did you mean `mysql`?"),
            (
                "mysql://h/db?sslmode=sometimes",
                "`sslmode=sometimes`: sslmode must be disabled, preferred, required, verify_ca or verify_identity",
            ),
            ("mysql://h/db?ssl-mod=required", "unknown parameter `ssl-mod`: did you mean `ssl-mode`?"),
            ("mysql:///db", "no host"),
            ("localhost/db", "it is neither a URL nor a libpq `key=value` string"),
            ("host=h dbname='x", "the quoted value of `dbname` is not closed"),
            ("sqlite:", "no SQLite file"),
            ("sqlite:a.db?mode=rwc", "SQLite URLs take no parameters (`mode`)"),
        ];
        for (text, expected) in cases {
            assert_eq!(problem(text).lines().next(), Some(expected), "{text}");
        }
    }

    #[test]
    fn neon_urls() {
        let text = "postgresql://neondb_owner:npg_secret@ep-cool-darkness-a1b2c3d4-pooler.eu-central-1.aws.neon.tech/neondb?sslmode=require&channel_binding=require";
        let url = pg(text);
        assert_eq!(url.ssl_mode, SslMode::Require);
        assert!(url.is_transaction_pooler());
        assert_eq!(url.direct_host(), "ep-cool-darkness-a1b2c3d4.eu-central-1.aws.neon.tech");
        assert_eq!(url.database, "neondb");
        assert_eq!(url.options, [("channel_binding".to_owned(), "require".to_owned())]);
        let direct = pg("postgres://u@ep-x.neon.tech/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem");
        assert!(!direct.is_transaction_pooler());
        assert_eq!(direct.ssl_mode, SslMode::VerifyFull);
        assert_eq!(direct.ssl_root_cert, Some(PathBuf::from("/etc/ca.pem")));
        let other = direct.with_database("scratch");
        assert_eq!(
            other.redacted_url(),
            "postgres://u@ep-x.neon.tech:5432/scratch?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem"
        );
    }

    #[test]
    fn defaults_follow_libpq() {
        let url = pg("postgres://db");
        assert_eq!((url.user.as_str(), url.port, url.database.as_str()), ("postgres", 5432, "postgres"));
        assert_eq!(pg("postgres://alice@db").database, "alice");
        assert_eq!(pg("postgres://db/app?sslmode=allow").ssl_mode, SslMode::Prefer);
    }

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
        assert!(DatabaseUrl::parse("oracle://x").is_err());
    }

    #[test]
    fn sqlalchemy_urls_drop_the_driver() {
        let sqlite = |text: &str| match DatabaseUrl::parse(text).unwrap() {
            DatabaseUrl::Sqlite { path } => path,
            other => panic!("{text}: {other:?}"),
        };
        let cases = [
            ("sqlite+pysqlite:///app.db", Some("app.db")),
            ("sqlite+pysqlite:////srv/app.db", Some("/srv/app.db")),
            ("sqlite+pysqlite:///:memory:", None),
            ("sqlite+pysqlite://", None),
            ("sqlite:///./app.db", Some("./app.db")),
            ("sqlite:///../data/app.db", Some("../data/app.db")),
            ("sqlite:///srv/app.db", Some("/srv/app.db")),
        ];
        for (text, path) in cases {
            assert_eq!(sqlite(text), path.map(PathBuf::from), "{text}");
        }
        for (password, encoded) in PASSWORDS {
            for scheme in ["postgresql+psycopg2", "postgresql+asyncpg", "postgres+pg8000"] {
                let text = format!("{scheme}://alice:{encoded}@db:6543/app?sslmode=require");
                let url = pg(&text);
                assert_eq!(url.redacted_url(), "postgres://alice:****@db:6543/app?sslmode=require");
                assert_eq!(url.password.as_deref(), Some(password.as_bytes()), "{text}");
                assert_hidden(&redact(&text), password, encoded);
                assert_eq!(sqlalchemy_driver(&text), scheme.split_once('+').map(|(_, d)| d));
            }
        }
        let error = DatabaseUrl::parse("postgresql+psycopg2://alice:S3cr3t@db:99999/app").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid database URL `postgresql+psycopg2://alice:****@db:99999/app`: port 99999 is out of range (1-65535)"
        );
        assert_eq!(problem("oracle+cx://h/db").lines().next(), Some("unknown scheme `oracle+cx`"));
        assert_eq!(sqlalchemy_driver("postgres://a+b@h/db"), None);
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn mysql_urls() {
        let my = |text: &str| match DatabaseUrl::parse(text) {
            Ok(DatabaseUrl::Mysql(my)) => my,
            other => panic!("{text}: {other:?}"),
        };
        for (password, encoded) in PASSWORDS {
            for scheme in ["mysql", "mariadb", "mysql+pymysql", "mariadb+mariadbconnector"] {
                let text = format!("{scheme}://alice:{encoded}@db.example.com:3307/app?ssl-mode=REQUIRED");
                let url = my(&text);
                let shown = if scheme.starts_with("mariadb") { "mariadb" } else { "mysql" };
                assert_eq!(
                    url.redacted_url(),
                    format!("{shown}://alice:****@db.example.com:3307/app?ssl-mode=required")
                );
                assert_eq!(url.password(), Some(password), "{text}");
                assert_hidden(&format!("{url:?} {} {}", url.describe(), redact(&text)), password, encoded);
            }
        }
        let url = my("mysql://127.0.0.1/");
        assert_eq!((url.user.as_str(), url.port, url.database.as_str()), ("root", 3306, ""));
        assert_eq!((url.ssl_mode, url.password()), (SslMode::Prefer, None));
        assert_eq!(url.with_database("shop").redacted_url(), "mysql://root@127.0.0.1:3306/shop");
        let url = my("mysql://u@h/d?ssl-mode=verify_identity&ssl-ca=%2Fetc%2Fca.pem");
        assert_eq!((url.ssl_mode, url.ssl_ca), (SslMode::VerifyFull, Some(PathBuf::from("/etc/ca.pem"))));
        assert_eq!(DatabaseUrl::parse("mariadb://h/d").unwrap().dialect(), crate::Dialect::Mysql);
    }
}
