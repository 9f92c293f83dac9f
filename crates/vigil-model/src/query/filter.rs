//! `$filter`: parser (schema-resolving, depth-bounded recursive descent), evaluator and
//! canonical printer.
//!
//! Grammar (keywords ASCII case-insensitive):
//! ```text
//! or      := and ('or' and)*
//! and     := unary ('and' unary)*
//! unary   := 'not' unary | primary
//! primary := '(' or ')' [bool-suffix]
//!          | func '(' path ',' string ')' [bool-suffix]      func: startswith endswith contains
//!          | path '/' ('any' | 'all') '(' [var ':' or] ')' [bool-suffix]
//!          | path cmp literal | literal cmp path | path 'in' '(' literal (',' literal)* ')'
//!          | path                                            (a Boolean property: `path eq true`)
//! bool-suffix := ('eq' | 'ne') ('true' | 'false')
//! path    := (name | var | '$it') ('/' name)*
//! ```

use super::compare::{TimeKey, cmp_ignore_case, time_key, timestamp_key};
use super::lexer::{Tok, Token, char_pos, tokenize};
use super::schema::{EnumType, PropType, Property, Schema};
use super::{MAX_DEPTH, MAX_IN_VALUES, QueryError, check_length};
use crate::time::Timestamp;
use serde_json::Value;
use std::cmp::Ordering;
use std::fmt::Write as _;

const OPTION: &str = "$filter";

/// A parsed, schema-checked `$filter` expression.
#[derive(Clone)]
pub struct Filter {
    pub(crate) expr: Expr,
    schema: &'static Schema,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Filter({} on {})",
            self.to_odata(),
            self.schema.type_name
        )
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    fn from_token(t: &Token<'_>) -> Option<Self> {
        let Tok::Ident(s) = t.tok else { return None };
        [
            ("eq", Self::Eq),
            ("ne", Self::Ne),
            ("gt", Self::Gt),
            ("ge", Self::Ge),
            ("lt", Self::Lt),
            ("le", Self::Le),
        ]
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(s))
        .map(|(_, op)| op)
    }

    fn keyword(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    /// The operator kind as Microsoft's OData library names it in type errors.
    fn kind(self) -> &'static str {
        match self {
            Self::Eq => "Equal",
            Self::Ne => "NotEqual",
            Self::Gt => "GreaterThan",
            Self::Ge => "GreaterThanOrEqual",
            Self::Lt => "LessThan",
            Self::Le => "LessThanOrEqual",
        }
    }

    /// `lit op path` == `path flip(op) lit`.
    fn flip(self) -> Self {
        match self {
            Self::Gt => Self::Lt,
            Self::Ge => Self::Le,
            Self::Lt => Self::Gt,
            Self::Le => Self::Ge,
            other => other,
        }
    }

    fn holds(self, o: Ordering) -> bool {
        match self {
            Self::Eq => o == Ordering::Equal,
            Self::Ne => o != Ordering::Equal,
            Self::Gt => o == Ordering::Greater,
            Self::Ge => o != Ordering::Less,
            Self::Lt => o == Ordering::Less,
            Self::Le => o != Ordering::Greater,
        }
    }
}

/// String functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrFunc {
    StartsWith,
    EndsWith,
    Contains,
}

impl StrFunc {
    fn from_name(s: &str) -> Option<Self> {
        [
            ("startswith", Self::StartsWith),
            ("endswith", Self::EndsWith),
            ("contains", Self::Contains),
        ]
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(s))
        .map(|(_, f)| f)
    }

    fn name(self) -> &'static str {
        match self {
            Self::StartsWith => "startswith",
            Self::EndsWith => "endswith",
            Self::Contains => "contains",
        }
    }
}

/// Where a path starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Root {
    /// The resource being filtered (`$it`).
    It,
    /// A lambda variable; `level` 0 is the outermost lambda.
    Var { level: usize, name: Box<str> },
}

/// A resolved property path.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    pub(crate) root: Root,
    pub(crate) props: Box<[&'static Property]>,
    /// Type of the value (of each element when `collection`).
    pub(crate) ty: PropType,
    pub(crate) collection: bool,
}

impl Path {
    fn write(&self, out: &mut String) {
        let mut first = true;
        if let Root::Var { name, .. } = &self.root {
            out.push_str(name);
            first = false;
        }
        for p in self.props.iter() {
            if !first {
                out.push('/');
            }
            out.push_str(p.name);
            first = false;
        }
        if first {
            out.push_str("$it");
        }
    }

