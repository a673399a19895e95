//! The one definition of a revision's checksum.

use std::fmt;

use sha2::{Digest, Sha256};

/// SHA-256 of a revision file with line endings normalised to `\n` and a
/// leading UTF-8 byte-order mark dropped, so that a Windows checkout (`\r\n`),
/// an editor that adds a BOM, and a Unix checkout agree. A file with neither
/// hashes as its bytes.
///
/// ```
/// use migrate_history::Checksum;
///
/// let unix = Checksum::of("-- revision: a\nSELECT 1;\n");
/// let windows = Checksum::of("-- revision: a\r\nSELECT 1;\r\n");
/// assert_eq!(unix, windows);
///
/// let text = unix.to_string(); // as migrate.lock holds it
/// assert!(text.starts_with(Checksum::PREFIX) && text.len() == Checksum::PREFIX.len() + 64);
/// assert_eq!(Checksum::parse(&text), Some(unix));
/// assert_eq!(unix.short(), text[Checksum::PREFIX.len()..][..12]);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Checksum([u8; 32]);

impl Checksum {
    /// Prefix of the textual form, naming the algorithm.
    pub const PREFIX: &'static str = "sha256:";

    /// Checksum of a revision file's full text.
    pub fn of(text: &str) -> Checksum {
        let text = crate::strip_bom(text);
        let mut hasher = Sha256::new();
        if !text.contains('\r') {
            // The common case, and std's memchr-backed search is fast even in
            // the debug builds that build scripts run as.
            hasher.update(text.as_bytes());
            return Checksum(hasher.finalize().into());
        }
        let mut rest = text.as_bytes();
        // Hash every run between `\r\n` pairs, dropping the `\r`.
        while let Some(pos) = find_crlf(rest) {
            hasher.update(&rest[..pos]);
            rest = &rest[pos + 1..];
        }
        hasher.update(rest);
        Checksum(hasher.finalize().into())
    }

    /// Parses the textual form `sha256:<64 hex digits>`.
    pub fn parse(text: &str) -> Option<Checksum> {
        let hex = text.strip_prefix(Self::PREFIX)?;
        if hex.len() != 64 {
            return None;
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
        }
        Some(Checksum(bytes))
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first 12 hex digits, for compact human output.
    pub fn short(&self) -> String {
        self.to_string()[Self::PREFIX.len()..Self::PREFIX.len() + 12].to_owned()
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One `write_str`, not 32 formatted bytes: this runs 10,000 times in a
        // debug-built build script.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 64];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(self.0) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0xf)];
        }
        f.write_str(Self::PREFIX)?;
        f.write_str(std::str::from_utf8(&hex).expect("hex digits are ASCII"))
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_lf_agree() {
        let unix = "-- revision: a\n-- migrate:up\nSELECT 1;\n";
        let windows = "-- revision: a\r\n-- migrate:up\r\nSELECT 1;\r\n";
        assert_eq!(Checksum::of(unix), Checksum::of(windows));
        assert_ne!(Checksum::of(unix), Checksum::of("-- revision: b\n"));
    }

    #[test]
    fn leading_bom_is_folded_like_crlf() {
        let unix = "-- revision: a\nSELECT 1;\n";
        assert_eq!(Checksum::of(&format!("\u{feff}{unix}")), Checksum::of(unix));
        assert_eq!(Checksum::of("\u{feff}-- revision: a\r\nSELECT 1;\r\n"), Checksum::of(unix));
        // Only at the start: anywhere else it is content.
        assert_ne!(Checksum::of("a\u{feff}"), Checksum::of("a"));
    }

    #[test]
    fn checksums_of_files_without_bom_or_crlf_are_their_bytes() {
        assert_eq!(
            Checksum::of("SELECT 1;\n").to_string(),
            "sha256:b4e0497804e46e0a0b0b8c31975b062152d551bac49c3c2e80932567b4085dcd"
        );
    }

    #[test]
    fn lone_carriage_return_is_content() {
        assert_ne!(Checksum::of("a\rb"), Checksum::of("ab"));
    }

    #[test]
    fn known_digest_of_empty_text() {
        assert_eq!(
            Checksum::of("").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn text_form_round_trips() {
        let sum = Checksum::of("SELECT 1;");
        assert_eq!(Checksum::parse(&sum.to_string()), Some(sum));
        assert_eq!(Checksum::parse("sha256:zz"), None);
        assert_eq!(Checksum::parse("md5:00"), None);
        assert_eq!(Checksum::parse(&sum.to_string().to_uppercase().replace("SHA256", "sha256")), None);
        assert_eq!(sum.short().len(), 12);
    }
}
