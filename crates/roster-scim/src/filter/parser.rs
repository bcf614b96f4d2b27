//! Recursive-descent parser for filters and PATCH paths. See the grammar in the module above.

use serde_json::Number;

use super::{AttrPath, CompValue, CompareOp, Filter, ParseOptions};
use crate::error::{ScimError, ScimType};
use crate::tolerance::{Tolerance, Tolerances};

pub(crate) struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
    opts: ParseOptions,
    kind: ScimType,
    in_value_filter: bool,
    pub(crate) tolerances: Tolerances,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '$'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '$'
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if is_name_start(c)) && chars.all(is_name_char)
}

/// Splits an attribute-path token (`urn:…:User:name.givenName`) into an [`AttrPath`].
pub(crate) fn attr_path_from_token(token: &str) -> Result<AttrPath, String> {
    if token.is_empty() {
        return Err("expected an attribute path".into());
    }
    let (urn, rest) = match token.rfind(':') {
        Some(i) => {
            let urn = &token[..i];
            if urn.is_empty() || urn.chars().any(|c| c.is_whitespace()) {
                return Err(format!("invalid schema URN in attribute path `{token}`"));
            }
            (Some(urn.to_owned()), &token[i + 1..])
        }
        None => (None, token),
    };
    let mut parts = rest.split('.');
    let attr = parts.next().unwrap_or("");
    let sub = parts.next();
    if parts.next().is_some() {
        return Err(format!(
            "attribute path `{token}` has more than one sub-attribute"
        ));
    }
    if !valid_name(attr) {
        return Err(format!("invalid attribute name `{attr}` in `{token}`"));
    }
    if let Some(s) = sub
        && !valid_name(s)
    {
        return Err(format!("invalid sub-attribute name `{s}` in `{token}`"));
    }
    Ok(AttrPath {
        urn,
        attr: attr.to_owned(),
        sub: sub.map(str::to_owned),
    })
}