    fn text(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

/// A literal, typed against the property it is compared with.
#[derive(Debug, Clone)]
pub(crate) enum Const {
    Null,
    Str(Box<str>),
    Guid(Box<str>),
    Enum {
        ty: &'static EnumType,
        index: u16,
        wire: &'static str,
    },
    Int(i64),
    Double(f64),
    Bool(bool),
    Time(Timestamp, TimeKey),
}

impl Const {
    fn write(&self, out: &mut String) {
        match self {
            Const::Null => out.push_str("null"),
            Const::Str(s) => write_string(out, s),
            Const::Guid(g) => out.push_str(g),
            Const::Enum { wire, .. } => write_string(out, wire),
            Const::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Const::Double(f) => {
                let _ = write!(out, "{f:?}");
            }
            Const::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Const::Time(t, _) => out.push_str(&t.to_wire()),
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('\'');
    out.push_str(&s.replace('\'', "''"));
    out.push('\'');
}

/// The expression tree. `And`/`Or` are n-ary (chains are flattened), so the tree depth is
/// bounded by the nesting depth of the text, not by its length.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Cmp {
        path: Path,
        op: CmpOp,
        value: Const,
    },
    In {
        path: Path,
        values: Vec<Const>,
    },
    Func {
        func: StrFunc,
        path: Path,
        arg: Box<str>,
    },
    Lambda {
        all: bool,
        path: Path,
        /// The variable's level (number of enclosing lambdas).
        level: usize,
        /// `None` for `any()` (the collection is not empty).
        body: Option<(Box<str>, Box<Expr>)>,
    },
}

/// Parses a `$filter` value (already URL-decoded) against `schema`.
pub fn parse_filter(text: &str, schema: &'static Schema) -> Result<Filter, QueryError> {
    check_length(text, OPTION)?;
    let toks = tokenize(text, OPTION)?;
    let mut p = Parser {
        text,
        toks,
        i: 0,
        depth: 0,
        schema,
        vars: Vec::new(),
    };
    if matches!(p.peek().tok, Tok::Eof) {
        return Err(p.syntax(
            p.peek(),
            "the filter is empty; expected an expression".into(),
        ));
    }
    let expr = p.parse_or()?;
    let t = p.peek();
    if !matches!(t.tok, Tok::Eof) {
        let msg = if matches!(t.tok, Tok::RParen) {
            "unbalanced ')': no matching '('".to_string()
        } else {
            format!(
                "expected 'and', 'or' or end of input after a complete expression, found {}",
                t.describe()
            )
        };
        return Err(p.syntax(t, msg));
    }
    Ok(Filter { expr, schema })
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<Token<'a>>,
    i: usize,
    depth: usize,
    schema: &'static Schema,
    /// Lambda variables in scope, outermost first.
    vars: Vec<(&'a str, PropType)>,
}

/// What a primary expression starts with.
enum Operand<'a> {
    Path(Path, Token<'a>),
    Lit(Lit, Token<'a>),
    Bool(Expr),
}

/// A literal before it is typed against a property.
#[derive(Debug, Clone)]
enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    Time(Timestamp),
    Guid(String),
    Typed { type_name: String, value: String },
}

impl Lit {
    fn edm(&self) -> String {
        match self {
            Lit::Null => "null".into(),
            Lit::Bool(_) => "Edm.Boolean".into(),
            Lit::Int(_) => "Edm.Int32".into(),
            Lit::Double(_) => "Edm.Double".into(),
            Lit::Str(_) => "Edm.String".into(),
            Lit::Time(_) => "Edm.DateTimeOffset".into(),
            Lit::Guid(_) => "Edm.Guid".into(),
            Lit::Typed { type_name, .. } => type_name.clone(),
        }
    }
}

const KEYWORDS: [&str; 12] = [
    "and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in", "any", "all",
];

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token<'a> {
        // The token list always ends with Eof and `i` never moves past it.
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn peek2(&self) -> &Token<'a> {
        &self.toks[(self.i + 1).min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token<'a> {
        let t = self.peek().clone();
        if !matches!(t.tok, Tok::Eof) {
            self.i += 1;
        }
        t
    }

    fn pos(&self, t: &Token<'_>) -> usize {
        char_pos(self.text, t.start)
    }

    fn syntax(&self, t: &Token<'_>, message: String) -> QueryError {
        QueryError::Syntax {
            option: OPTION,
            position: self.pos(t),
            message,
        }
    }

    fn invalid(&self, t: &Token<'_>, message: String) -> QueryError {
        QueryError::Invalid {
            option: OPTION,
            position: self.pos(t),
            message,
        }
    }

    fn enter(&mut self, t: &Token<'_>) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::TooDeep {
                option: OPTION,
                position: self.pos(t),
                max: MAX_DEPTH,
            });
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn expect_rparen(&mut self, open: &Token<'_>, context: &str) -> Result<(), QueryError> {
        let t = self.peek().clone();
        if matches!(t.tok, Tok::RParen) {
            self.bump();
            return Ok(());
        }
        Err(self.syntax(
            &t,
            format!(
                "expected ')' to close the '(' at position {}{context}, found {}",
                self.pos(open),
                t.describe()
            ),
        ))
    }

    fn parse_or(&mut self) -> Result<Expr, QueryError> {
        let mut terms = Vec::new();
        push_flat(&mut terms, self.parse_and()?, true);
        while self.peek().is_kw("or") {
            self.bump();
            push_flat(&mut terms, self.parse_and()?, true);
        }
        Ok(single_or(terms, Expr::Or))
    }

    fn parse_and(&mut self) -> Result<Expr, QueryError> {
        let mut terms = Vec::new();
        push_flat(&mut terms, self.parse_unary()?, false);
        while self.peek().is_kw("and") {
            self.bump();
            push_flat(&mut terms, self.parse_unary()?, false);
        }
        Ok(single_or(terms, Expr::And))
    }

    fn parse_unary(&mut self) -> Result<Expr, QueryError> {
        if self.peek().is_kw("not") {
            let t = self.bump();
            self.enter(&t)?;
            let inner = self.parse_unary()?;
            self.leave();
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.parse_primary()
    }

    fn parse_primary(&mut self) -> Result<Expr, QueryError> {
        if matches!(self.peek().tok, Tok::LParen) {
            let open = self.bump();
            self.enter(&open)?;
            if matches!(self.peek().tok, Tok::RParen) {
                let t = self.peek().clone();
                return Err(self.syntax(&t, "empty parentheses: expected an expression".into()));
            }
            let e = self.parse_or()?;
            self.expect_rparen(&open, " (or 'and'/'or' to continue the expression)")?;
            self.leave();
            return self.bool_suffix(e);
        }
        match self.parse_operand(None)? {
            Operand::Bool(e) => self.bool_suffix(e),
            Operand::Path(path, tok) => self.after_path(path, &tok),
            Operand::Lit(lit, tok) => {
                let op_tok = self.peek().clone();
                let Some(op) = CmpOp::from_token(&op_tok) else {
                    return Err(self.syntax(
                        &op_tok,
                        format!(
                            "expected a comparison operator after the value {}, found {}",
                            tok.describe(),
                            op_tok.describe()
                        ),
                    ));
                };
                self.bump();
                match self.parse_operand(Some(&op_tok))? {
                    Operand::Path(path, _) => self.comparison(path, op.flip(), lit, &tok),
                    Operand::Lit(_, t2) => Err(self.invalid(
                        &t2,
                        format!(
                            "comparing two values ({} {} {}) is not supported; one side must be a property",
                            tok.text,
                            op.keyword(),
                            t2.text
                        ),
                    )),
                    Operand::Bool(_) => Err(self.invalid(
                        &op_tok,
                        "a value cannot be compared with a boolean expression".into(),
                    )),
                }
            }
        }
    }

    /// `<bool expr> eq true` and friends, as some clients write `startswith(...) eq true`.
    fn bool_suffix(&mut self, e: Expr) -> Result<Expr, QueryError> {
        let t = self.peek().clone();
        let Some(op @ (CmpOp::Eq | CmpOp::Ne)) = CmpOp::from_token(&t) else {
            if CmpOp::from_token(&t).is_some() {
                return Err(self.invalid(
                    &t,
                    format!("'{}' cannot be applied to a boolean expression", t.text),
                ));
            }
            return Ok(e);
        };
        let v = self.peek2().clone();
        let b = if v.is_kw("true") {
            true
        } else if v.is_kw("false") {
            false
        } else {
            return Err(self.syntax(
                &v,
                format!(
                    "a boolean expression can only be compared with true or false, found {}",
                    v.describe()
                ),
            ));
        };
        self.bump();
        self.bump();
        Ok(if b == (op == CmpOp::Eq) {
            e
        } else {
            Expr::Not(Box::new(e))
        })
    }

    /// Parses a path, literal, function call or lambda. `after` is the operator it follows, for
    /// the error message.
    fn parse_operand(&mut self, after: Option<&Token<'_>>) -> Result<Operand<'a>, QueryError> {
        let t = self.peek().clone();
        let lit = match &t.tok {
            Tok::Str(s) => Some(Lit::Str(s.clone())),
            Tok::Int(n) => Some(Lit::Int(*n)),
            Tok::Double(f) => Some(Lit::Double(*f)),
            Tok::DateTime(ts) => Some(Lit::Time(*ts)),
            Tok::Guid(g) => Some(Lit::Guid((*g).to_string())),
            Tok::Typed { type_name, value } => Some(Lit::Typed {
                type_name: (*type_name).to_string(),
                value: value.clone(),
            }),
            Tok::Ident(s) if s.eq_ignore_ascii_case("null") => Some(Lit::Null),
            Tok::Ident(s) if s.eq_ignore_ascii_case("true") => Some(Lit::Bool(true)),
            Tok::Ident(s) if s.eq_ignore_ascii_case("false") => Some(Lit::Bool(false)),
            _ => None,
        };
        if let Some(lit) = lit {
            self.bump();
            return Ok(Operand::Lit(lit, t));
        }
        match t.tok {
            Tok::Ident(name)
                if after.is_none()
                    && matches!(self.peek2().tok, Tok::LParen)
                    && !self.is_var(name) =>
            {
                self.parse_function(name)
            }
            Tok::Ident(name)
                if !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(name)) || self.is_var(name) =>
            {
                self.parse_path()
            }
            _ => {
                let message = match after {
                    Some(op) => format!(
                        "expected a value after '{}', found {}",
                        op.text,
                        t.describe()
                    ),
                    None => format!(
                        "expected a property, a value, 'not' or '(', found {}",
                        t.describe()
                    ),
                };
                Err(self.syntax(&t, message))
            }
        }
    }

    fn is_var(&self, name: &str) -> bool {
        self.vars.iter().any(|(v, _)| *v == name)
    }

    fn parse_function(&mut self, name: &str) -> Result<Operand<'a>, QueryError> {
        let name_tok = self.bump();
        let Some(func) = StrFunc::from_name(name) else {
            return Err(self.invalid(
                &name_tok,
                format!(
                    "unknown or unsupported function '{name}' (supported: startswith, endswith, contains)"
                ),
            ));
        };
        let open = self.bump();
        let arg_tok = self.peek().clone();
        let path = match self.parse_operand(Some(&open))? {
            Operand::Path(path, _) => path,
            _ => {
                return Err(self.invalid(
                    &arg_tok,
                    format!("the first argument of '{}' must be a property", func.name()),
                ));
            }
        };
        if path.collection || !matches!(path.ty, PropType::String) {
            return Err(self.invalid(
                &arg_tok,
                format!(
                    "'{}' needs an Edm.String property, but '{}' is of type '{}'",
                    func.name(),
                    path.text(),
                    type_text(&path)
                ),
            ));
        }
        let comma = self.peek().clone();
        if !matches!(comma.tok, Tok::Comma) {
            return Err(self.syntax(
                &comma,
                format!(
                    "expected ',' after the first argument of '{}', found {}",
                    func.name(),
                    comma.describe()
                ),
            ));
        }
        self.bump();
        let s_tok = self.peek().clone();
        let Tok::Str(arg) = &s_tok.tok else {
            return Err(self.syntax(
                &s_tok,
                format!(
                    "the second argument of '{}' must be a string in single quotes, found {}",
                    func.name(),
                    s_tok.describe()
                ),
            ));
        };
        let arg = arg.clone().into_boxed_str();
        self.bump();
        self.expect_rparen(&open, &format!(" of '{}'", func.name()))?;
        Ok(Operand::Bool(Expr::Func { func, path, arg }))
    }

    /// Resolves `name(/name)*`, turning `/any(...)`/`/all(...)` into a lambda.
    fn parse_path(&mut self) -> Result<Operand<'a>, QueryError> {
        let first = self.bump();
        let Tok::Ident(name) = first.tok else {
            return Err(self.syntax(
                &first,
                format!("expected a property name, found {}", first.describe()),
            ));
        };
        let mut props: Vec<&'static Property> = Vec::new();
        let (root, mut ty, mut collection) =
            if let Some(level) = self.vars.iter().rposition(|(v, _)| *v == name) {
                let ty = self.vars.get(level).map_or(PropType::String, |v| v.1);
                (
                    Root::Var {
                        level,
                        name: name.into(),
                    },
                    ty,
                    false,
                )
            } else if name == "$it" {
                (Root::It, PropType::Complex(self.schema), false)
            } else {
                let prop = self.resolve(self.schema, name, &first)?;
                props.push(prop);
                (Root::It, prop.ty, prop.collection)
            };
        while matches!(self.peek().tok, Tok::Slash) {
            self.bump();
            let seg = self.bump();
            let Tok::Ident(seg_name) = seg.tok else {
                return Err(self.syntax(
                    &seg,
                    format!(
                        "expected a property name after '/', found {}",
                        seg.describe()
                    ),
                ));
            };
            let sofar = Path {
                root: root.clone(),
                props: props.clone().into_boxed_slice(),
                ty,
                collection,
            };
            if collection {
                let is_any = seg_name.eq_ignore_ascii_case("any");
                if (is_any || seg_name.eq_ignore_ascii_case("all"))
                    && matches!(self.peek().tok, Tok::LParen)
                {
                    return self.parse_lambda(sofar, !is_any, &seg).map(Operand::Bool);
                }
                return Err(self.invalid(
                    &seg,
                    format!(
                        "'{p}' is a collection; filter on its elements with a lambda, e.g. {p}/any(x: x/{seg_name} eq ...)",
                        p = sofar.text()
                    ),
                ));
            }
            let PropType::Complex(schema) = ty else {
                return Err(self.invalid(
                    &seg,
                    format!(
                        "'{}' is of type '{}' and has no property '{seg_name}'",
                        sofar.text(),
                        ty.odata_name()
                    ),
                ));
            };
            let prop = self.resolve(schema, seg_name, &seg)?;
            props.push(prop);
            ty = prop.ty;
            collection = prop.collection;
        }
        Ok(Operand::Path(
            Path {
                root,
                props: props.into_boxed_slice(),
                ty,
                collection,
            },
            first,
        ))
    }

