//! Opening a connection from a [`DatabaseUrl`].

use crate::url::DatabaseUrl;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use crate::url::SslMode;
use crate::{Database, Dialect};

/// A connection opened by [`connect`].
#[non_exhaustive]
pub enum Connection {
    /// A SQLite database, a file or in memory.
    #[cfg(feature = "sqlite")]
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL session on the blocking driver.
    #[cfg(feature = "postgres")]
    Postgres(Box<postgres::Client>),
    /// A MariaDB or MySQL session.
    #[cfg(feature = "mysql")]
    Mysql(Box<::mysql::Conn>),
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connection({})", self.dialect().name())
    }
}

impl Connection {
    /// The connection as the engine uses it.
    ///
    /// ```
    /// use migrate_runtime::{DatabaseUrl, Migrator, connect};
    ///
    /// let mut connection = connect(&DatabaseUrl::parse("sqlite::memory:")?)?;
    /// let db = connection.database();
    /// db.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42);")?;
    /// assert_eq!(db.query_text("SELECT x FROM t")?, [[Some("42".to_owned())]]);
    ///
    /// let migrator = Migrator::new(migrate_history::History::default());
    /// assert!(migrator.run(connection.database())?.applied.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn database(&mut self) -> &mut dyn Database {
        match self {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(c) => c,
            #[cfg(feature = "postgres")]
            Connection::Postgres(c) => c.as_mut(),
            #[cfg(feature = "mysql")]
            Connection::Mysql(c) => c.as_mut(),
        }
    }

    /// The connection, owned, as the engine uses it: for
    /// [`Migrator::heartbeat`](crate::Migrator::heartbeat)'s connection.
    pub fn into_database(self) -> Box<dyn Database + Send> {
        match self {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(c) => Box::new(c),
            #[cfg(feature = "postgres")]
            Connection::Postgres(c) => c,
            #[cfg(feature = "mysql")]
            Connection::Mysql(c) => c,
        }
    }

    /// The SQL dialect of the database.
    pub fn dialect(&self) -> Dialect {
        match self {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Connection::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "mysql")]
            Connection::Mysql(_) => Dialect::Mysql,
        }
    }

    /// The server's version, for `status`.
    pub fn server_version(&mut self) -> String {
        let sql = match self.dialect() {
            Dialect::Sqlite => "SELECT 'SQLite ' || sqlite_version()",
            _ => "SELECT version()",
        };
        self.database()
            .query_text(sql)
            .ok()
            .and_then(|rows| rows.into_iter().next())
            .and_then(|row| row.into_iter().next().flatten())
            .unwrap_or_default()
    }
}

/// Whether a PostgreSQL session is encrypted, as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    /// Whether the session runs over TLS.
    pub encrypted: bool,
    /// `TLSv1.3`, when encrypted.
    pub protocol: Option<String>,
    /// The cipher suite, such as `TLS_AES_256_GCM_SHA384`, when encrypted.
    pub cipher: Option<String>,
}

impl Connection {
    /// The own backend's row of `pg_stat_ssl` (on MariaDB and MySQL the
    /// session's `Ssl_version` and `Ssl_cipher`); `None` on SQLite or when
    /// the server does not say.
    pub fn encryption(&mut self) -> Option<Encryption> {
        if self.dialect() == Dialect::Mysql {
            let rows = self.database().query_text("SHOW SESSION STATUS LIKE 'Ssl\\_%'").ok()?;
            let value = |name: &str| {
                let row = rows.iter().find(|row| row.first().cloned().flatten().as_deref() == Some(name))?;
                row.get(1).cloned().flatten().filter(|v| !v.is_empty())
            };
            let cipher = value("Ssl_cipher");
            return Some(Encryption { encrypted: cipher.is_some(), protocol: value("Ssl_version"), cipher });
        }
        if self.dialect() != Dialect::Postgres {
            return None;
        }
        let rows = self
            .database()
            .query_text("SELECT ssl::text, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .ok()?;
        let mut row = rows.into_iter().next()?.into_iter();
        let encrypted = row.next().flatten()? == "true";
        Some(Encryption { encrypted, protocol: row.next().flatten(), cipher: row.next().flatten() })
    }
}

/// Why a connection could not be opened. Never contains a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    /// What failed, naming the database by its redacted URL or its host.
    pub message: String,
    /// How to fix it, when the cause is clear enough to say.
    pub help: Option<String>,
}

