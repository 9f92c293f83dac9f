//! Tokenizer shared by `$filter` and `$orderby`.
//!
//! Works on bytes: outside string literals only ASCII is legal, and inside them a multi-byte
//! UTF-8 sequence never contains the byte `'`, so slicing at the quotes is always on a char
//! boundary. Positions are byte offsets; [`QueryError`] messages convert them to 1-based
//! character positions.

use super::QueryError;
use crate::time::Timestamp;

/// One token. Keywords (`eq`, `and`, `any`, `asc`...) are plain identifiers: what they mean
/// depends on where they stand, and the parser decides.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    /// A name: property, lambda variable, keyword, function; may contain `.` (`microsoft.graph.x`).
    Ident(&'a str),
    /// A single-quoted string, `''` already unescaped.
    Str(String),
    Int(i64),
    Double(f64),
    DateTime(Timestamp),
    Guid(&'a str),
    /// `type'value'`, e.g. `microsoft.graph.riskLevel'medium'`.
    Typed {
        type_name: &'a str,
        value: String,
    },
    LParen,
    RParen,
    Comma,
    Slash,
    Colon,
    Eof,
}

#[derive(Debug, Clone)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    /// Byte offset of the first character.
    pub start: usize,
    /// The source text of the token (empty at end of input).
    pub text: &'a str,
}

impl Token<'_> {
    /// How an error message names this token.
    pub fn describe(&self) -> String {
        if matches!(self.tok, Tok::Eof) {
            "end of input".to_string()
        } else {
            format!("'{}'", self.text)
        }
    }

    /// An identifier equal to `kw`, ignoring ASCII case.
    pub fn is_kw(&self, kw: &str) -> bool {
        matches!(self.tok, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }
}

/// 1-based character position of a byte offset.
pub(crate) fn char_pos(text: &str, byte: usize) -> usize {
    text.get(..byte).map_or(byte, |s| s.chars().count()) + 1
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'$'
}

fn is_guid_at(bytes: &[u8], i: usize) -> bool {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let mut j = i;
    for (n, len) in GROUPS.iter().enumerate() {
        for _ in 0..*len {
            match bytes.get(j) {
                Some(b) if b.is_ascii_hexdigit() => j += 1,
                _ => return false,
            }
        }
        if n < 4 {
            if bytes.get(j) != Some(&b'-') {
                return false;
            }
            j += 1;
        }
    }
    !bytes
        .get(j)
        .is_some_and(|b| is_ident_byte(*b) || *b == b'-')
}

/// `dddd-d`: the start of a date literal.
fn is_date_at(bytes: &[u8], i: usize) -> bool {
    (0..4).all(|k| bytes.get(i + k).is_some_and(u8::is_ascii_digit))
        && bytes.get(i + 4) == Some(&b'-')
        && bytes.get(i + 5).is_some_and(u8::is_ascii_digit)
}

pub(crate) fn tokenize<'a>(
    text: &'a str,
    option: &'static str,
) -> Result<Vec<Token<'a>>, QueryError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |at: usize, message: String| QueryError::Syntax {
        option,
        position: char_pos(text, at),
        message,
    };
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let tok = match b {
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b'/' => {
                i += 1;
                Tok::Slash
            }
            b':' => {
                i += 1;
                Tok::Colon
            }
            b'\'' => {
                let (s, end) = string_literal(text, i).ok_or_else(|| {
                    err(
                        start,
                        "unterminated string literal (strings are enclosed in single quotes; write '' for a quote inside)".to_string(),
                    )
                })?;
                i = end;
                Tok::Str(s)
            }
            _ if is_guid_at(bytes, i) => {
                i += 36;
                Tok::Guid(&text[start..i])
            }
            _ if is_date_at(bytes, i) => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b':' | b'.' | b'+' | b'-'))
                {
                    i += 1;
                }
                let lexeme = &text[start..i];
                // `...T08:00:00+01:00` sent with an unencoded '+' arrives as `...T08:00:00 01:00`.
                let rest = &bytes[i..];
                if lexeme.contains('T')
                    && rest.len() >= 6
                    && rest[0] == b' '
                    && rest[1..3].iter().all(u8::is_ascii_digit)
                    && rest[3] == b':'
                {
                    return Err(err(
                        i,
                        format!(
                            "a space follows the DateTimeOffset '{lexeme}': if you meant a '+hh:mm' offset, encode '+' as %2B in the URL ('+' means a space)"
                        ),
                    ));
                }
                let ts = Timestamp::parse(lexeme).map_err(|_| {
                    err(
                        start,
                        format!("'{lexeme}' is not a valid DateTimeOffset literal (expected e.g. 2019-04-01T00:00:00Z)"),
                    )
                })?;
                Tok::DateTime(ts)
            }
            b'-' | b'0'..=b'9' => {
                let (tok, end) = number(text, i).map_err(|m| err(start, m))?;
                i = end;
                tok
            }
            _ if is_ident_start(b) => {
                while i < bytes.len() && is_ident_byte(bytes[i]) {
                    i += 1;
                }
                let name = &text[start..i];
                // `eq'x'` (no space) is an operator followed by a string, not a typed literal.
                let keyword = ["eq", "ne", "gt", "ge", "lt", "le", "in", "and", "or", "not"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(name));
                if bytes.get(i) == Some(&b'\'') && !keyword {
                    let (value, end) = string_literal(text, i)
                        .ok_or_else(|| err(i, "unterminated string literal".to_string()))?;
                    i = end;
                    Tok::Typed {
                        type_name: name,
                        value,
                    }
                } else {
                    Tok::Ident(name)
                }
            }
            _ => {
                let c = text[start..].chars().next().unwrap_or('?');
                let hint = if c == '"' {
                    " (strings are enclosed in single quotes, e.g. 'high')"
                } else {
                    ""
                };
                return Err(err(start, format!("unexpected character '{c}'{hint}")));
            }
        };
        out.push(Token {
            tok,
            start,
            text: &text[start..i],
        });
    }
    out.push(Token {
        tok: Tok::Eof,
        start: bytes.len(),
        text: "",
    });
    Ok(out)
}