    fn resolve(
        &self,
        schema: &'static Schema,
        name: &str,
        t: &Token<'_>,
    ) -> Result<&'static Property, QueryError> {
        schema
            .property(name)
            .ok_or_else(|| QueryError::UnknownProperty {
                option: OPTION,
                position: self.pos(t),
                name: name.to_string(),
                type_name: schema.type_name,
            })
    }

    fn parse_lambda(&mut self, path: Path, all: bool, kw: &Token<'_>) -> Result<Expr, QueryError> {
        let open = self.bump();
        self.enter(&open)?;
        let level = self.vars.len();
        let op = if all { "all" } else { "any" };
        if matches!(self.peek().tok, Tok::RParen) {
            if all {
                return Err(self.syntax(
                    kw,
                    "'all' needs a lambda expression, e.g. tags/all(t: t ne 'x')".into(),
                ));
            }
            self.bump();
            self.leave();
            return Ok(Expr::Lambda {
                all,
                path,
                level,
                body: None,
            });
        }
        let var_tok = self.bump();
        let var = match var_tok.tok {
            Tok::Ident(v)
                if !v.contains('.')
                    && !v.starts_with('$')
                    && !KEYWORDS
                        .iter()
                        .chain(&["true", "false", "null"])
                        .any(|k| k.eq_ignore_ascii_case(v)) =>
            {
                v
            }
            _ => {
                return Err(self.syntax(
                    &var_tok,
                    format!(
                        "expected a lambda variable name after '{op}(', found {}",
                        var_tok.describe()
                    ),
                ));
            }
        };
        if self.is_var(var) {
            return Err(self.invalid(
                &var_tok,
                format!("the lambda variable '{var}' is already in use by an enclosing any/all"),
            ));
        }
        let colon = self.peek().clone();
        if !matches!(colon.tok, Tok::Colon) {
            return Err(self.syntax(
                &colon,
                format!(
                    "expected ':' after the lambda variable '{var}', found {}",
                    colon.describe()
                ),
            ));
        }
        self.bump();
        self.vars.push((var, path.ty));
        let body = self.parse_or()?;
        self.vars.pop();
        self.expect_rparen(&open, &format!(" of '{op}'"))?;
        self.leave();
        Ok(Expr::Lambda {
            all,
            path,
            level,
            body: Some((var.into(), Box::new(body))),
        })
    }

    /// What may follow a path at the start of a primary: a comparison, `in`, or nothing for a
    /// Boolean property.
    fn after_path(&mut self, path: Path, path_tok: &Token<'a>) -> Result<Expr, QueryError> {
        let t = self.peek().clone();
        if let Some(op) = CmpOp::from_token(&t) {
            self.bump();
            self.unquoted_value_hint(&t)?;
            return match self.parse_operand(Some(&t))? {
                Operand::Lit(lit, lit_tok) => self.comparison(path, op, lit, &lit_tok),
                Operand::Path(other, other_tok) => Err(self.invalid(
                    &other_tok,
                    format!(
                        "comparing two properties ('{}' and '{}') is not supported; compare a property with a value",
                        path.text(),
                        other.text()
                    ),
                )),
                Operand::Bool(_) => Err(self.invalid(
                    &t,
                    format!("'{}' cannot be compared with a boolean expression", path.text()),
                )),
            };
        }
        if t.is_kw("in") {
            self.bump();
            return self.in_list(path, &t);
        }
        if !path.collection && matches!(path.ty, PropType::Boolean) {
            return Ok(Expr::Cmp {
                path,
                op: CmpOp::Eq,
                value: Const::Bool(true),
            });
        }
        if path.collection {
            return Err(self.invalid(
                path_tok,
                format!(
                    "'{p}' is a collection; use a lambda, e.g. {p}/any(x: x eq ...)",
                    p = path.text()
                ),
            ));
        }
        Err(self.syntax(
            &t,
            format!(
                "expected a comparison operator (eq, ne, gt, ge, lt, le, in) after '{}', found {}",
                path.text(),
                t.describe()
            ),
        ))
    }

    /// `severity eq high`: a bare word after an operator that names no property, variable or
    /// function is almost always a value missing its quotes; say so instead of "no property".
    fn unquoted_value_hint(&self, op: &Token<'_>) -> Result<(), QueryError> {
        let t = self.peek();
        let Tok::Ident(word) = t.tok else {
            return Ok(());
        };
        let special = ["true", "false", "null", "$it"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(word));
        if special
            || self.is_var(word)
            || self.schema.property(word).is_some()
            || matches!(self.peek2().tok, Tok::LParen | Tok::Slash)
        {
            return Ok(());
        }
        Err(self.syntax(
            t,
            format!(
                "expected a value after '{}', found '{word}', which is not a property; string and enum values must be quoted: '{word}'",
                op.text
            ),
        ))
    }

    fn in_list(&mut self, path: Path, in_tok: &Token<'_>) -> Result<Expr, QueryError> {
        let open = self.peek().clone();
        if !matches!(open.tok, Tok::LParen) {
            return Err(self.syntax(
                &open,
                format!("expected '(' after 'in', found {}", open.describe()),
            ));
        }
        self.bump();
        let mut values = Vec::new();
        loop {
            let after = if values.is_empty() {
                in_tok.clone()
            } else {
                self.toks[self.i - 1].clone()
            };
            let lit_tok = self.peek().clone();
            let lit = match self.parse_operand(Some(&after))? {
                Operand::Lit(lit, _) => lit,
                _ => {
                    return Err(self.invalid(
                        &lit_tok,
                        "the values of an 'in' list must be literals".into(),
                    ));
                }
            };
            if values.len() == MAX_IN_VALUES {
                return Err(self.invalid(
                    &lit_tok,
                    format!("an 'in' list may hold at most {MAX_IN_VALUES} values"),
                ));
            }
            match self.comparison(path.clone(), CmpOp::Eq, lit, &lit_tok)? {
                Expr::Cmp { value, .. } => values.push(value),
                _ => return Err(self.invalid(&lit_tok, "unexpected value in 'in' list".into())),
            }
            let t = self.peek().clone();
            match t.tok {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => {
                    self.bump();
                    break;
                }
                _ => {
                    return Err(self.syntax(
                        &t,
                        format!(
                            "expected ',' or ')' in the 'in' list opened at position {}, found {}",
                            self.pos(&open),
                            t.describe()
                        ),
                    ));
                }
            }
        }
        Ok(Expr::In { path, values })
    }

    /// Types `lit` against `path` for operator `op`.
    fn comparison(
        &self,
        path: Path,
        op: CmpOp,
        lit: Lit,
        lit_tok: &Token<'_>,
    ) -> Result<Expr, QueryError> {
        if path.collection {
            return Err(self.invalid(
                lit_tok,
                format!(
                    "'{p}' is a collection and cannot be compared with a value; use a lambda, e.g. {p}/any(x: ...)",
                    p = path.text()
                ),
            ));
        }
        if matches!(lit, Lit::Null) {
            if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                return Err(self.invalid(
                    lit_tok,
                    format!(
                        "'{}' cannot be used with null; only eq and ne can",
                        op.keyword()
                    ),
                ));
            }
            return Ok(Expr::Cmp {
                path,
                op,
                value: Const::Null,
            });
        }
        let mismatch = |lit: &Lit| {
            self.invalid(
                lit_tok,
                format!(
                    "A binary operator with incompatible types was detected. Found operand types '{}' and '{}' for operator kind '{}'",
                    path.ty.odata_name(),
                    lit.edm(),
                    op.kind()
                ),
            )
        };
        let value = match (path.ty, lit) {
            (PropType::String, Lit::Str(s)) => Const::Str(s.into()),
            (PropType::String, Lit::Guid(g)) => Const::Guid(g.into()),
            (PropType::String, Lit::Typed { type_name, value })
                if type_name.eq_ignore_ascii_case("guid") =>
            {
                Const::Guid(value.into())
            }
            (PropType::Boolean, Lit::Bool(b)) => Const::Bool(b),
            (PropType::Int32 | PropType::Double, Lit::Int(n)) => Const::Int(n),
            (PropType::Int32 | PropType::Double, Lit::Double(f)) => Const::Double(f),
            (PropType::DateTimeOffset, Lit::Time(t)) => Const::Time(t, timestamp_key(&t)),
            (PropType::DateTimeOffset, Lit::Str(s)) => {
                let t = Timestamp::parse(&s).map_err(|_| {
                    self.invalid(
                        lit_tok,
                        format!(
                            "'{s}' is not a valid DateTimeOffset for '{}' (write e.g. 2019-04-01T00:00:00Z, without quotes)",
                            path.text()
                        ),
                    )
                })?;
                Const::Time(t, timestamp_key(&t))
            }
            (PropType::DateTimeOffset, Lit::Typed { type_name, value })
                if type_name.eq_ignore_ascii_case("datetimeoffset")
                    || type_name.eq_ignore_ascii_case("datetime") =>
            {
                let t = Timestamp::parse(&value).map_err(|_| {
                    self.invalid(lit_tok, format!("'{value}' is not a valid DateTimeOffset"))
                })?;
                Const::Time(t, timestamp_key(&t))
            }
            (PropType::Enum(e), Lit::Str(s)) => self.enum_const(e, &s, lit_tok)?,
            (PropType::Enum(e), Lit::Typed { type_name, value })
                if type_name.eq_ignore_ascii_case(e.name)
                    || type_name.eq_ignore_ascii_case(e.short_name()) =>
            {
                self.enum_const(e, &value, lit_tok)?
            }
            (PropType::Complex(s), _) => {
                return Err(self.invalid(
                    lit_tok,
                    format!(
                        "'{}' is of complex type '{}' and can only be compared with null; compare one of its properties instead, e.g. {}/{}",
                        path.text(),
                        s.type_name,
                        path.text(),
                        s.properties.first().map_or("name", |p| p.name)
                    ),
                ));
            }
            (_, lit) => return Err(mismatch(&lit)),
        };
        if matches!(value, Const::Bool(_)) && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            return Err(self.invalid(
                lit_tok,
                format!("'{}' cannot be applied to Edm.Boolean values", op.keyword()),
            ));
        }
        Ok(Expr::Cmp { path, op, value })
    }

    fn enum_const(
        &self,
        e: &'static EnumType,
        s: &str,
        lit_tok: &Token<'_>,
    ) -> Result<Const, QueryError> {
        match e.lookup(s) {
            Some((index, wire)) => Ok(Const::Enum { ty: e, index, wire }),
            None => Err(self.invalid(
                lit_tok,
                format!(
                    "'{s}' is not a member of the enumeration '{}' (members: {})",
                    e.name,
                    e.members().join(", ")
                ),
            )),
        }
    }
}

