//! JSON text to the spanned tree. serde_json checks the syntax first (its errors carry a
//! position); a small parser then walks the known-valid text to record where each value is.

use super::error::{quoted, Bad, Res};
use super::tree::{Entry, Node, Table, Value};

pub(crate) fn parse(text: &str) -> Res<Node> {
    if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
        return Err(syntax_error(text, &e));
    }
    let mut parser = Parser { text, pos: 0 };
    parser.skip_ws();
    parser.value()
}

fn syntax_error(text: &str, e: &serde_json::Error) -> Bad {
    let message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let reason = message.strip_suffix(&suffix).unwrap_or(&message);
    // serde_json counts the column in bytes, 1-based at the offending byte (0 at a line's end).
    let line_start: usize = text
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum();
    Bad::at(
        line_start + e.column().saturating_sub(1),
        format!("JSON syntax error: {reason}"),
    )
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn bad(&self, reason: &str) -> Bad {
        Bad::at(self.pos, format!("JSON syntax error: {reason}"))
    }

    /// Consumes `byte` (after whitespace) or fails.
    fn consume(&mut self, byte: u8) -> Res<()> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.bad(&format!("expected '{}'", byte as char)))
        }
    }

    fn value(&mut self) -> Res<Node> {
        self.skip_ws();
        let start = self.pos;
        let value = match self.peek() {
            Some(b'{') => Value::Table(self.object()?),
            Some(b'[') => Value::Array(self.array()?),
            Some(b'"') => Value::Str(self.string()?),
            Some(b't') => self.literal("true", Value::Bool(true))?,
            Some(b'f') => self.literal("false", Value::Bool(false))?,
            Some(b'n') => self.literal("null", Value::Null)?,
            Some(_) => self.number()?,
            None => return Err(self.bad("unexpected end of text")),
        };
        Ok(Node {
            span: start..self.pos,
            value,
        })
    }

    fn literal(&mut self, word: &str, value: Value) -> Res<Value> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.bad(&format!("expected {word}")))
        }
    }

    fn object(&mut self) -> Res<Table> {
        self.pos += 1;
        let mut entries: Vec<Entry> = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Table::new(entries));
        }
        loop {
            self.skip_ws();
            let key_start = self.pos;
            if self.peek() != Some(b'"') {
                return Err(self.bad("expected a key"));
            }
            let key = self.string()?;
            if entries.iter().any(|e| e.key == key) {
                return Err(Bad::at(
                    key_start,
                    format!("duplicate key {}", quoted(&key)),
                ));
            }
            let key_span = key_start..self.pos;
            self.consume(b':')?;
            let value = self.value()?;
            entries.push(Entry {
                key,
                key_span,
                value,
            });
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                _ => {
                    self.consume(b'}')?;
                    return Ok(Table::new(entries));
                }
            }
        }
    }

    fn array(&mut self) -> Res<Vec<Node>> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                _ => {
                    self.consume(b']')?;
                    return Ok(items);
                }
            }
        }
    }

    fn string(&mut self) -> Res<String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let Some(stop) = rest.find(['"', '\\']) else {
                return Err(self.bad("unterminated string"));
            };
            out.push_str(&rest[..stop]);
            self.pos += stop + 1;
            if rest.as_bytes()[stop] == b'"' {
                return Ok(out);
            }
            let escape = self.peek().ok_or_else(|| self.bad("unterminated string"))?;
            self.pos += 1;
            out.push(match escape {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => self.unicode_escape()?,
                _ => return Err(self.bad("bad escape")),
            });
        }
    }

    /// The character of a `\u` escape whose `\u` is consumed, joining a surrogate pair.
    fn unicode_escape(&mut self) -> Res<char> {
        let high = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&high) {
            if !self.text[self.pos..].starts_with("\\u") {
                return Err(self.bad("lone surrogate"));
            }
            self.pos += 2;
            let low = self.hex4()?;
            0x10000 + ((high - 0xD800) << 10) + low.wrapping_sub(0xDC00)
        } else {
            high
        };
        char::from_u32(code).ok_or_else(|| self.bad("bad unicode escape"))
    }

    fn hex4(&mut self) -> Res<u32> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.bad("bad unicode escape"))?;
        self.pos += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.bad("bad unicode escape"))
    }

    fn number(&mut self) -> Res<Value> {
        let start = self.pos;
        while matches!(
            self.peek(),
            Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        ) {
            self.pos += 1;
        }
        let text = &self.text[start..self.pos];
        if text.contains(['.', 'e', 'E']) {
            let f = text
                .parse()
                .map_err(|_| Bad::at(start, format!("bad number {text}")))?;
            Ok(Value::Float(f))
        } else {
            let i = text
                .parse()
                .map_err(|_| Bad::at(start, format!("integer {text} is out of range")))?;
            Ok(Value::Int(i))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_unescape_and_spans_cover_values() {
        let text = r#"{"a": "x\u00e9\ud83d\ude00\n\"", "n": [1, -2.5e1, null]}"#;
        let node = parse(text).unwrap();
        let Value::Table(t) = node.value else {
            panic!("not a table")
        };
        let a = t.get("a").unwrap();
        assert!(matches!(&a.value.value, Value::Str(s) if s == "xé😀\n\""));
        assert_eq!(&text[a.key_span.clone()], "\"a\"");
        assert_eq!(&text[a.value.span.clone()], r#""x\u00e9\ud83d\ude00\n\"""#);
        let n = t.get("n").unwrap();
        assert_eq!(&text[n.value.span.clone()], "[1, -2.5e1, null]");
        assert_eq!(n.value.value.to_json(), serde_json::json!([1, -25.0, null]));
    }

    #[test]
    fn integers_beyond_i64_are_rejected_at_their_position() {
        let bad = parse("{\"n\": 99999999999999999999}").unwrap_err();
        assert_eq!(bad.at, Some(6));
        assert!(bad.reason.contains("out of range"), "{}", bad.reason);
    }
}
