//! Opening a connection from a [`DatabaseUrl`].

use crate::url::{DatabaseUrl, SslMode};
use crate::{Database, Dialect};

/// A connection opened by [`connect`].
pub enum Connection {
    #[cfg(feature = "sqlite")]
    Sqlite(rusqlite::Connection),
    #[cfg(feature = "postgres")]
    Postgres(Box<postgres::Client>),
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connection({})", self.dialect().name())
    }
}

impl Connection {
    /// The connection as the engine uses it.
    pub fn database(&mut self) -> &mut dyn Database {
        match self {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(c) => c,
            #[cfg(feature = "postgres")]
            Connection::Postgres(c) => c.as_mut(),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Connection::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The server's version, for `status`.
    pub fn server_version(&mut self) -> String {
        let sql = match self.dialect() {
            Dialect::Sqlite => "SELECT 'SQLite ' || sqlite_version()",
            Dialect::Postgres => "SELECT version()",
        };
        self.database()
            .query_text(sql)
            .ok()
            .and_then(|rows| rows.into_iter().next())
            .and_then(|row| row.into_iter().next().flatten())
            .unwrap_or_default()
    }
}

/// Why a connection could not be opened. Never contains a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    pub message: String,
    pub help: Option<String>,
}

/// Opens a connection. SQLite files are created (with their directory) when missing.
pub fn connect(url: &DatabaseUrl) -> Result<Connection, ConnectError> {
    match url {
        #[cfg(feature = "sqlite")]
        DatabaseUrl::Sqlite { path } => {
            let opened = match path {
                None => rusqlite::Connection::open_in_memory(),
                Some(path) => {
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir).map_err(|e| ConnectError {
                            message: format!(
                                "could not create the directory {} for the SQLite database: {e}",
                                dir.display()
                            ),
                            help: None,
                        })?;
                    }
                    rusqlite::Connection::open(path)
                }
            };
            let connection = opened.map_err(|e| ConnectError {
                message: format!("could not open SQLite database {}: {e}", url.redacted()),
                help: Some("check that the path is writable".into()),
            })?;
            Ok(Connection::Sqlite(connection))
        }
        #[cfg(feature = "postgres")]
        DatabaseUrl::Postgres(pg) => connect_postgres(pg).map(|c| Connection::Postgres(Box::new(c))),
        #[allow(unreachable_patterns)]
        _ => Err(ConnectError {
            message: format!("this build cannot open {}", url.redacted()),
            help: Some("enable the `sqlite` and `postgres` features of migrate-runtime".into()),
        }),
    }
}

#[cfg(feature = "postgres")]
fn connect_postgres(pg: &crate::url::PostgresUrl) -> Result<postgres::Client, ConnectError> {
    use postgres::config::SslMode as PgSslMode;
    let fail = |what: String, help: Option<String>| ConnectError {
        message: format!("could not connect to PostgreSQL at {}: {what}", pg.describe()),
        help,
    };
    let mut config: postgres::Config = pg.url.parse().map_err(|e: postgres::Error| fail(e.to_string(), None))?;
    config.connect_timeout(std::time::Duration::from_secs(15));
    if config.get_application_name().is_none() {
        config.application_name("cargo-migrate");
    }
    let result = if pg.ssl_mode == SslMode::Disable {
        config.ssl_mode(PgSslMode::Disable);
        config.connect(postgres::NoTls)
    } else {
        config.ssl_mode(if pg.ssl_mode == SslMode::Prefer { PgSslMode::Prefer } else { PgSslMode::Require });
        let mut builder = native_tls::TlsConnector::builder();
        // As libpq: `require` with a root certificate verifies the chain, like `verify-ca`.
        let mode =
            if pg.ssl_mode == SslMode::Require && pg.ssl_root_cert.is_some() { SslMode::VerifyCa } else { pg.ssl_mode };
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
        config.connect(postgres_native_tls::MakeTlsConnector::new(connector))
    };
    result.map_err(|e| {
        let text = e.to_string();
        let detail = e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_else(|| {
            let source = std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default();
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
        fail(detail, help)
    })
}