fn type_text(path: &Path) -> String {
    if path.collection {
        format!("Collection({})", path.ty.odata_name())
    } else {
        path.ty.odata_name().to_string()
    }
}

/// Appends `e` to an n-ary list, merging a nested node of the same kind.
fn push_flat(terms: &mut Vec<Expr>, e: Expr, or: bool) {
    match e {
        Expr::Or(inner) if or => terms.extend(inner),
        Expr::And(inner) if !or => terms.extend(inner),
        other => terms.push(other),
    }
}

fn single_or(mut terms: Vec<Expr>, make: fn(Vec<Expr>) -> Expr) -> Expr {
    if terms.len() == 1
        && let Some(e) = terms.pop()
    {
        return e;
    }
    make(terms)
}

// ---- evaluation ----------------------------------------------------------------------------

/// The lambda variables bound while evaluating, innermost first (a stack-allocated list).
struct Frame<'v, 'p> {
    value: &'v Value,
    level: usize,
    parent: Option<&'p Frame<'v, 'p>>,
}

struct Env<'v, 'p> {
    it: &'v Value,
    vars: Option<&'p Frame<'v, 'p>>,
}

impl<'v> Env<'v, '_> {
    fn resolve(&self, path: &Path) -> Option<&'v Value> {
        let mut v = match &path.root {
            Root::It => self.it,
            Root::Var { level, .. } => {
                let mut f = self.vars;
                loop {
                    let frame = f?;
                    if frame.level == *level {
                        break frame.value;
                    }
                    f = frame.parent;
                }
            }
        };
        for p in path.props.iter() {
            v = v.get(p.name)?;
        }
        if v.is_null() { None } else { Some(v) }
    }
}

