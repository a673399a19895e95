//! Where a database URL comes from: an explicit value, an environment
//! variable, a `.env` file, or a default, in that order, as
//! `cargo migrate` looks for it and an application or release script can too.
//!
//! ```
//! use migrate_runtime::DatabaseUrl;
//! use migrate_runtime::source::{UrlSource, UrlSources};
//!
//! let sources = UrlSources {
//!     argument: None,
//!     argument_name: "--database-url",
//!     variable: "MY_APP_DATABASE_URL_THAT_IS_NOT_SET",
//!     dotenv: None,
//!     default: DatabaseUrl::parse("sqlite:app.db")?,
//! };
//! let found = sources.resolve()?;
//! assert!(matches!(found.source, UrlSource::Default { .. }));
//! assert_eq!(found.url.redacted(), "sqlite:app.db");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use crate::url::{DatabaseUrl, UrlError, sqlalchemy_driver};

/// Where to look for a database URL, in order: `argument`, the environment
/// variable `variable`, `variable` in the `dotenv` file, else `default`.
#[derive(Debug, Clone)]
pub struct UrlSources<'a> {
    /// An explicit URL, such as a command-line argument's.
    pub argument: Option<&'a str>,
    /// How the explicit URL is given, for messages (`--database-url`).
    pub argument_name: &'a str,
    /// The environment variable holding the URL, such as `DATABASE_URL`.
    pub variable: &'a str,
    /// A `.env` file to read `variable` from, when it exists.
    pub dotenv: Option<&'a Path>,
    /// The URL when none is given.
    pub default: DatabaseUrl,
}

/// Where a URL came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSource {
    /// Given explicitly, by the named argument.
    Argument(String),
    /// The environment variable.
    Environment(String),
    /// The variable in a `.env` file.
    DotEnv {
        /// The variable.
        variable: String,
        /// The file.
        path: PathBuf,
    },
    /// None was given.
    Default {
        /// The argument that would have given one, if any.
        argument: String,
        /// The variable that was not set.
        variable: String,
    },
}

impl UrlSource {
    /// Whether the user chose the URL (anything but the default).
    pub fn is_explicit(&self) -> bool {
        !matches!(self, UrlSource::Default { .. })
    }
}

impl fmt::Display for UrlSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlSource::Argument(name) => f.write_str(name),
            UrlSource::Environment(variable) => write!(f, "the environment variable {variable}"),
            UrlSource::DotEnv { variable, path } => write!(f, "{variable} in {}", path.display()),
            UrlSource::Default { argument, variable } => {
                write!(f, "the default: no {argument}, and no {variable} in the environment or .env")
            }
        }
    }
}

/// A URL found by [`UrlSources::resolve`].
#[derive(Debug, Clone)]
pub struct ResolvedUrl {
    /// The URL.
    pub url: DatabaseUrl,
    /// Where it came from.
    pub source: UrlSource,
    /// For the default: other `*_DATABASE_URL` variables set in the
    /// environment or the `.env` file, which the user may have meant.
    pub others: Vec<UrlSource>,
    /// The SQLAlchemy driver dropped from the URL's scheme (`psycopg2`).
    pub dropped_driver: Option<String>,
}

/// Why no URL could be taken from the sources. Never holds a password.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// A URL that does not parse, with where it came from.
    #[error("{error} (from {from})")]
    Url {
        /// What is wrong with it.
        error: Box<UrlError>,
        /// Where it came from.
        from: UrlSource,
    },
    /// The `.env` file could not be read.
    #[error("could not read {}: {message}", path.display())]
    DotEnvUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// An entry of the `.env` file is not `KEY=VALUE` (which entry, not
    /// what it holds: the line may hold a secret).
    #[error("{}: entry {entry} is not KEY=VALUE", path.display())]
    DotEnvEntry {
        /// The file.
        path: PathBuf,
        /// The entry's number, from 1.
        entry: usize,
    },
}

impl SourceError {
    /// How to fix it.
    pub fn help(&self) -> String {
        match self {
            SourceError::Url { error, .. } => error.help().unwrap_or_else(|| {
                "URLs look like postgres://user:password@host:5432/db?sslmode=require or sqlite:path/to/file.db".into()
            }),
            SourceError::DotEnvUnreadable { .. } => "lines of .env look like KEY=value".into(),
            SourceError::DotEnvEntry { .. } => "quote values with spaces or special characters: KEY=\"value\"".into(),
        }
    }
}

impl UrlSources<'_> {
    /// The first URL the sources hold, else the default.
    pub fn resolve(&self) -> Result<ResolvedUrl, SourceError> {
        let variable = self.variable;
        let parse = |text: &str, source: UrlSource| -> Result<ResolvedUrl, SourceError> {
            let url = DatabaseUrl::parse(text.trim())
                .map_err(|error| SourceError::Url { error: Box::new(error), from: source.clone() })?;
            let dropped_driver = sqlalchemy_driver(text.trim()).map(str::to_owned);
            Ok(ResolvedUrl { url, source, others: Vec::new(), dropped_driver })
        };
        let other =
            |key: &str, value: &str| key != variable && key.ends_with("DATABASE_URL") && !value.trim().is_empty();
        let mut others: Vec<UrlSource> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, v)| other(k, v))
            .map(|(k, _)| UrlSource::Environment(k))
            .collect();
        others.sort_by_key(ToString::to_string);
        if let Some(text) = self.argument {
            return parse(text, UrlSource::Argument(self.argument_name.to_owned()));
        }
        if let Some(text) = std::env::var(variable).ok().filter(|v| !v.trim().is_empty()) {
            return parse(&text, UrlSource::Environment(variable.to_owned()));
        }
        if let Some(path) = self.dotenv.filter(|p| p.is_file()) {
            let entries = dotenvy::from_path_iter(path)
                .map_err(|e| SourceError::DotEnvUnreadable { path: path.to_owned(), message: e.to_string() })?;
            for (index, entry) in entries.enumerate() {
                // dotenvy's error quotes the line, which may hold a secret: say where, not what.
                let (key, value) =
                    entry.map_err(|_| SourceError::DotEnvEntry { path: path.to_owned(), entry: index + 1 })?;
                let dotenv = UrlSource::DotEnv { variable: key.clone(), path: path.to_owned() };
                if key == variable && !value.trim().is_empty() {
                    return parse(&value, dotenv);
                }
                if other(&key, &value) {
                    others.push(dotenv);
                }
            }
        }
        Ok(ResolvedUrl {
            url: self.default.clone(),
            source: UrlSource::Default { argument: self.argument_name.to_owned(), variable: variable.to_owned() },
            others,
            dropped_driver: None,
        })
    }
}
