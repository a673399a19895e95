//! GitHub Actions expressions (`${{ ... }}`), as the runner evaluates them:
//! literals, context lookups (`inputs.x`, `needs.deploy-backend.outputs.url`,
//! `secrets[...]`), `!`, comparisons with GitHub's loose equality (strings
//! compared without case), `&&`/`||` returning an operand, and the functions
//! the workflows use. Anything else is an error, so a workflow that needs
//! more fails the test instead of being evaluated wrongly.

use serde_json::{Map, Value};

/// How the job (for a step's `if`) or its needs (for a job's `if`) went,
/// for `success()`, `failure()`, `always()` and `cancelled()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failure,
}

/// The contexts (`github`, `inputs`, `env`, `secrets`, ...) and the status.
#[derive(Debug)]
pub struct Context<'a> {
    pub values: &'a Map<String, Value>,
    pub status: Status,
}

/// A text with `${{ ... }}` parts replaced by their values as strings.
pub fn interpolate(text: &str, cx: &Context<'_>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = closing(&rest[start + 3..]).ok_or_else(|| format!("unclosed expression in `{text}`"))?;
        let value = evaluate(&rest[start + 3..start + 3 + end], cx)?;
        out.push_str(&to_string(&value));
        rest = &rest[start + 3 + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A value that may be one whole expression (kept as its JSON value) or a text.
pub fn value_of(text: &str, cx: &Context<'_>) -> Result<Value, String> {
    let trimmed = text.trim();
    if let Some(inner) = trimmed.strip_prefix("${{").and_then(|t| t.strip_suffix("}}")) {
        if closing(inner).is_none() {
            return evaluate(inner, cx);
        }
    }
    interpolate(text, cx).map(Value::String)
}

/// An `if:` condition: with or without `${{ }}`, and `success() && (...)`
/// unless it calls a status function itself.
pub fn condition(text: &str, cx: &Context<'_>) -> Result<bool, String> {
    let trimmed = text.trim();
    let inner = trimmed.strip_prefix("${{").and_then(|t| t.strip_suffix("}}")).unwrap_or(trimmed);
    let expr = parse(inner)?;
    let value = eval(&expr, cx)?;
    let explicit = expr.calls_status();
    Ok(truthy(&value) && (explicit || cx.status == Status::Success))
}

/// Where `}}` closes an expression that starts at `text`'s beginning,
/// skipping string literals.
fn closing(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => in_string = !in_string,
            b'}' if !in_string && bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Evaluates one expression (without `${{ }}`).
pub fn evaluate(text: &str, cx: &Context<'_>) -> Result<Value, String> {
    eval(&parse(text)?, cx)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Str(String),
    Num(f64),
    Ident(String),
    Dot,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    Not,
    Op(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unclosed string in `{text}`")),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&c) => {
                            s.push(c);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Str(s));
            }
            '.' => {
                tokens.push(Token::Dot);
                i += 1;
            }
            '[' => {
                tokens.push(Token::LBracket);
                i += 1;
            }
            ']' => {
                tokens.push(Token::RBracket);
                i += 1;
            }
            '(' => {
                tokens.push(Token::LParen);
                i += 1;
            }
            ')' => {
                tokens.push(Token::RParen);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                tokens.push(Token::Op("!="));
                i += 2;
            }
            '!' => {
                tokens.push(Token::Not);
                i += 1;
            }
            '=' if chars.get(i + 1) == Some(&'=') => {
                tokens.push(Token::Op("=="));
                i += 2;
            }
            '<' | '>' => {
                let op = match (c, chars.get(i + 1) == Some(&'=')) {
                    ('<', true) => "<=",
                    ('<', false) => "<",
                    (_, true) => ">=",
                    _ => ">",
                };
                i += op.len();
                tokens.push(Token::Op(op));
            }
            '&' if chars.get(i + 1) == Some(&'&') => {
                tokens.push(Token::Op("&&"));
                i += 2;
            }
            '|' if chars.get(i + 1) == Some(&'|') => {
                tokens.push(Token::Op("||"));
                i += 2;
            }
            c if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                let start = i;
                i += 1;
                while chars.get(i).is_some_and(|c| c.is_ascii_digit() || *c == '.') {
                    i += 1;
                }
                let number: String = chars[start..i].iter().collect();
                tokens.push(Token::Num(number.parse().map_err(|_| format!("bad number `{number}`"))?));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while chars.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-') {
                    i += 1;
                }
                tokens.push(Token::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected `{other}` in `{text}`")),
        }
    }
    Ok(tokens)
}

