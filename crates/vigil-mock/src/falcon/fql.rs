//! The subset of Falcon Query Language (FQL) the mock evaluates, and nothing more.
//!
//! Grammar (`docs/partner-formats.md` §2; FQL as CrowdStrike documents it for the Alerts API):
//!
//! ```text
//! filter := term (('+' | whitespace) term)*      // AND; a raw '+' in a URL decodes to a space
//! term   := field ':' [op] value
//! op     := '>=' | '<=' | '>' | '<'
//! value  := literal | '[' literal (',' literal)* ']'  // a list means "any of"; no op allowed
//! literal:= '\'' chars '\'' | integer
//! field  := status | severity | created_timestamp | updated_timestamp | product
//! ```
//!
//! Strict on purpose: anything outside the subset (OR with `,`, negation `!`, wildcards `*`,
//! text match `~`, other fields, a number for a timestamp, a string for `severity`) is an error,
//! so an adapter that emits more than the contract allows fails loudly in tests instead of
//! silently getting unfiltered data.

use super::record::FalconRecord;
use chrono::{DateTime, Utc};
use std::fmt;

/// A filter: every term must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    pub terms: Vec<Term>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Status,
    Severity,
    CreatedTimestamp,
    UpdatedTimestamp,
    Product,
}

impl Field {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "status" => Self::Status,
            "severity" => Self::Severity,
            "created_timestamp" => Self::CreatedTimestamp,
            "updated_timestamp" => Self::UpdatedTimestamp,
            "product" => Self::Product,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ge,
    Le,
    Gt,
    Lt,
}

/// A typed literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Time(DateTime<Utc>),
}

/// One `field:[op]value` term; `values` has several entries only for an any-of list.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub field: Field,
    pub op: Op,
    pub values: Vec<Value>,
}

/// Why a filter was refused; the message goes into the Falcon `errors` array.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FqlError(pub String);

impl fmt::Display for FqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid filter: {}", self.0)
    }
}

/// A raw literal before it is typed against its field.
enum Raw {
    Str(String),
    Int(i64),
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn err<T>(&self, msg: impl Into<String>) -> Result<T, FqlError> {
        Err(FqlError(format!("{} at position {}", msg.into(), self.pos)))
    }

    fn field(&mut self) -> Result<Field, FqlError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            self.bump();
        }
        let name = &self.s[start..self.pos];
        if name.is_empty() {
            return self.err("expected a field name");
        }
        Field::parse(name).map_or_else(|| self.err(format!("unsupported field '{name}'")), Ok)
    }

    fn op(&mut self) -> Result<Op, FqlError> {
        let rest = &self.s[self.pos..];
        let (op, len) = if rest.starts_with(">=") {
            (Op::Ge, 2)
        } else if rest.starts_with("<=") {
            (Op::Le, 2)
        } else if rest.starts_with('>') {
            (Op::Gt, 1)
        } else if rest.starts_with('<') {
            (Op::Lt, 1)
        } else if rest.starts_with(['!', '~', '*']) {
            return self.err("unsupported operator");
        } else {
            (Op::Eq, 0)
        };
        self.pos += len;
        Ok(op)
    }

    fn literal(&mut self) -> Result<Raw, FqlError> {
        match self.peek() {
            Some('\'') => {
                self.bump();
                let start = self.pos;
                loop {
                    match self.bump() {
                        Some('\'') => break,
                        Some(_) => {}
                        None => return self.err("unterminated string"),
                    }
                }
                let v = &self.s[start..self.pos - 1];
                if v.contains('*') {
                    return self.err("wildcards are not supported");
                }
                Ok(Raw::Str(v.to_string()))
            }
            Some(c) if c.is_ascii_digit() || c == '-' => {
                let start = self.pos;
                self.bump();
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                }
                let text = &self.s[start..self.pos];
                text.parse::<i64>()
                    .map(Raw::Int)
                    .or_else(|_| self.err(format!("bad number '{text}'")))
            }
            _ => self.err("expected a quoted string or an integer"),
        }
    }

    fn typed(&self, field: Field, raw: Raw) -> Result<Value, FqlError> {
        match (field, raw) {
            (Field::Status | Field::Product, Raw::Str(s)) => Ok(Value::Str(s)),
            (Field::Severity, Raw::Int(n)) => Ok(Value::Int(n)),
            (Field::CreatedTimestamp | Field::UpdatedTimestamp, Raw::Str(s)) => {
                DateTime::parse_from_rfc3339(&s)
                    .map(|t| Value::Time(t.with_timezone(&Utc)))
                    .or_else(|_| self.err(format!("'{s}' is not an RFC 3339 timestamp")))
            }
            (Field::Severity, Raw::Str(_)) => self.err("severity takes an integer"),
            (_, Raw::Int(_)) => self.err("this field takes a quoted string"),
        }
    }

    fn term(&mut self) -> Result<Term, FqlError> {
        let field = self.field()?;
        if self.bump() != Some(':') {
            return self.err("expected ':' after the field name");
        }
        let op = self.op()?;
        let values = if self.peek() == Some('[') {
            if op != Op::Eq {
                return self.err("a list cannot take a comparison operator");
            }
            self.bump();
            let mut values = Vec::new();
            loop {
                self.skip_ws();
                let raw = self.literal()?;
                values.push(self.typed(field, raw)?);
                self.skip_ws();
                match self.bump() {
                    Some(',') => continue,
                    Some(']') => break,
                    _ => return self.err("expected ',' or ']' in a list"),
                }
            }
            values
        } else {
            let raw = self.literal()?;
            vec![self.typed(field, raw)?]
        };
        if op != Op::Eq && matches!(field, Field::Status | Field::Product) {
            return self.err("strings only compare with equality");
        }
        Ok(Term { field, op, values })
    }
}

