//! CHANGELOG.md in Keep a Changelog form: the Unreleased section moves under
//! the new version with its date, and an empty Unreleased section stays.

const UNRELEASED: &str = "## [Unreleased]";

/// The changelog with the Unreleased section released as `version` on
/// `date`. A `[Unreleased]: BASE/compare/vOLD...HEAD` link reference, when
/// present, moves on to the new tag and the version gets its own
/// `BASE/compare/vOLD...vNEW` link.
pub fn release(text: &str, version: &str, tag: &str, date: &str) -> Result<String, String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let start = lines
        .iter()
        .position(|l| l.trim_end() == UNRELEASED)
        .ok_or("CHANGELOG.md has no `## [Unreleased]` section to release")?;
    let end = lines[start + 1..].iter().position(|l| l.starts_with("## ")).map_or(lines.len(), |i| start + 1 + i);
    let body = &lines[start + 1..end];
    // Link references belong to the file's end, not to the section's text.
    let body_end = body.iter().rposition(|l| !l.trim().is_empty() && !is_link_reference(l)).map_or(0, |i| i + 1);
    if body[..body_end].iter().all(|l| l.trim().is_empty()) {
        return Err("the Unreleased section of CHANGELOG.md is empty: say what the release changes first".into());
    }
    let mut out = String::with_capacity(text.len() + 64);
    lines[..start].iter().for_each(|l| out.push_str(l));
    out.push_str(&format!("{UNRELEASED}\n\n## [{version}] - {date}\n"));
    lines[start + 1..].iter().for_each(|l| out.push_str(l));
    Ok(move_links(&out, version, tag))
}

fn is_link_reference(line: &str) -> bool {
    line.starts_with('[') && line.contains("]: ")
}

/// `[Unreleased]: BASE/compare/OLD...HEAD` becomes `.../compare/TAG...HEAD`
/// followed by `[VERSION]: BASE/compare/OLD...TAG`; any other form is kept.
fn move_links(text: &str, version: &str, tag: &str) -> String {
    let mut out = String::with_capacity(text.len() + 128);
    for line in text.split_inclusive('\n') {
        let compare = line
            .strip_prefix("[Unreleased]: ")
            .map(str::trim_end)
            .and_then(|url| url.strip_suffix("...HEAD"))
            .and_then(|url| url.rsplit_once("/compare/"));
        match compare {
            Some((base, old)) => {
                out.push_str(&format!("[Unreleased]: {base}/compare/{tag}...HEAD\n"));
                out.push_str(&format!("[{version}]: {base}/compare/{old}...{tag}\n"));
            }
            None => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unreleased_section_moves_under_the_version_and_links_follow() {
        let text = "# Changelog\n\n## [Unreleased]\n\n### Added\n- tags\n\n## [0.1.0] - 2026-11-01\n\n### Added\n- all\n\n\
                    [Unreleased]: https://git.example/r/compare/v0.1.0...HEAD\n[0.1.0]: https://git.example/r/releases/tag/v0.1.0\n";
        assert_eq!(
            release(text, "0.2.0", "v0.2.0", "2026-12-01").unwrap(),
            "# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - 2026-12-01\n\n### Added\n- tags\n\n## [0.1.0] - 2026-11-01\n\n### Added\n- all\n\n\
             [Unreleased]: https://git.example/r/compare/v0.2.0...HEAD\n[0.2.0]: https://git.example/r/compare/v0.1.0...v0.2.0\n\
             [0.1.0]: https://git.example/r/releases/tag/v0.1.0\n"
        );
    }

    #[test]
    fn an_empty_or_missing_unreleased_section_is_refused() {
        assert_eq!(
            release("# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - 2026-11-01\n- all\n", "0.2.0", "v0.2.0", "d"),
            Err("the Unreleased section of CHANGELOG.md is empty: say what the release changes first".into())
        );
        assert_eq!(
            release(
                "# Changelog\n\n## [Unreleased]\n\n[Unreleased]: https://g/compare/v1.0...HEAD\n",
                "2.0.0",
                "v2.0.0",
                "d"
            ),
            Err("the Unreleased section of CHANGELOG.md is empty: say what the release changes first".into())
        );
        assert_eq!(
            release("# Changelog\n", "0.2.0", "v0.2.0", "d"),
            Err("CHANGELOG.md has no `## [Unreleased]` section to release".into())
        );
    }
}