/// Reads `'...'` starting at the opening quote; returns the unescaped value and the end offset.
fn string_literal(text: &str, open: usize) -> Option<(String, usize)> {
    let bytes = text.as_bytes();
    let mut value = String::new();
    let mut seg = open + 1;
    let mut i = open + 1;
    loop {
        match bytes.get(i) {
            None => return None,
            Some(b'\'') => {
                value.push_str(text.get(seg..i)?);
                if bytes.get(i + 1) == Some(&b'\'') {
                    value.push('\'');
                    i += 2;
                    seg = i;
                } else {
                    return Some((value, i + 1));
                }
            }
            Some(_) => i += 1,
        }
    }
}

fn number(text: &str, start: usize) -> Result<(Tok<'static>, usize), String> {
    let bytes = text.as_bytes();
    let mut i = start;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let s = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > s
    };
    if !digits(&mut i) {
        return Err("'-' must be followed by a number".to_string());
    }
    let mut float = false;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        float = true;
        if !digits(&mut i) {
            return Err(format!("'{}' is not a valid number", &text[start..i]));
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        float = true;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return Err(format!("'{}' is not a valid number", &text[start..i]));
        }
    }
    if bytes.get(i).is_some_and(|b| is_ident_byte(*b)) {
        let mut j = i;
        while bytes.get(j).is_some_and(|b| is_ident_byte(*b)) {
            j += 1;
        }
        return Err(format!("'{}' is not a valid number", &text[start..j]));
    }
    let lexeme = &text[start..i];
    let tok = if float {
        match lexeme.parse::<f64>() {
            Ok(f) if f.is_finite() => Tok::Double(f),
            _ => return Err(format!("'{lexeme}' is not a valid number")),
        }
    } else {
        match lexeme.parse::<i64>() {
            Ok(n) => Tok::Int(n),
            Err(_) => return Err(format!("'{lexeme}' is out of range for a number")),
        }
    };
    Ok((tok, i))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok<'_>> {
        tokenize(s, "$filter")
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn literals() {
        assert_eq!(
            toks("'it''s' 42 -7 1.5 2e3"),
            vec![
                Tok::Str("it's".into()),
                Tok::Int(42),
                Tok::Int(-7),
                Tok::Double(1.5),
                Tok::Double(2000.0),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("72f988bf-86f1-41af-91ab-2d7cd011db47)"),
            vec![
                Tok::Guid("72f988bf-86f1-41af-91ab-2d7cd011db47"),
                Tok::RParen,
                Tok::Eof
            ]
        );
        let t = toks("2019-10-13T08:00Z,2019-04-01T00:00:00.000+01:00");
        assert_eq!(
            t[0],
            Tok::DateTime(Timestamp::parse("2019-10-13T08:00:00Z").unwrap())
        );
        assert_eq!(
            t[2],
            Tok::DateTime(Timestamp::parse("2019-03-31T23:00:00Z").unwrap())
        );
        assert_eq!(
            toks("microsoft.graph.riskLevel'medium'"),
            vec![
                Tok::Typed {
                    type_name: "microsoft.graph.riskLevel",
                    value: "medium".into()
                },
                Tok::Eof
            ]
        );
        assert_eq!(toks("'héllo'"), vec![Tok::Str("héllo".into()), Tok::Eof]);
    }

    #[test]
    fn errors_carry_character_positions() {
        let e = tokenize("title eq 'é' and é", "$filter").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Syntax error at position 18 in '$filter': unexpected character 'é'"
        );
        let e = tokenize("title eq 'abc", "$filter").unwrap_err();
        assert!(e.to_string().contains("position 10"), "{e}");
        let e = tokenize("x eq 2019-13-45T00:00Z", "$filter").unwrap_err();
        assert!(e.to_string().contains("not a valid DateTimeOffset"), "{e}");
        let e = tokenize("x ge 2019-10-13T08:00:00 01:00", "$filter").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Syntax error at position 25 in '$filter': a space follows the DateTimeOffset '2019-10-13T08:00:00': if you meant a '+hh:mm' offset, encode '+' as %2B in the URL ('+' means a space)"
        );
        let e = tokenize("x eq 12abc", "$filter").unwrap_err();
        assert!(
            e.to_string().contains("'12abc' is not a valid number"),
            "{e}"
        );
        let e = tokenize("x eq 99999999999999999999", "$filter").unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
    }
}
