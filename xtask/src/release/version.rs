//! The version bump: `[workspace.package] version`, the `version` of our
//! path dependencies in `[workspace.dependencies]`, and the workspace
//! members' entries in Cargo.lock, each edited with toml_edit so that
//! formatting and comments stay as they were.

use std::cmp::Ordering;
use std::fmt;

use toml_edit::{DocumentMut, Item, Value};

/// A release version: `MAJOR.MINOR.PATCH`, optionally with a `-pre` or
/// `+build` suffix (compared by the three numbers only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub text: String,
    numbers: (u64, u64, u64),
}

impl Version {
    /// Parses `0.3.0`, `1.0.0-rc.1`; a leading `v` is refused (the tag adds it).
    pub fn parse(text: &str) -> Result<Version, String> {
        let invalid = || format!("`{text}` is not a version: write MAJOR.MINOR.PATCH, such as 0.3.0");
        let core = text.split(['-', '+']).next().unwrap_or_default();
        let suffix_ok = text[core.len()..].bytes().all(|b| b.is_ascii_alphanumeric() || b"-+.".contains(&b));
        let parts: Vec<&str> = core.split('.').collect();
        let number = |s: &str| {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
                None
            } else {
                s.parse::<u64>().ok()
            }
        };
        match (parts.as_slice(), suffix_ok) {
            ([major, minor, patch], true) => Ok(Version {
                text: text.to_owned(),
                numbers: (
                    number(major).ok_or_else(invalid)?,
                    number(minor).ok_or_else(invalid)?,
                    number(patch).ok_or_else(invalid)?,
                ),
            }),
            _ => Err(invalid()),
        }
    }

    /// The git tag and history tag of the release: `v0.3.0`.
    pub fn tag(&self) -> String {
        format!("v{}", self.text)
    }

    /// Orders by `MAJOR.MINOR.PATCH`.
    pub fn compare(&self, other: &Version) -> Ordering {
        self.numbers.cmp(&other.numbers)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The workspace manifest with the new version, and the version it had.
pub fn bump_manifest(text: &str, version: &Version) -> Result<(String, Version), String> {
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("Cargo.toml does not parse: {e}"))?;
    let package_version = doc
        .get_mut("workspace")
        .and_then(|w| w.get_mut("package"))
        .and_then(|p| p.get_mut("version"))
        .ok_or("Cargo.toml has no `[workspace.package] version`")?;
    let old = package_version.as_str().ok_or("`[workspace.package] version` is not a string")?;
    let old = Version::parse(old).map_err(|e| format!("`[workspace.package] version`: {e}"))?;
    overwrite(package_version, &version.text);
    // Our crates, depended on by path and version (what `cargo publish` needs).
    if let Some(dependencies) = doc.get_mut("workspace").and_then(|w| w.get_mut("dependencies")) {
        let Some(dependencies) = dependencies.as_table_like_mut() else {
            return Err("`[workspace.dependencies]` is not a table".into());
        };
        for (_, dependency) in dependencies.iter_mut() {
            let Some(dependency) = dependency.as_table_like_mut() else { continue };
            if dependency.contains_key("path")
                && let Some(item) = dependency.get_mut("version")
            {
                overwrite(item, &version.text);
            }
        }
    }
    Ok((doc.to_string(), old))
}

/// Cargo.lock with the new version for each named package that has no
/// `source` (a workspace member), as cargo would write it after the bump.
pub fn bump_lock(text: &str, members: &[String], version: &Version) -> Result<String, String> {
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("Cargo.lock does not parse: {e}"))?;
    let Some(packages) = doc.get_mut("package").and_then(Item::as_array_of_tables_mut) else {
        return Err("Cargo.lock has no [[package]] entries".into());
    };
    for package in packages.iter_mut() {
        let ours = package.get("source").is_none()
            && package.get("name").and_then(Item::as_str).is_some_and(|name| members.iter().any(|m| m == name));
        if ours && let Some(item) = package.get_mut("version") {
            overwrite(item, &version.text);
        }
    }
    Ok(doc.to_string())
}

/// Replaces a string value, keeping the spaces and comments around it
/// (cargo-release's `overwrite_toml_value`).
fn overwrite(item: &mut Item, text: &str) {
    let mut new = Value::from(text);
    if let Some(old) = item.as_value() {
        *new.decor_mut() = old.decor().clone();
    }
    *item = Item::Value(new);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_compare_by_their_numbers() {
        let v = |t: &str| Version::parse(t).unwrap();
        assert_eq!(v("0.10.0").compare(&v("0.9.1")), Ordering::Greater);
        assert_eq!(v("1.0.0-rc.1").compare(&v("1.0.0")), Ordering::Equal);
        assert_eq!(v("0.3.0").tag(), "v0.3.0");
        for bad in ["v0.3.0", "0.3", "0.3.0.1", "01.2.3", "0.3.x", "", "0.3.0 "] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_bump_keeps_comments_and_changes_only_our_versions() {
        let manifest = "[workspace.package]\nversion = \"0.1.0\"   # the release\nedition = \"2024\"\n\n\
                        [workspace.dependencies]\n# ours\nmigrate-history = { path = \"migrate-history\", version = \"0.1.0\" }\n\
                        other = { version = \"0.1.0\" }\nplain = \"0.1.0\"\n";
        let (bumped, old) = bump_manifest(manifest, &Version::parse("0.2.0").unwrap()).unwrap();
        assert_eq!(old.text, "0.1.0");
        assert_eq!(bumped, manifest.replacen("0.1.0", "0.2.0", 2));
    }

    #[test]
    fn the_lock_bump_touches_workspace_members_only() {
        let lock = "version = 4\n\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"b\"\n\
                    version = \"0.1.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        let bumped = bump_lock(lock, &["a".into(), "b".into()], &Version::parse("0.2.0").unwrap()).unwrap();
        assert_eq!(bumped, lock.replacen("0.1.0", "0.2.0", 1));
    }
}
