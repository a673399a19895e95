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
        if !text.contains('\r') {
            // The common case, and std's memchr-backed search is fast even in
            // the debug builds that build scripts run as.
            return Checksum(sha256(text.as_bytes()));
        }
        let mut hasher = Sha256::new();
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
        let hex = text.strip_prefix(Self::PREFIX)?.as_bytes();
        if hex.len() != 64 {
            return None;
        }
        // Indexing and a table, no iterator adapters: this runs for every
        // pin of a 10,000-line lock file in a debug-built build script.
        let mut bytes = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            let (high, low) = (HEX_VALUES[usize::from(hex[2 * i])], HEX_VALUES[usize::from(hex[2 * i + 1])]);
            if high > 15 || low > 15 {
                return None;
            }
            bytes[i] = high << 4 | low;
            i += 1;
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

/// The value of each lowercase hex digit; 16 for every other byte.
const HEX_VALUES: [u8; 256] = {
    let mut values = [16u8; 256];
    let mut digit = 0;
    while digit < 16 {
        values[b"0123456789abcdef"[digit] as usize] = digit as u8;
        digit += 1;
    }
    values
};

/// SHA-256 of `bytes`, the blocks handed straight to sha2's compression
/// function with the padding of FIPS 180-4 done here: `Sha256`'s buffering
/// and finalization cost as much as the compression itself in the debug
/// builds that build scripts run as (10,000 revisions: a fifth of the build
/// script).
fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::digest::generic_array::GenericArray;
    const INITIAL: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut state = INITIAL;
    let mut blocks = bytes.chunks_exact(64);
    for block in &mut blocks {
        sha2::compress256(&mut state, std::slice::from_ref(GenericArray::from_slice(block)));
    }
    // The rest, a 1 bit, zeros, and the length in bits: one block or two.
    let rest = blocks.remainder();
    let mut last = [0u8; 128];
    last[..rest.len()].copy_from_slice(rest);
    last[rest.len()] = 0x80;
    let last = if rest.len() < 56 { &mut last[..64] } else { &mut last[..] };
    let bits = (bytes.len() as u64).wrapping_mul(8);
    let end = last.len();
    last[end - 8..].copy_from_slice(&bits.to_be_bytes());
    for block in last.chunks_exact(64) {
        sha2::compress256(&mut state, std::slice::from_ref(GenericArray::from_slice(block)));
    }
    let mut digest = [0u8; 32];
    for (bytes, word) in digest.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    digest
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
        let mut i = 0;
        while i < 32 {
            hex[2 * i] = HEX[usize::from(self.0[i] >> 4)];
            hex[2 * i + 1] = HEX[usize::from(self.0[i] & 0xf)];
            i += 1;
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

    /// The hand-padded SHA-256 is sha2's `Sha256`, across every length
    /// where the padding takes one block or two, and longer texts.
    #[test]
    fn sha256_is_sha2s_for_every_padding() {
        use sha2::Digest;
        let text: Vec<u8> = (0..1000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        for len in (0..=200).chain([447, 448, 511, 512, 1000]) {
            let expected: [u8; 32] = sha2::Sha256::digest(&text[..len]).into();
            assert_eq!(super::sha256(&text[..len]), expected, "{len} bytes");
        }
    }
}