fn eval(e: &Expr, env: &Env<'_, '_>) -> bool {
    match e {
        Expr::And(terms) => terms.iter().all(|t| eval(t, env)),
        Expr::Or(terms) => terms.iter().any(|t| eval(t, env)),
        Expr::Not(inner) => !eval(inner, env),
        Expr::Cmp { path, op, value } => compare(env.resolve(path), *op, value),
        Expr::In { path, values } => {
            let v = env.resolve(path);
            values.iter().any(|c| compare(v, CmpOp::Eq, c))
        }
        Expr::Func { func, path, arg } => match env.resolve(path).and_then(Value::as_str) {
            Some(s) => match func {
                StrFunc::StartsWith => s.starts_with(&**arg),
                StrFunc::EndsWith => s.ends_with(&**arg),
                StrFunc::Contains => s.contains(&**arg),
            },
            None => false,
        },
        Expr::Lambda {
            all,
            path,
            level,
            body,
        } => {
            let Some(items) = env.resolve(path).and_then(Value::as_array) else {
                return *all;
            };
            let Some((_, body)) = body else {
                return !items.is_empty();
            };
            let test = |item: &Value| {
                let frame = Frame {
                    value: item,
                    level: *level,
                    parent: env.vars,
                };
                eval(
                    body,
                    &Env {
                        it: env.it,
                        vars: Some(&frame),
                    },
                )
            };
            if *all {
                items.iter().all(test)
            } else {
                items.iter().any(test)
            }
        }
    }
}

