//! The SOQL subset the mock understands: tokenizer, parser, `WHERE` matching and `ORDER BY`.

use crate::*;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Word(String),
    Str(String),
    Op(String),
    Comma,
}

pub(crate) fn tokenize(q: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == ',' {
            chars.next();
            out.push(Token::Comma);
        } else if c == '\'' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated string literal".to_owned()),
                    Some('\\') => match chars.next() {
                        Some(e) => s.push(e),
                        None => return Err("unterminated string literal".to_owned()),
                    },
                    Some('\'') => break,
                    Some(ch) => s.push(ch),
                }
            }
            out.push(Token::Str(s));
        } else if matches!(c, '<' | '>' | '=' | '!') {
            chars.next();
            let mut op = c.to_string();
            if chars.peek() == Some(&'=') {
                chars.next();
                op.push('=');
            }
            out.push(Token::Op(op));
        } else if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '+' | '-') {
            let mut w = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | ':' | '+' | '-') {
                    w.push(ch);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Token::Word(w));
        } else {
            return Err(format!("unexpected token: '{c}'"));
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    DateTime(DateTime<Utc>),
    Text(String),
    Bool(bool),
    Number(f64),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    pub(crate) field: &'static str,
    pub(crate) op: String,
    pub(crate) value: Literal,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Soql {
    pub(crate) object: SObject,
    pub(crate) fields: Vec<&'static str>,
    pub(crate) conditions: Vec<Condition>,
    /// Field and ascending.
    pub(crate) order: Vec<(&'static str, bool)>,
    pub(crate) limit: Option<usize>,
}

/// A parse failure: the error code (`MALFORMED_QUERY`, `INVALID_FIELD`, `INVALID_TYPE`) and
/// the message.
pub(crate) type SoqlError = (&'static str, String);

pub(crate) fn malformed(message: impl Into<String>) -> SoqlError {
    ("MALFORMED_QUERY", message.into())
}

pub(crate) fn keyword(t: Option<&Token>, kw: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
}

pub(crate) fn parse_soql(q: &str) -> Result<Soql, SoqlError> {
    let tokens = tokenize(q).map_err(malformed)?;
    let mut pos = 0;
    if !keyword(tokens.first(), "SELECT") {
        return Err(malformed("unexpected token: expected SELECT"));
    }
    pos += 1;
    let mut names = Vec::new();
    loop {
        match tokens.get(pos) {
            Some(Token::Word(w)) if !w.eq_ignore_ascii_case("FROM") => names.push(w.clone()),
            _ => return Err(malformed("expected a field name in the SELECT list")),
        }
        pos += 1;
        if tokens.get(pos) == Some(&Token::Comma) {
            pos += 1;
        } else {
            break;
        }
    }
    if !keyword(tokens.get(pos), "FROM") {
        return Err(malformed("unexpected token: expected FROM"));
    }
    pos += 1;
    let object = match tokens.get(pos) {
        Some(Token::Word(w)) => SObject::parse(w).ok_or_else(|| {
            (
                "INVALID_TYPE",
                format!("sObject type '{w}' is not supported."),
            )
        })?,
        _ => return Err(malformed("expected an sObject after FROM")),
    };
    pos += 1;
    let field = |name: &str| {
        object.canonical_field(name).ok_or_else(|| {
            (
                "INVALID_FIELD",
                format!("No such column '{name}' on entity '{}'.", object.as_str()),
            )
        })
    };
    let fields = names
        .iter()
        .map(|n| field(n))
        .collect::<Result<Vec<_>, _>>()?;
    let mut conditions = Vec::new();
    if keyword(tokens.get(pos), "WHERE") {
        pos += 1;
        loop {
            let name = match tokens.get(pos) {
                Some(Token::Word(w)) => field(w)?,
                _ => return Err(malformed("expected a field in WHERE")),
            };
            let op = match tokens.get(pos + 1) {
                Some(Token::Op(op)) if ["=", "!=", "<", "<=", ">", ">="].contains(&op.as_str()) => {
                    op.clone()
                }
                _ => return Err(malformed("expected a comparison operator")),
            };
            let value = match tokens.get(pos + 2) {
                Some(Token::Str(s)) => Literal::Text(s.clone()),
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
                Some(Token::Word(w)) => {
                    if let Some(t) = parse_literal_datetime(w) {
                        Literal::DateTime(t)
                    } else if let Ok(n) = w.parse::<f64>() {
                        Literal::Number(n)
                    } else {
                        return Err(malformed(format!("invalid literal: {w}")));
                    }
                }
                _ => return Err(malformed("expected a literal")),
            };
            conditions.push(Condition {
                field: name,
                op,
                value,
            });
            pos += 3;
            if keyword(tokens.get(pos), "AND") {
                pos += 1;
            } else {
                break;
            }
        }
    }
    let mut order = Vec::new();
    if keyword(tokens.get(pos), "ORDER") {
        if !keyword(tokens.get(pos + 1), "BY") {
            return Err(malformed("expected BY after ORDER"));
        }
        pos += 2;
        loop {
            let name = match tokens.get(pos) {
                Some(Token::Word(w)) => field(w)?,
                _ => return Err(malformed("expected a field in ORDER BY")),
            };
            pos += 1;
            let mut ascending = true;
            if keyword(tokens.get(pos), "ASC") {
                pos += 1;
            } else if keyword(tokens.get(pos), "DESC") {
                ascending = false;
                pos += 1;
            }
            order.push((name, ascending));
            if tokens.get(pos) == Some(&Token::Comma) {
                pos += 1;
            } else {
                break;
            }
        }
    }
    let mut limit = None;
    if keyword(tokens.get(pos), "LIMIT") {
        match tokens.get(pos + 1) {
            Some(Token::Word(w)) => {
                limit = Some(
                    w.parse()
                        .map_err(|_| malformed(format!("invalid LIMIT: {w}")))?,
                );
            }
            _ => return Err(malformed("expected a number after LIMIT")),
        }
        pos += 2;
    }
    if let Some(t) = tokens.get(pos) {
        return Err(malformed(format!("unexpected token: {t:?}")));
    }
    Ok(Soql {
        object,
        fields,
        conditions,
        order,
        limit,
    })
}

/// A SOQL datetime literal: `2024-01-01T00:00:00Z`, with milliseconds or an offset.
pub(crate) fn parse_literal_datetime(w: &str) -> Option<DateTime<Utc>> {
    if !w.contains('T') {
        return None;
    }
    DateTime::parse_from_rfc3339(w)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| parse_sf_datetime(w))
}

pub(crate) fn compare(value: &Value, literal: &Literal) -> Option<std::cmp::Ordering> {
    match (value, literal) {
        (Value::String(s), Literal::DateTime(t)) => parse_sf_datetime(s).map(|v| v.cmp(t)),
        (Value::String(s), Literal::Text(t)) => Some(s.as_str().cmp(t.as_str())),
        (Value::Bool(b), Literal::Bool(l)) => Some(b.cmp(l)),
        (Value::Number(n), Literal::Number(l)) => n.as_f64().and_then(|v| v.partial_cmp(l)),
        _ => None,
    }
}

pub(crate) fn matches(record: &Map<String, Value>, c: &Condition) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let value = record.get(c.field).unwrap_or(&Value::Null);
    if c.value == Literal::Null {
        return match c.op.as_str() {
            "=" => value.is_null(),
            "!=" => !value.is_null(),
            _ => false,
        };
    }
    let Some(ord) = compare(value, &c.value) else {
        return false;
    };
    match c.op.as_str() {
        "=" => ord == Equal,
        "!=" => ord != Equal,
        "<" => ord == Less,
        "<=" => ord != Greater,
        ">" => ord == Greater,
        ">=" => ord != Less,
        _ => false,
    }
}

pub(crate) fn order_key_cmp(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            match (parse_sf_datetime(x), parse_sf_datetime(y)) {
                (Some(p), Some(q)) => p.cmp(&q),
                _ => x.cmp(y),
            }
        }
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => std::cmp::Ordering::Equal,
        // Nulls first, as Salesforce sorts ascending by default.
        (Value::Null, _) => std::cmp::Ordering::Less,
        (_, Value::Null) => std::cmp::Ordering::Greater,
        _ => std::cmp::Ordering::Equal,
    }
}