/// Opens a connection. A SQLite file is created, with its directory, when missing.
///
/// ```
/// use migrate_runtime::{DatabaseUrl, Dialect, connect};
///
/// let mut connection = connect(&DatabaseUrl::parse("sqlite::memory:")?)?;
/// assert_eq!(connection.dialect(), Dialect::Sqlite);
/// assert!(connection.server_version().starts_with("SQLite "));
///
/// let dir = tempfile::tempdir()?;
/// let url = DatabaseUrl::parse(&format!("sqlite:{}", dir.path().join("data/app.db").display()))?;
/// connect(&url)?;
/// assert!(dir.path().join("data/app.db").is_file());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn connect(url: &DatabaseUrl) -> Result<Connection, ConnectError> {
    open(url, true)?.ok_or_else(|| ConnectError { message: format!("{} was not created", url.redacted()), help: None })
}

/// Opens a connection without creating anything, for commands that only
/// read: a SQLite file is opened read-only, and `Ok(None)` says it does not
/// exist (so nothing is applied to it).
///
/// ```
/// use migrate_runtime::{DatabaseUrl, connect_existing};
///
/// let dir = tempfile::tempdir()?;
/// let url = DatabaseUrl::parse(&format!("sqlite:{}", dir.path().join("app.db").display()))?;
/// assert!(connect_existing(&url)?.is_none());
/// assert!(!dir.path().join("app.db").exists(), "nothing was created");
///
/// // In memory, there always is a database: a new, empty one.
/// let mut memory = connect_existing(&DatabaseUrl::parse("sqlite::memory:")?)?.expect("in memory");
/// assert!(memory.database().query_text("SELECT name FROM sqlite_master")?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn connect_existing(url: &DatabaseUrl) -> Result<Option<Connection>, ConnectError> {
    open(url, false)
}

fn open(url: &DatabaseUrl, create: bool) -> Result<Option<Connection>, ConnectError> {
    // Only SQLite files are created.
    #[cfg(not(feature = "sqlite"))]
    let _ = create;
    match url {
        #[cfg(feature = "sqlite")]
        DatabaseUrl::Sqlite { path: None } => {
            let connection = rusqlite::Connection::open_in_memory().map_err(|e| ConnectError {
                message: format!("could not open an in-memory SQLite database: {e}"),
                help: None,
            })?;
            Ok(Some(Connection::Sqlite(connection)))
        }
        #[cfg(feature = "sqlite")]
        DatabaseUrl::Sqlite { path: Some(path) } => {
            open_sqlite(url, path, create).map(|opened| opened.map(Connection::Sqlite))
        }
        #[cfg(feature = "postgres")]
        DatabaseUrl::Postgres(pg) => connect_postgres(pg).map(|c| Some(Connection::Postgres(Box::new(c)))),
        #[cfg(feature = "mysql")]
        DatabaseUrl::Mysql(my) => connect_mysql(my).map(|c| Some(Connection::Mysql(Box::new(c)))),
        #[allow(unreachable_patterns)]
        _ => Err(ConnectError {
            message: format!("this build cannot open {}", url.redacted()),
            help: Some("enable the `sqlite`, `postgres` and `mysql` features of migrate-runtime".into()),
        }),
    }
}