impl<'a> Parser<'a> {
    pub(crate) fn new(
        src: &'a str,
        opts: &ParseOptions,
        kind: ScimType,
    ) -> Result<Parser<'a>, ScimError> {
        let len = src.chars().count();
        if len > opts.max_length {
            let detail = format!(
                "{} is {len} characters long; the limit is {}",
                what(&kind),
                opts.max_length
            );
            return Err(ScimError::typed(kind, detail));
        }
        Ok(Parser {
            src,
            pos: 0,
            depth: 0,
            opts: *opts,
            kind,
            in_value_filter: false,
            tolerances: Tolerances::new(),
        })
    }

    fn err_at(&self, pos: usize, msg: impl AsRef<str>) -> ScimError {
        let col = self.src[..pos.min(self.src.len())].chars().count() + 1;
        let rest: String = self.src[pos.min(self.src.len())..]
            .chars()
            .take(20)
            .collect();
        let near = if rest.is_empty() {
            "at end of input".to_owned()
        } else {
            format!("near `{rest}`")
        };
        ScimError::typed(
            self.kind.clone(),
            format!(
                "{} at character {col} ({near}): {}",
                invalid(&self.kind),
                msg.as_ref()
            ),
        )
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
        self.pos > start
    }

    /// The ASCII-alphabetic word at the current position (not consumed).
    fn peek_word(&self) -> &'a str {
        let rest = &self.src[self.pos..];
        let end = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        &rest[..end]
    }

    /// If the next word is `kw` (any case) followed by a delimiter, consume it.
    fn eat_keyword(&mut self, kw: &str) -> bool {
        let w = self.peek_word();
        if !w.eq_ignore_ascii_case(kw) {
            return false;
        }
        let after = self.src[self.pos + w.len()..].chars().next();
        let delimited = match after {
            None => true,
            Some(c) => c.is_whitespace() || matches!(c, '(' | ')' | ']' | '"'),
        };
        if delimited {
            self.pos += w.len();
        }
        delimited
    }

    fn enter(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > self.opts.max_depth {
            return Err(self.err_at(
                self.pos,
                format!("nesting deeper than {} levels", self.opts.max_depth),
            ));
        }
        Ok(())
    }

    pub(crate) fn parse_filter_to_end(&mut self) -> Result<Filter, ScimError> {
        self.skip_ws();
        if self.pos >= self.src.len() {
            return Err(self.err_at(self.pos, "the filter is empty"));
        }
        let f = self.parse_or()?;
        self.skip_ws();
        if self.pos < self.src.len() {
            let msg = match self.peek() {
                Some(')') => "unbalanced `)`".to_owned(),
                Some(']') => "unbalanced `]`".to_owned(),
                _ => "expected `and`, `or` or the end of the filter".to_owned(),
            };
            return Err(self.err_at(self.pos, msg));
        }
        Ok(f)
    }

    fn parse_or(&mut self) -> Result<Filter, ScimError> {
        self.parse_chain("or", Self::parse_and, Filter::Or)
    }

    fn parse_and(&mut self) -> Result<Filter, ScimError> {
        self.parse_chain("and", Self::parse_unary, Filter::And)
    }

    /// `operand *(SP keyword SP operand)`: one operand stands alone, more are joined by `join`.
    fn parse_chain(
        &mut self,
        keyword: &str,
        operand: fn(&mut Self) -> Result<Filter, ScimError>,
        join: fn(Vec<Filter>) -> Filter,
    ) -> Result<Filter, ScimError> {
        let mut items = vec![operand(self)?];
        loop {
            let save = self.pos;
            if !self.skip_ws() {
                break;
            }
            if self.eat_keyword(keyword) {
                items.push(operand(self)?);
            } else {
                self.pos = save;
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            join(items)
        })
    }

    fn parse_group(&mut self) -> Result<Filter, ScimError> {
        // at '('
        let open = self.pos;
        self.bump();
        self.enter()?;
        self.skip_ws();
        let inner = self.parse_or()?;
        self.skip_ws();
        if self.peek() != Some(')') {
            let here = self.pos;
            return Err(if self.pos >= self.src.len() {
                self.err_at(open, "`(` is never closed")
            } else {
                self.err_at(here, "expected `)`, `and` or `or`")
            });
        }
        self.bump();
        self.depth -= 1;
        Ok(inner)
    }

    fn parse_unary(&mut self) -> Result<Filter, ScimError> {
        self.skip_ws();
        match self.peek() {
            None => return Err(self.err_at(self.pos, "expected an attribute path, `not` or `(`")),
            Some('(') => return self.parse_group(),
            _ => {}
        }
        let save = self.pos;
        if self.eat_keyword("not") {
            self.skip_ws();
            if self.peek() == Some('(') {
                self.enter()?;
                let inner = self.parse_group()?;
                self.depth -= 1;
                return Ok(Filter::Not(Box::new(inner)));
            }
            // `not` followed by something else: an attribute called "not" (`not pr`), or an error.
            let after = self.pos;
            self.pos = save;
            let tok = self.peek_path_token();
            if tok.eq_ignore_ascii_case("not")
                && let Ok(f) = self.parse_attr_expr()
            {
                return Ok(f);
            }
            return Err(self.err_at(
                after,
                "`not` must be followed by a parenthesised filter: not (…)",
            ));
        }
        self.parse_attr_expr()
    }

    fn peek_path_token(&self) -> &'a str {
        let rest = &self.src[self.pos..];
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"'))
            .unwrap_or(rest.len());
        &rest[..end]
    }

    fn parse_attr_path(&mut self) -> Result<AttrPath, ScimError> {
        let start = self.pos;
        let tok = self.peek_path_token();
        if tok.is_empty() {
            let msg = match self.peek() {
                Some(')') => "unexpected `)`: expected an attribute path",
                Some(']') => "unexpected `]`: expected an attribute path",
                Some('"') => "unexpected string: expected an attribute path",
                Some('[') => "`[` must follow an attribute name",
                _ => "expected an attribute path",
            };
            return Err(self.err_at(start, msg));
        }
        let path = attr_path_from_token(tok).map_err(|m| self.err_at(start, m))?;
        self.pos += tok.len();
        Ok(path)
    }

    fn parse_attr_expr(&mut self) -> Result<Filter, ScimError> {
        let path_pos = self.pos;
        let path = self.parse_attr_path()?;
        if self.peek() == Some('[') {
            return self.parse_value_path(path, path_pos);
        }
        self.parse_operator_tail(path)
    }

    /// After an attribute path: `pr`, or an operator and a value.
    fn parse_operator_tail(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        if !self.skip_ws() {
            return Err(self.err_at(
                self.pos,
                format!("expected a space and an operator after `{path}`"),
            ));
        }
        let op_pos = self.pos;
        let word = self.peek_word();
        if word.eq_ignore_ascii_case("pr") && self.eat_keyword("pr") {
            return Ok(Filter::Present { path });
        }
        let op = match CompareOp::from_keyword(word) {
            Some(op) if self.eat_keyword(word) => op,
            _ => {
                return Err(self.err_at(
                    op_pos,
                    format!("expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after `{path}`"),
                ));
            }
        };
        if !self.skip_ws() {
            return Err(self.err_at(self.pos, format!("expected a value after `{op}`")));
        }
        let value = self.parse_value()?;
        Ok(Filter::Compare { path, op, value })
    }

    fn parse_value_path(&mut self, path: AttrPath, path_pos: usize) -> Result<Filter, ScimError> {
        if self.in_value_filter {
            return Err(self.err_at(self.pos, "value filters cannot be nested"));
        }
        if path.sub.is_some() {
            return Err(self.err_at(
                path_pos,
                format!("`[` must follow an attribute, not the sub-attribute `{path}`"),
            ));
        }
        let inner = self.parse_bracket()?;
        if self.peek() == Some('.') {
            let dot = self.pos;
            if !self.opts.allow_sub_attribute_after_value_filter {
                return Err(self.err_at(
                    dot,
                    "a sub-attribute cannot follow a value filter in a filter expression",
                ));
            }
            self.bump();
            let sub_pos = self.pos;
            let sub = self.parse_attr_path()?;
            if sub.urn.is_some() || sub.sub.is_some() {
                return Err(self.err_at(sub_pos, "expected a sub-attribute name after `].`"));
            }
            let cmp = self.parse_operator_tail(sub)?;
            self.tolerances.add(Tolerance::SubAttributeAfterValueFilter);
            let filter = match inner {
                Filter::And(mut items) => {
                    items.push(cmp);
                    Filter::And(items)
                }
                other => Filter::And(vec![other, cmp]),
            };
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(filter),
            });
        }
        Ok(Filter::ValuePath {
            path,
            filter: Box::new(inner),
        })
    }

    /// Parses `[ valFilter ]` at the current `[`.
    fn parse_bracket(&mut self) -> Result<Filter, ScimError> {
        let open = self.pos;
        self.bump();
        self.enter()?;
        self.in_value_filter = true;
        self.skip_ws();
        let inner = self.parse_or()?;
        self.skip_ws();
        if self.peek() != Some(']') {
            return Err(if self.pos >= self.src.len() {
                self.err_at(open, "`[` is never closed")
            } else {
                self.err_at(self.pos, "expected `]`, `and` or `or`")
            });
        }
        self.bump();
        self.in_value_filter = false;
        self.depth -= 1;
        Ok(inner)
    }

    fn parse_value(&mut self) -> Result<CompValue, ScimError> {
        let start = self.pos;
        if self.peek() == Some('"') {
            let s = self.parse_string()?;
            return Ok(CompValue::String(s));
        }
        let rest = &self.src[self.pos..];
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']'))
            .unwrap_or(rest.len());
        let tok = &rest[..end];
        if tok.is_empty() {
            return Err(self.err_at(
                start,
                "expected a value (a quoted string, number, true, false or null)",
            ));
        }
        let value = if tok.eq_ignore_ascii_case("true") {
            CompValue::Bool(true)
        } else if tok.eq_ignore_ascii_case("false") {
            CompValue::Bool(false)
        } else if tok.eq_ignore_ascii_case("null") {
            CompValue::Null
        } else if let Some(n) = parse_number(tok) {
            CompValue::Number(n)
        } else if self.opts.allow_unquoted_values && !tok.contains('"') {
            self.tolerances.add(Tolerance::UnquotedFilterValue);
            CompValue::String(tok.to_owned())
        } else {
            return Err(self.err_at(start, format!("string values must be quoted: \"{tok}\"")));
        };
        self.pos += tok.len();
        Ok(value)
    }

    fn parse_string(&mut self) -> Result<String, ScimError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut i = self.pos + 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => {
                    let lit = &self.src[start..=i];
                    return match serde_json::from_str::<String>(lit) {
                        Ok(s) => {
                            self.pos = i + 1;
                            Ok(s)
                        }
                        Err(e) => Err(self.err_at(start, format!("invalid string literal: {e}"))),
                    };
                }
                _ => i += 1,
            }
        }
        Err(self.err_at(start, "unterminated string: a `\"` is missing"))
    }

    /// PATCH path: `attrPath [ "[" valFilter "]" [ "." subAttr ] ]`, to the end of input.
    pub(crate) fn parse_patch_path(
        &mut self,
    ) -> Result<(AttrPath, Option<Filter>, Option<String>), ScimError> {
        self.skip_ws();
        let path_pos = self.pos;
        let path = self.parse_attr_path()?;
        let mut filter = None;
        let mut sub = None;
        if self.peek() == Some('[') {
            if path.sub.is_some() {
                return Err(self.err_at(
                    path_pos,
                    format!("`[` must follow an attribute, not the sub-attribute `{path}`"),
                ));
            }
            let saved = std::mem::replace(&mut self.kind, ScimType::InvalidFilter);
            let inner = self.parse_bracket();
            self.kind = saved;
            filter = Some(inner?);
            if self.peek() == Some('.') {
                self.bump();
                let sub_pos = self.pos;
                let s = self.parse_attr_path()?;
                if s.urn.is_some() || s.sub.is_some() {
                    return Err(self.err_at(sub_pos, "expected a sub-attribute name after `].`"));
                }
                sub = Some(s.attr);
            }
        }
        self.skip_ws();
        if self.pos < self.src.len() {
            return Err(self.err_at(self.pos, "unexpected text after the path"));
        }
        Ok((path, filter, sub))
    }
}

fn parse_number(tok: &str) -> Option<Number> {
    let first = tok.chars().next()?;
    if !(first == '-' || first.is_ascii_digit()) {
        return None;
    }
    let n = serde_json::from_str::<Number>(tok).ok()?;
    if n.is_f64() {
        // std's parser rounds correctly; serde_json's default one may be off by one ulp.
        return tok.parse::<f64>().ok().and_then(Number::from_f64);
    }
    Some(n)
}

fn what(kind: &ScimType) -> &'static str {
    match kind {
        ScimType::InvalidPath => "the path",
        _ => "the filter",
    }
}

fn invalid(kind: &ScimType) -> &'static str {
    match kind {
        ScimType::InvalidPath => "invalid path",
        _ => "invalid filter",
    }
}