/// `stored op c`, two-valued: anything involving null or an undecodable value is false,
/// except `ne`.
fn compare(stored: Option<&Value>, op: CmpOp, c: &Const) -> bool {
    let Some(v) = stored else {
        return match c {
            Const::Null => op == CmpOp::Eq,
            _ => op == CmpOp::Ne,
        };
    };
    let ord = match c {
        Const::Null => return op == CmpOp::Ne,
        Const::Str(s) => v.as_str().map(|x| x.cmp(s)),
        Const::Guid(g) => v.as_str().map(|x| cmp_ignore_case(x, g)),
        Const::Enum { ty, index, wire } => v.as_str().and_then(|x| {
            if x.eq_ignore_ascii_case(wire) {
                Some(Ordering::Equal)
            } else if matches!(op, CmpOp::Eq | CmpOp::Ne) {
                Some(Ordering::Less) // any "not equal" answer will do
            } else {
                ty.lookup(x).map(|(i, _)| i.cmp(index))
            }
        }),
        Const::Int(n) => match v.as_i64() {
            Some(x) => Some(x.cmp(n)),
            None => v.as_f64().and_then(|x| x.partial_cmp(&(*n as f64))),
        },
        Const::Double(f) => v.as_f64().and_then(|x| x.partial_cmp(f)),
        Const::Bool(b) => v.as_bool().map(|x| x.cmp(b)),
        Const::Time(_, key) => v.as_str().and_then(time_key).map(|k| k.cmp(key)),
    };
    match ord {
        Some(o) => op.holds(o),
        None => op == CmpOp::Ne,
    }
}