#[cfg(feature = "sqlite")]
fn open_sqlite(
    url: &DatabaseUrl,
    path: &std::path::Path,
    create: bool,
) -> Result<Option<rusqlite::Connection>, ConnectError> {
    use rusqlite::OpenFlags;
    let fail = |what: String, help: &str| ConnectError {
        message: format!("could not open SQLite database {}: {what}", url.redacted()),
        help: Some(help.to_owned()),
    };
    // Said before the OS says "File exists" or "Not a directory".
    if let Some(file) =
        path.ancestors().skip(1).find(|dir| !dir.as_os_str().is_empty() && dir.exists() && !dir.is_dir())
    {
        return Err(fail(
            format!("{} is a file, not a directory", file.display()),
            "choose a path whose parent is a directory",
        ));
    }
    if path.is_dir() {
        return Err(fail(
            format!("{} is a directory, not a database file", path.display()),
            "name a file, such as sqlite:path/to/app.db",
        ));
    }
    if !create && !path.exists() {
        return Ok(None);
    }
    if let Some(dir) = path.parent().filter(|d| create && !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            fail(format!("could not create the directory {}: {e}", dir.display()), "check that the path is writable")
        })?;
    }
    let flags = if create {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let help = if create { "check that the path is writable" } else { "check that the file is readable" };
    rusqlite::Connection::open_with_flags(path, flags).map(Some).map_err(|e| fail(e.to_string(), help))
}

#[cfg(feature = "postgres")]
fn connect_postgres(pg: &crate::url::PostgresUrl) -> Result<postgres::Client, ConnectError> {
    let (config, tls) = postgres_config(pg)?;
    let config = postgres::Config::from(config);
    match tls {
        Tls::Off => config.connect(postgres::NoTls),
        Tls::Verified(tls) => config.connect(tls),
        #[cfg(all(feature = "postgres", not(any(target_os = "windows", target_vendor = "apple"))))]
        Tls::Unverified(tls) => config.connect(tls),
    }
    .map_err(|e| connect_failure(pg, &e))
}

/// A MariaDB or MySQL session, encrypted as `ssl-mode` says (libpq's modes
/// in the mysql client's words): `preferred` tries TLS without verifying
/// anything and goes on without it when the server has none, `required`
/// verifies nothing (the chain, with `ssl-ca`), `verify_ca` the chain,
/// `verify_identity` the chain and the host name.
#[cfg(feature = "mysql")]
fn connect_mysql(my: &crate::url::MysqlUrl) -> Result<::mysql::Conn, ConnectError> {
    use ::mysql::{Conn, OptsBuilder, SslOpts};
    let options = OptsBuilder::new()
        .ip_or_hostname(Some(&my.host))
        .tcp_port(my.port)
        .user(Some(&my.user))
        .pass(my.password())
        .db_name(Some(&my.database).filter(|d| !d.is_empty()))
        // Where the URL points, never a socket the server names.
        .prefer_socket(false)
        .tcp_connect_timeout(Some(std::time::Duration::from_secs(15)));
    let mode = if my.ssl_mode == SslMode::Require && my.ssl_ca.is_some() { SslMode::VerifyCa } else { my.ssl_mode };
    let tls = match mode {
        SslMode::Disable => None,
        SslMode::Prefer | SslMode::Require => {
            Some(SslOpts::default().with_danger_accept_invalid_certs(true).with_danger_skip_domain_validation(true))
        }
        SslMode::VerifyCa => Some(SslOpts::default().with_danger_skip_domain_validation(true)),
        SslMode::VerifyFull => Some(SslOpts::default()),
    }
    .map(|tls| tls.with_root_cert_path(my.ssl_ca.clone().map(std::borrow::Cow::Owned)));
    let with_tls = options.clone().ssl_opts(tls);
    match Conn::new(with_tls) {
        Err(::mysql::Error::DriverError(::mysql::DriverError::TlsNotSupported)) if mode == SslMode::Prefer => {
            Conn::new(options)
        }
        result => result,
    }
    .map_err(|e| mysql_connect_failure(my, &e))
}

