//! A strict JSON checker for register values that arrive as bytes.
//!
//! Register values travel as JSON text (`JSON.stringify` in the browser). Text
//! from a peer is checked before it is accepted, so `get` can never meet
//! something `JSON.parse` rejects. Nesting is bounded to keep the check (and
//! the parse on the JS side) safe on hostile input.

use crate::prelude::*;
use crate::text::push_hex;

/// Why text is not acceptable JSON.
#[derive(Debug, PartialEq, Eq)]
pub enum JsonError {
    Syntax { what: &'static str, at: usize },
    TooDeep,
}

/// Checks that `text` is exactly one JSON value, nested at most `max_depth` deep.
pub fn validate(text: &str, max_depth: usize) -> Result<(), JsonError> {
    let mut p = Parser { s: text.as_bytes(), i: 0, max_depth };
    p.ws();
    p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(JsonError::Syntax { what: "unexpected text", at: p.i });
    }
    Ok(())
}

/// Writes `s` as a JSON string literal (quotes and escapes included).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub fn quote(s: &str, out: &mut String) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u");
                push_hex(out, c as u32, 4);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    max_depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &'static str) -> Result<T, JsonError> {
        Err(JsonError::Syntax { what, at: self.i })
    }

    fn value(&mut self, depth: usize) -> Result<(), JsonError> {
        match self.peek() {
            Some(b'{') | Some(b'[') if depth >= self.max_depth => Err(JsonError::TooDeep),
            Some(b'{') => self.container(depth, b'}', true),
            Some(b'[') => self.container(depth, b']', false),
            Some(b'"') => self.string(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.err("unexpected character"),
            None => self.err("unexpected end"),
        }
    }

    fn container(&mut self, depth: usize, close: u8, object: bool) -> Result<(), JsonError> {
        self.i += 1;
        self.ws();
        if self.peek() == Some(close) {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if object {
                if self.peek() != Some(b'"') {
                    return self.err("expected a string key");
                }
                self.string()?;
                self.ws();
                if self.peek() != Some(b':') {
                    return self.err("expected ':'");
                }
                self.i += 1;
                self.ws();
            }
            self.value(depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return self.err("expected ',' or a closing bracket"),
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        if self.s.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            self.err("invalid literal")
        }
    }

    /// How many of the bytes from `self.i` on `ok` accepts, in a row.
    fn run(&self, ok: impl Fn(u8) -> bool) -> usize {
        self.s.get(self.i..).map_or(0, |rest| rest.iter().take_while(|&&c| ok(c)).count())
    }

    fn digits(&mut self) -> usize {
        let n = self.run(|c| c.is_ascii_digit());
        self.i += n;
        n
    }

    fn number(&mut self) -> Result<(), JsonError> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.err("invalid number"),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return self.err("invalid number");
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return self.err("invalid number");
            }
        }
        Ok(())
    }

    /// Reads `uXXXX` (the `u` is at `self.i`) and returns the code unit.
    fn hex4(&mut self) -> Result<u32, JsonError> {
        let hex = self.s.get(self.i + 1..self.i + 5).filter(|h| h.iter().all(u8::is_ascii_hexdigit));
        let Some(hex) = hex else {
            return self.err("invalid \\u escape");
        };
        let unit = hex.iter().fold(0, |acc, &c| acc * 16 + (c as char).to_digit(16).unwrap_or(0));
        self.i += 5;
        Ok(unit)
    }

    fn string(&mut self) -> Result<(), JsonError> {
        self.i += 1;
        loop {
            match self.peek() {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            let unit = self.hex4()?;
                            // JSON.parse would make a lone surrogate of these, which
                            // no JavaScript string set() accepts can hold.
                            if (0xdc00..0xe000).contains(&unit) {
                                return self.err("lone surrogate in a \\u escape");
                            }
                            if (0xd800..0xdc00).contains(&unit) {
                                let low = (self.peek() == Some(b'\\') && self.s.get(self.i + 1) == Some(&b'u'))
                                    .then(|| {
                                        self.i += 1;
                                        self.hex4()
                                    })
                                    .transpose()?;
                                if !low.is_some_and(|l| (0xdc00..0xe000).contains(&l)) {
                                    return self.err("lone surrogate in a \\u escape");
                                }
                            }
                        }
                        _ => return self.err("invalid escape"),
                    }
                }
                Some(c) if c < 0x20 => return self.err("control character in string"),
                // The run of plain characters this one starts.
                Some(_) => self.i += self.run(|c| c >= 0x20 && c != b'"' && c != b'\\'),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn quoted_strings_are_valid_json() {
        let mut out = String::new();
        super::quote("a\"b\\c\n\u{1}é", &mut out);
        assert_eq!(out, "\"a\\\"b\\\\c\\n\\u0001é\"");
        assert_eq!(validate(&out, 1), Ok(()));
    }

    #[test]
    fn accepts_what_json_stringify_writes() {
        for ok in ["null", "true", "0", "-1.5e+3", "\"a\\u00e9\\n\"", "[]", "{}", "{\"a\":[1,{\"b\":null}]}", " [1, 2] ", "\"\\ud83d\\udc4d\""] {
            assert_eq!(validate(ok, 8), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_malformed_text_and_deep_nesting() {
        for bad in ["", "01", "1.", "[1,]", "{\"a\"}", "\"\\x\"", "tru", "[1] 2", "\"\u{1}\"", "NaN", "{1:2}", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud800x\""] {
            assert!(validate(bad, 8).is_err(), "{bad}");
        }
        assert!(validate(&"[".repeat(9).to_string().chars().chain("]".repeat(9).chars()).collect::<String>(), 8).is_err());
        assert!(validate(&format!("{}{}", "[".repeat(8), "]".repeat(8)), 8).is_ok());
    }
}