#[derive(Debug, Clone)]
enum Expr {
    Literal(Value),
    Context(String),
    Property(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
}

impl Expr {
    fn calls_status(&self) -> bool {
        match self {
            Expr::Call(name, args) => {
                matches!(name.to_ascii_lowercase().as_str(), "success" | "failure" | "always" | "cancelled")
                    || args.iter().any(Expr::calls_status)
            }
            Expr::Property(e, _) | Expr::Not(e) => e.calls_status(),
            Expr::Index(a, b) | Expr::Binary(_, a, b) => a.calls_status() || b.calls_status(),
            Expr::Literal(_) | Expr::Context(_) => false,
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    text: String,
}

fn parse(text: &str) -> Result<Expr, String> {
    let mut parser = Parser { tokens: tokenize(text)?, at: 0, text: text.to_owned() };
    let expr = parser.binary(0)?;
    if parser.at != parser.tokens.len() {
        return Err(format!("unexpected {:?} in `{text}`", parser.tokens[parser.at]));
    }
    Ok(expr)
}

const LEVELS: [&[&str]; 4] = [&["||"], &["&&"], &["==", "!="], &["<", "<=", ">", ">="]];

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Result<Token, String> {
        let token = self.tokens.get(self.at).cloned().ok_or_else(|| format!("`{}` ends too early", self.text))?;
        self.at += 1;
        Ok(token)
    }

    fn expect(&mut self, token: &Token) -> Result<(), String> {
        let next = self.next()?;
        if &next == token { Ok(()) } else { Err(format!("expected {token:?}, found {next:?} in `{}`", self.text)) }
    }

    fn binary(&mut self, level: usize) -> Result<Expr, String> {
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        while let Some(Token::Op(op)) = self.peek() {
            let op = *op;
            if !LEVELS[level].contains(&op) {
                break;
            }
            self.at += 1;
            let right = self.binary(level + 1)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Token::Not) {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        let mut expr = self.primary()?;
        loop {
            match self.peek() {
                Some(Token::Dot) => {
                    self.at += 1;
                    match self.next()? {
                        Token::Ident(name) => expr = Expr::Property(Box::new(expr), name),
                        other => return Err(format!("expected a property name, found {other:?} in `{}`", self.text)),
                    }
                }
                Some(Token::LBracket) => {
                    self.at += 1;
                    let index = self.binary(0)?;
                    self.expect(&Token::RBracket)?;
                    expr = Expr::Index(Box::new(expr), Box::new(index));
                }
                _ => return Ok(expr),
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next()? {
            Token::Str(s) => Ok(Expr::Literal(Value::String(s))),
            Token::Num(n) => Ok(Expr::Literal(number(n))),
            Token::LParen => {
                let inner = self.binary(0)?;
                self.expect(&Token::RParen)?;
                Ok(inner)
            }
            Token::Ident(name) => match name.as_str() {
                "true" => Ok(Expr::Literal(Value::Bool(true))),
                "false" => Ok(Expr::Literal(Value::Bool(false))),
                "null" => Ok(Expr::Literal(Value::Null)),
                _ if self.peek() == Some(&Token::LParen) => {
                    self.at += 1;
                    let mut args = Vec::new();
                    if self.peek() != Some(&Token::RParen) {
                        loop {
                            args.push(self.binary(0)?);
                            if self.peek() == Some(&Token::Comma) {
                                self.at += 1;
                            } else {
                                break;
                            }
                        }
                    }
                    self.expect(&Token::RParen)?;
                    Ok(Expr::Call(name, args))
                }
                _ => Ok(Expr::Context(name)),
            },
            other => Err(format!("unexpected {other:?} in `{}`", self.text)),
        }
    }
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// A property of an object, found without regard to case as GitHub does.
fn property(value: &Value, name: &str) -> Value {
    match value {
        Value::Object(map) => map
            .get(name)
            .or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
            .cloned()
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn eval(expr: &Expr, cx: &Context<'_>) -> Result<Value, String> {
    Ok(match expr {
        Expr::Literal(value) => value.clone(),
        Expr::Context(name) => {
            let known = [
                "github", "env", "inputs", "secrets", "vars", "needs", "steps", "runner", "job", "jobs", "matrix",
                "strategy",
            ];
            if !known.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(format!("unknown context `{name}`"));
            }
            property(&Value::Object(cx.values.clone()), name)
        }
        Expr::Property(object, name) => property(&eval(object, cx)?, name),
        Expr::Index(object, index) => {
            let object = eval(object, cx)?;
            match (&object, eval(index, cx)?) {
                (Value::Object(_), Value::String(key)) => property(&object, &key),
                (Value::Array(items), Value::Number(n)) => {
                    n.as_u64().and_then(|i| items.get(i as usize)).cloned().unwrap_or(Value::Null)
                }
                _ => Value::Null,
            }
        }
        Expr::Not(inner) => Value::Bool(!truthy(&eval(inner, cx)?)),
        Expr::Binary("&&", left, right) => {
            let left = eval(left, cx)?;
            if truthy(&left) { eval(right, cx)? } else { left }
        }
        Expr::Binary("||", left, right) => {
            let left = eval(left, cx)?;
            if truthy(&left) { left } else { eval(right, cx)? }
        }
        Expr::Binary(op, left, right) => {
            let (left, right) = (eval(left, cx)?, eval(right, cx)?);
            Value::Bool(match *op {
                "==" => equal(&left, &right),
                "!=" => !equal(&left, &right),
                "<" => to_number(&left) < to_number(&right),
                "<=" => to_number(&left) <= to_number(&right),
                ">" => to_number(&left) > to_number(&right),
                ">=" => to_number(&left) >= to_number(&right),
                other => return Err(format!("unknown operator `{other}`")),
            })
        }
        Expr::Call(name, args) => {
            let values = args.iter().map(|a| eval(a, cx)).collect::<Result<Vec<_>, _>>()?;
            call(name, &values, cx)?
        }
    })
}

fn call(name: &str, args: &[Value], cx: &Context<'_>) -> Result<Value, String> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
    Ok(match name.to_ascii_lowercase().as_str() {
        "success" => Value::Bool(cx.status == Status::Success),
        "failure" => Value::Bool(cx.status == Status::Failure),
        "always" => Value::Bool(true),
        "cancelled" => Value::Bool(false),
        "contains" => Value::Bool(match arg(0) {
            Value::Array(items) => items.iter().any(|item| equal(item, &arg(1))),
            haystack => to_string(&haystack).to_lowercase().contains(&to_string(&arg(1)).to_lowercase()),
        }),
        "startswith" => Value::Bool(to_string(&arg(0)).to_lowercase().starts_with(&to_string(&arg(1)).to_lowercase())),
        "endswith" => Value::Bool(to_string(&arg(0)).to_lowercase().ends_with(&to_string(&arg(1)).to_lowercase())),
        "format" => {
            let mut text = to_string(&arg(0)).replace("{{", "\u{0}").replace("}}", "\u{1}");
            for (i, value) in args.iter().enumerate().skip(1) {
                text = text.replace(&format!("{{{}}}", i - 1), &to_string(value));
            }
            Value::String(text.replace('\u{0}', "{").replace('\u{1}', "}"))
        }
        "join" => match arg(0) {
            Value::Array(items) => {
                let separator = if args.len() > 1 { to_string(&arg(1)) } else { ",".to_owned() };
                Value::String(items.iter().map(to_string).collect::<Vec<_>>().join(&separator))
            }
            other => Value::String(to_string(&other)),
        },
        "tojson" => Value::String(serde_json::to_string_pretty(&arg(0)).expect("JSON")),
        "fromjson" => serde_json::from_str(&to_string(&arg(0))).map_err(|e| format!("fromJSON: {e}"))?,
        other => return Err(format!("the function `{other}` is not supported by this runner")),
    })
}

/// GitHub's truthiness: false, 0, -0, "", null and NaN are false.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn to_number(value: &Value) -> f64 {
    match value {
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) if s.trim().is_empty() => 0.0,
        Value::String(s) => s.trim().parse().unwrap_or(f64::NAN),
        Value::Array(_) | Value::Object(_) => f64::NAN,
    }
}

/// `==`: same types compare directly (strings without case), others as numbers.
fn equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => false,
        _ => to_number(left) == to_number(right),
    }
}

/// A value as text: null is empty, objects are JSON.
pub fn to_string(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).expect("JSON"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cx(values: &Value, status: Status) -> (Map<String, Value>, Status) {
        (values.as_object().unwrap().clone(), status)
    }

    #[test]
    fn evaluates_what_the_workflows_use() {
        let (values, status) = cx(
            &json!({
                "inputs": {"action": "Upgrade", "environment": "staging"},
                "needs": {"deploy-backend": {"result": "success", "outputs": {"url": "https://b"}}},
                "secrets": {"STAGING_URL": "s", "DATABASE_URL": "p"},
            }),
            Status::Success,
        );
        let cx = Context { values: &values, status };
        assert_eq!(evaluate("inputs.action == 'upgrade'", &cx).unwrap(), json!(true));
        assert_eq!(evaluate("needs.deploy-backend.outputs.url", &cx).unwrap(), json!("https://b"));
        assert_eq!(
            evaluate(
                r#"secrets[fromJSON('{"production":"DATABASE_URL","staging":"STAGING_URL"}')[inputs.environment]]"#,
                &cx
            )
            .unwrap(),
            json!("s")
        );
        assert_eq!(evaluate("inputs.nothing || 'x'", &cx).unwrap(), json!("x"));
        assert_eq!(interpolate("a-${{ inputs.environment }}-b", &cx).unwrap(), "a-staging-b");
        assert!(condition("inputs.action != 'sql'", &cx).unwrap());
        assert!(!condition("failure()", &cx).unwrap());
        assert!(condition("${{ always() }}", &cx).unwrap());
        let failed = Context { values: &values, status: Status::Failure };
        assert!(!condition("inputs.action == 'upgrade'", &failed).unwrap(), "implicitly success() &&");
        assert!(condition("failure()", &failed).unwrap());
        assert!(evaluate("nosuch.x", &cx).is_err());
        assert!(evaluate("hashFiles('x')", &cx).is_err());
    }
}