/// A failed connection attempt to MariaDB or MySQL, with the likely cause.
#[cfg(feature = "mysql")]
fn mysql_connect_failure(my: &crate::url::MysqlUrl, e: &::mysql::Error) -> ConnectError {
    let mut detail = match e {
        ::mysql::Error::MySqlError(e) => e.message.clone(),
        other => other.to_string(),
    };
    let lower = detail.to_lowercase();
    // OpenSSL's `error:0A000086:SSL routines:...:certificate verify failed:FILE:LINE: (why)`.
    if let Some(why) = lower.contains("certificate verify failed").then(|| detail.rsplit_once(": (")).flatten() {
        detail = format!("the server's certificate was not accepted ({}", why.1.trim_end_matches([' ', '}']));
    }
    let help = if lower.contains("refused") {
        Some(format!("is MariaDB or MySQL running and listening on {}:{}?", my.host, my.port))
    } else if lower.contains("access denied") && my.ssl_mode == crate::url::SslMode::Disable {
        Some(
            "check the user name and password in the URL; a server with require_secure_transport refuses \
             unencrypted sessions the same way: drop `ssl-mode=disabled`"
                .into(),
        )
    } else if lower.contains("access denied") {
        Some("check the user name and password in the URL".into())
    } else if lower.contains("certificate verify failed") {
        Some(
            "the certificate is not signed by the `ssl-ca` authority (or a system one): name the authority \
             that signed it in `ssl-ca`, or use `ssl-mode=required` to encrypt without verifying"
                .into(),
        )
    } else if lower.contains("unknown database") {
        Some(format!("create the database first: CREATE DATABASE `{}`", my.database.replace('`', "``")))
    } else if lower.contains("ssl") || lower.contains("tls") || lower.contains("certificate") {
        Some(
            "check `ssl-mode` (disabled, preferred, required, verify_ca, verify_identity) and `ssl-ca` in the URL"
                .into(),
        )
    } else if lower.contains("timed out") || lower.contains("lookup") || lower.contains("resolve") {
        Some(format!("check the host name `{}` and that this machine can reach it", my.host))
    } else {
        None
    };
    ConnectError { message: format!("could not connect to MariaDB/MySQL at {}: {detail}", my.describe()), help }
}

/// How a session is encrypted, from `sslmode` and `sslrootcert`.
#[cfg(feature = "postgres")]
enum Tls {
    /// `sslmode=disable`.
    Off,
    /// native-tls with the platform's trust store (plus `sslrootcert`):
    /// `verify-ca`, `verify-full`, `require` with a root certificate, and
    /// every mode on Windows and Apple platforms.
    Verified(postgres_native_tls::MakeTlsConnector),
    /// `prefer` and `require` without a root certificate, where OpenSSL is
    /// the platform's TLS: nothing is verified, so no trust store is loaded.
    #[cfg(all(feature = "postgres", not(any(target_os = "windows", target_vendor = "apple"))))]
    Unverified(unverified::MakeTlsConnector),
}