impl Filter {
    /// Parses the `filter` query parameter (already URL-decoded).
    pub fn parse(s: &str) -> Result<Self, FqlError> {
        let mut p = Parser { s, pos: 0 };
        let mut terms = Vec::new();
        p.skip_ws();
        if p.peek().is_none() {
            return Ok(Self::default());
        }
        loop {
            terms.push(p.term()?);
            let before = p.pos;
            p.skip_ws();
            match p.peek() {
                None => break,
                Some('+') => {
                    p.bump();
                    p.skip_ws();
                }
                Some(',') => return p.err("OR (',') is not supported"),
                Some(_) if p.pos > before => {}
                Some(_) => return p.err("expected '+' between terms"),
            }
        }
        Ok(Self { terms })
    }

    /// Whether a record satisfies every term.
    pub fn matches(&self, r: &FalconRecord) -> bool {
        self.terms.iter().all(|t| t.matches(r))
    }
}

impl Term {
    fn matches(&self, r: &FalconRecord) -> bool {
        self.values.iter().any(|v| match (self.field, v) {
            (Field::Status, Value::Str(s)) => r.status == *s,
            (Field::Product, Value::Str(s)) => r.product == *s,
            (Field::Severity, Value::Int(n)) => cmp(self.op, r.severity, *n),
            (Field::CreatedTimestamp, Value::Time(t)) => cmp(self.op, r.created_at, *t),
            (Field::UpdatedTimestamp, Value::Time(t)) => cmp(self.op, r.updated_at, *t),
            _ => false,
        })
    }
}

fn cmp<T: PartialOrd>(op: Op, left: T, right: T) -> bool {
    match op {
        Op::Eq => left == right,
        Op::Ge => left >= right,
        Op::Le => left <= right,
        Op::Gt => left > right,
        Op::Lt => left < right,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_contract_subset() {
        let f = Filter::parse(
            "status:['new','reopened']+severity:>=70+created_timestamp:<'2024-05-01T00:00:00Z'+product:'epp'",
        )
        .unwrap();
        assert_eq!(f.terms.len(), 4);
        assert_eq!(f.terms[0].values.len(), 2);
        assert_eq!(f.terms[1].op, Op::Ge);
        assert_eq!(f.terms[2].op, Op::Lt);
        // A raw '+' decoded to a space by the URL layer still means AND.
        assert_eq!(
            Filter::parse("status:'new' severity:<20")
                .unwrap()
                .terms
                .len(),
            2
        );
        assert_eq!(Filter::parse("  ").unwrap(), Filter::default());
        assert!(Filter::parse("severity:[50, 70]").is_ok());
    }

    #[test]
    fn never_panics_on_truncated_or_mutated_input() {
        let seeds = [
            "status:['new','reopened']+severity:>=70+created_timestamp:<'2024-05-01T00:00:00Z'",
            "product:'épp'+updated_timestamp:>'2024-05-01T00:00:00.123456789Z'",
        ];
        let noise = [
            '\'', '[', ']', ',', '+', ':', '>', '<', '=', '-', ' ', 'é', '9',
        ];
        for seed in seeds {
            let cuts: Vec<usize> = seed.char_indices().map(|(i, _)| i).collect();
            for &cut in &cuts {
                let prefix = &seed[..cut];
                for input in std::iter::once(prefix.to_string()).chain(noise.iter().map(|c| {
                    let mut s = seed.to_string();
                    s.insert(cut, *c);
                    s
                })) {
                    if let Ok(f) = Filter::parse(&input) {
                        // Whatever parses is a real conjunction of typed terms.
                        assert_eq!(f.terms.is_empty(), input.trim().is_empty(), "{input}");
                        assert!(f.terms.iter().all(|t| !t.values.is_empty()), "{input}");
                    }
                }
            }
        }
    }

    #[test]
    fn refuses_everything_outside_the_subset() {
        for bad in [
            "status:'new',status:'closed'",
            "status:!'new'",
            "name:'x'",
            "severity:'70'",
            "created_timestamp:>5",
            "created_timestamp:>'yesterday'",
            "status:>'new'",
            "status:'new",
            "status:'ne*'",
            "status",
            "status:",
            "severity:>=[1,2]",
            "severity:99999999999999999999999",
            "device.hostname:'x'",
            "status:'new'++severity:1",
            "status:~'new'",
            "status:['new' 'closed']",
            "ö:'x'",
            "status:'new'ö",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
