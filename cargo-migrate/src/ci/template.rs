//! Filling the workflow templates: `{{name}}` placeholders (never after a
//! `$`, which starts a GitHub expression `${{ ... }}` that is kept as it is).

use std::collections::BTreeMap;

/// The values of a template's placeholders.
#[derive(Debug, Default, Clone)]
pub struct Values {
    values: BTreeMap<&'static str, String>,
}

impl Values {
    /// Sets `name`; a later call replaces the value.
    pub fn set(&mut self, name: &'static str, value: impl Into<String>) -> &mut Values {
        self.values.insert(name, value.into());
        self
    }
}

/// `template` with every `{{name}}` replaced. A placeholder without a value
/// is a bug in the templates (the unit tests render every one), so it panics
/// rather than write a broken workflow.
pub fn render(template: &str, values: &Values) -> String {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let is_expression = rest[..start].ends_with('$');
        let end = rest[start..].find("}}").map(|e| start + e + 2).expect("a placeholder or expression is closed");
        out.push_str(&rest[..start]);
        if is_expression {
            out.push_str(&rest[start..end]);
        } else {
            let name = &rest[start + 2..end - 2];
            let value =
                values.values.get(name).unwrap_or_else(|| panic!("no value for the placeholder {{{{{name}}}}}"));
            out.push_str(value);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `text` with every line but the first indented by `spaces`, so a multi-line
/// value lines up under the placeholder it replaces.
pub fn indent_rest(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    let mut out = String::new();
    for (i, line) in text.trim_end_matches('\n').lines().enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
            }
        }
        out.push_str(line);
    }
    out
}

/// A YAML scalar in single quotes (`'` doubled), for values that YAML could
/// otherwise read as something else.
pub fn yaml_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A word for a shell command line: as it is when it holds nothing a shell
/// reads specially, otherwise in single quotes.
pub fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | '@' | '+' | '='));
    if plain { text.to_owned() } else { format!("'{}'", text.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_expressions_kept() {
        let mut values = Values::default();
        values.set("who", "world").set("list", "- a\n- b\n");
        assert_eq!(
            render("hello {{who}} ${{ inputs.x }}\n  {{list}}\n", &values),
            "hello world ${{ inputs.x }}\n  - a\n- b\n\n"
        );
        assert_eq!(indent_rest("- a\n- b\n\n- c\n", 2), "- a\n  - b\n\n  - c");
    }

    #[test]
    #[should_panic(expected = "no value for the placeholder {{missing}}")]
    fn a_placeholder_without_a_value_is_a_bug() {
        render("{{missing}}", &Values::default());
    }

    #[test]
    fn quoting() {
        assert_eq!(yaml_quoted("it's"), "'it''s'");
        assert_eq!(shell_word("backend/Cargo.toml"), "backend/Cargo.toml");
        assert_eq!(shell_word("my app"), "'my app'");
        assert_eq!(shell_word("a'b"), r"'a'\''b'");
        assert_eq!(shell_word("https://example.com/x.git"), "https://example.com/x.git");
    }
}