/// The driver's configuration for `pg` and its TLS connector.
#[cfg(feature = "postgres")]
fn postgres_config(pg: &crate::url::PostgresUrl) -> Result<(tokio_postgres::Config, Tls), ConnectError> {
    use tokio_postgres::config::SslMode as PgSslMode;
    let fail = |what: String, help: Option<String>| ConnectError {
        message: format!("could not connect to PostgreSQL at {}: {what}", pg.describe()),
        help,
    };
    let mut config = pg.config();
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(15));
    }
    if config.get_application_name().is_none() {
        config.application_name("cargo-migrate");
    }
    if pg.ssl_mode == SslMode::Disable {
        config.ssl_mode(PgSslMode::Disable);
        return Ok((config, Tls::Off));
    }
    config.ssl_mode(if pg.ssl_mode == SslMode::Prefer { PgSslMode::Prefer } else { PgSslMode::Require });
    // As libpq: `require` with a root certificate verifies the chain, like `verify-ca`.
    let mode =
        if pg.ssl_mode == SslMode::Require && pg.ssl_root_cert.is_some() { SslMode::VerifyCa } else { pg.ssl_mode };
    // native-tls loads the system's trust store (on Linux OpenSSL parses
    // /etc/ssl/certs/ca-certificates.crt twice: 40 ms, more than the rest of
    // an up-to-date `upgrade`) even where nothing is verified.
    #[cfg(all(feature = "postgres", not(any(target_os = "windows", target_vendor = "apple"))))]
    if matches!(mode, SslMode::Prefer | SslMode::Require) {
        let tls = unverified::MakeTlsConnector::new().map_err(|e| fail(format!("TLS setup failed: {e}"), None))?;
        return Ok((config, Tls::Unverified(tls)));
    }
    let mut builder = native_tls::TlsConnector::builder();
    match mode {
        SslMode::Prefer | SslMode::Require => {
            builder.danger_accept_invalid_certs(true).danger_accept_invalid_hostnames(true);
        }
        SslMode::VerifyCa => {
            builder.danger_accept_invalid_hostnames(true);
        }
        SslMode::VerifyFull | SslMode::Disable => {}
    }
    if let Some(path) = &pg.ssl_root_cert {
        let pem = std::fs::read(path).map_err(|e| {
            fail(
                format!("could not read sslrootcert {}: {e}", path.display()),
                Some("point sslrootcert at a PEM file".into()),
            )
        })?;
        let cert = native_tls::Certificate::from_pem(&pem)
            .map_err(|e| fail(format!("sslrootcert {} is not a PEM certificate: {e}", path.display()), None))?;
        builder.add_root_certificate(cert);
    }
    let connector = builder.build().map_err(|e| fail(format!("TLS setup failed: {e}"), None))?;
    Ok((config, Tls::Verified(postgres_native_tls::MakeTlsConnector::new(connector))))
}

/// TLS that verifies nothing (`sslmode=prefer` and `require`), straight on
/// OpenSSL, where native-tls would be OpenSSL too: a context without a
/// trust store, as libpq makes for these modes. SNI, the cipher list and
/// the options are those of native-tls (openssl's `SslConnector`), the
/// stream is buffered as postgres-native-tls buffers it, a failed handshake
/// reads as native-tls words it, and channel binding
/// (`tls-server-end-point`) is computed as native-tls computes it.
#[cfg(all(feature = "postgres", not(any(target_os = "windows", target_vendor = "apple"))))]
mod unverified {
    use std::future::Future;
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use openssl::error::ErrorStack;
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::ssl::{Ssl, SslContext, SslMethod, SslMode, SslOptions, SslRef, SslVerifyMode};
    use openssl::x509::X509VerifyResult;
    use tokio::io::{AsyncRead, AsyncWrite, BufReader, ReadBuf};
    use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

    /// Makes a connector per connection attempt from one context.
    #[derive(Clone)]
    pub(super) struct MakeTlsConnector(SslContext);