// ---- printing ------------------------------------------------------------------------------

fn write_expr(e: &Expr, out: &mut String) {
    match e {
        Expr::And(terms) => {
            for (i, t) in terms.iter().enumerate() {
                if i > 0 {
                    out.push_str(" and ");
                }
                if matches!(t, Expr::Or(_)) {
                    out.push('(');
                    write_expr(t, out);
                    out.push(')');
                } else {
                    write_expr(t, out);
                }
            }
        }
        Expr::Or(terms) => {
            for (i, t) in terms.iter().enumerate() {
                if i > 0 {
                    out.push_str(" or ");
                }
                write_expr(t, out);
            }
        }
        Expr::Not(inner) => {
            out.push_str("not (");
            write_expr(inner, out);
            out.push(')');
        }
        Expr::Cmp { path, op, value } => {
            path.write(out);
            out.push(' ');
            out.push_str(op.keyword());
            out.push(' ');
            value.write(out);
        }
        Expr::In { path, values } => {
            path.write(out);
            out.push_str(" in (");
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                v.write(out);
            }
            out.push(')');
        }
        Expr::Func { func, path, arg } => {
            out.push_str(func.name());
            out.push('(');
            path.write(out);
            out.push(',');
            write_string(out, arg);
            out.push(')');
        }
        Expr::Lambda {
            all, path, body, ..
        } => {
            path.write(out);
            out.push_str(if *all { "/all(" } else { "/any(" });
            if let Some((var, body)) = body {
                out.push_str(var);
                out.push(':');
                write_expr(body, out);
            }
            out.push(')');
        }
    }
}

impl Filter {
    /// Whether `item` (a resource serialized by vigil-model) satisfies the filter.
    pub fn matches(&self, item: &Value) -> bool {
        eval(
            &self.expr,
            &Env {
                it: item,
                vars: None,
            },
        )
    }

    /// The canonical text: canonical property names, lower-case keywords, enum members in their
    /// wire spelling, timestamps in Graph's wire form. Equal filters print equally (useful as a
    /// cache key), and the text parses back to the same filter (it is what we push to Graph).
    pub fn to_odata(&self) -> String {
        let mut out = String::new();
        write_expr(&self.expr, &mut out);
        out
    }

    /// The schema the filter was checked against.
    pub fn schema(&self) -> &'static Schema {
        self.schema
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_odata())
    }
}