    impl MakeTlsConnector {
        pub(super) fn new() -> Result<MakeTlsConnector, ErrorStack> {
            let mut context = SslContext::builder(SslMethod::tls_client())?;
            let options = SslOptions::ALL
                | SslOptions::NO_COMPRESSION
                | SslOptions::NO_SSLV2
                | SslOptions::NO_SSLV3
                | SslOptions::SINGLE_DH_USE
                | SslOptions::SINGLE_ECDH_USE;
            context.set_options(options & !SslOptions::DONT_INSERT_EMPTY_FRAGMENTS);
            context.set_mode(
                SslMode::AUTO_RETRY
                    | SslMode::ACCEPT_MOVING_WRITE_BUFFER
                    | SslMode::ENABLE_PARTIAL_WRITE
                    | SslMode::RELEASE_BUFFERS,
            );
            context.set_cipher_list("DEFAULT:!aNULL:!eNULL:!MD5:!3DES:!DES:!RC4:!IDEA:!SEED:!aDSS:!SRP:!PSK")?;
            context.set_verify(SslVerifyMode::NONE);
            Ok(MakeTlsConnector(context.build()))
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> MakeTlsConnect<S> for MakeTlsConnector {
        type Stream = TlsStream<S>;
        type TlsConnect = TlsConnector;
        type Error = ErrorStack;

        fn make_tls_connect(&mut self, domain: &str) -> Result<TlsConnector, ErrorStack> {
            let mut ssl = Ssl::new(&self.0)?;
            // SNI names a host, never an address (RFC 6066); hosted servers
            // such as Neon route by it.
            if domain.parse::<std::net::IpAddr>().is_err() {
                ssl.set_hostname(domain)?;
            }
            Ok(TlsConnector(ssl))
        }
    }

    /// One connection's TLS session, before its handshake.
    pub(super) struct TlsConnector(Ssl);

    impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> TlsConnect<S> for TlsConnector {
        type Stream = TlsStream<S>;
        type Error = Box<dyn std::error::Error + Send + Sync>;
        type Future = Pin<Box<dyn Future<Output = Result<TlsStream<S>, Self::Error>> + Send>>;

        fn connect(self, stream: S) -> Self::Future {
            Box::pin(async move {
                let mut stream = tokio_openssl::SslStream::new(self.0, BufReader::with_capacity(8192, stream))?;
                match Pin::new(&mut stream).connect().await {
                    Ok(()) => Ok(TlsStream(stream)),
                    Err(error) => {
                        let verify = stream.ssl().verify_result();
                        Err(Box::new(HandshakeError { error, verify }) as Self::Error)
                    }
                }
            })
        }
    }

    /// A failed handshake, worded as native-tls words it.
    #[derive(Debug)]
    struct HandshakeError {
        error: openssl::ssl::Error,
        verify: X509VerifyResult,
    }

    impl std::fmt::Display for HandshakeError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self.verify {
                X509VerifyResult::OK => write!(f, "{}", self.error),
                verify => write!(f, "{} ({verify})", self.error),
            }
        }
    }

    impl std::error::Error for HandshakeError {}

    /// An encrypted session.
    pub(super) struct TlsStream<S>(tokio_openssl::SslStream<BufReader<S>>);

    impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
        fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_read(cx, buf)
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
        fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(cx, buf)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_shutdown(cx)
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for TlsStream<S> {
        fn channel_binding(&self) -> ChannelBinding {
            match server_end_point(self.0.ssl()) {
                Some(hash) => ChannelBinding::tls_server_end_point(hash),
                None => ChannelBinding::none(),
            }
        }
    }

    /// RFC 5929's `tls-server-end-point`: the server certificate hashed with
    /// its signature's digest, SHA-256 in place of MD5 and SHA-1.
    fn server_end_point(ssl: &SslRef) -> Option<Vec<u8>> {
        let cert = ssl.peer_certificate()?;
        let digest = cert.signature_algorithm().object().nid().signature_algorithms()?.digest;
        let digest = match digest {
            Nid::MD5 | Nid::SHA1 => MessageDigest::sha256(),
            nid => MessageDigest::from_nid(nid)?,
        };
        cert.digest(digest).ok().map(|hash| hash.to_vec())
    }
}

/// A failed connection attempt, with the likely cause.
#[cfg(feature = "postgres")]
fn connect_failure(pg: &crate::url::PostgresUrl, e: &tokio_postgres::Error) -> ConnectError {
    let text = e.to_string();
    let detail = e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_else(|| {
        let source = std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_default();
        if source.is_empty() { text.clone() } else { format!("{text}: {source}") }
    });
    let lower = detail.to_lowercase();
    let help = if lower.contains("refused") {
        Some(format!(
            "is PostgreSQL running and listening on {}:{}? On this machine: `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`",
            pg.host, pg.port
        ))
    } else if lower.contains("password") || lower.contains("authentication") || lower.starts_with("role ") {
        Some("check the user name and password in the URL".into())
    } else if lower.contains("does not exist") {
        Some(format!("create the database first: `createdb -h {} -p {} {}`", pg.host, pg.port, pg.database))
    } else if lower.contains("ssl") || lower.contains("tls") || lower.contains("certificate") {
        Some("check `sslmode` (disable, prefer, require, verify-ca, verify-full) and `sslrootcert` in the URL".into())
    } else if lower.contains("timed out") || lower.contains("lookup") || lower.contains("resolve") {
        Some(format!("check the host name `{}` and that this machine can reach it", pg.host))
    } else {
        None
    };
    ConnectError { message: format!("could not connect to PostgreSQL at {}: {detail}", pg.describe()), help }
}

/// Opens a tokio-postgres connection from a PostgreSQL URL, read as
/// [`connect`] reads it (libpq's `sslmode` and `sslrootcert`, with the
/// same TLS), and spawns its connection task on the current tokio runtime.
/// For the `*_async` calls of [`Migrator`](crate::Migrator).
///
/// ```no_run
/// # async fn demo(history: migrate_history::History) -> Result<(), Box<dyn std::error::Error>> {
/// let url = migrate_runtime::DatabaseUrl::parse("postgres://app@db.example.com/app?sslmode=require")?;
/// let mut client = migrate_runtime::connect_async(&url).await?;
/// let report = migrate_runtime::Migrator::new(history).run_async(&mut client).await?;
/// # Ok(()) }
/// ```
#[cfg(feature = "tokio-postgres")]
pub async fn connect_async(url: &DatabaseUrl) -> Result<tokio_postgres::Client, ConnectError> {
    let DatabaseUrl::Postgres(pg) = url else {
        return Err(ConnectError {
            message: format!("{} is not a PostgreSQL database: the async path speaks tokio-postgres", url.redacted()),
            help: Some("use `connect` for SQLite".into()),
        });
    };
    let (config, tls) = postgres_config(pg)?;
    let client = match tls {
        Tls::Off => {
            let (client, connection) =
                config.connect(tokio_postgres::NoTls).await.map_err(|e| connect_failure(pg, &e))?;
            tokio::spawn(connection);
            client
        }
        Tls::Verified(tls) => {
            let (client, connection) = config.connect(tls).await.map_err(|e| connect_failure(pg, &e))?;
            tokio::spawn(connection);
            client
        }
        #[cfg(all(feature = "postgres", not(any(target_os = "windows", target_vendor = "apple"))))]
        Tls::Unverified(tls) => {
            let (client, connection) = config.connect(tls).await.map_err(|e| connect_failure(pg, &e))?;
            tokio::spawn(connection);
            client
        }
    };
    Ok(client)
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;

    fn sqlite(path: &std::path::Path) -> DatabaseUrl {
        DatabaseUrl::Sqlite { path: Some(path.to_owned()) }
    }

    #[test]
    fn a_parent_that_is_a_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("somefile.txt"), "").unwrap();
        let url = sqlite(&dir.path().join("somefile.txt/db.sqlite3"));
        for error in [connect(&url).unwrap_err(), connect_existing(&url).unwrap_err()] {
            assert_eq!(
                error.message.replace(&dir.path().display().to_string(), "DIR"),
                "could not open SQLite database sqlite:DIR/somefile.txt/db.sqlite3: DIR/somefile.txt is a file, not a directory"
            );
        }
    }

    #[test]
    fn a_directory_is_not_a_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let error = connect(&sqlite(dir.path())).unwrap_err();
        assert!(error.message.ends_with("is a directory, not a database file"), "{}", error.message);
    }

    #[test]
    fn connect_existing_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/dir/app.db");
        assert!(connect_existing(&sqlite(&path)).unwrap().is_none());
        assert!(!dir.path().join("missing").exists());
        connect(&sqlite(&path)).unwrap();
        let mut existing = connect_existing(&sqlite(&path)).unwrap().expect("exists now");
        let error = existing.database().execute_batch("CREATE TABLE t (x INT)").unwrap_err();
        assert!(error.message.contains("readonly"), "{}", error.message);
    }
}
