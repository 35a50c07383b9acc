//! Messages and JSON numbers built without `core::fmt`.
//!
//! `format!` and `to_string` bring in core's formatting machinery (argument
//! interpretation, padding, every integer's `Display`): about 5 KB of the
//! wasm module, for messages that are only ever text and whole numbers. Here
//! a message is its pieces in order: `cat!["at most ", limit, " bytes"]`.

use crate::prelude::*;

/// A part of a message: text, or a whole number written in decimal.
pub trait Piece {
    fn push_to(&self, out: &mut String);
}

impl Piece for str {
    fn push_to(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl<T: Piece + ?Sized> Piece for &T {
    fn push_to(&self, out: &mut String) {
        (**self).push_to(out);
    }
}

impl Piece for String {
    fn push_to(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Piece for alloc::rc::Rc<str> {
    fn push_to(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Piece for u64 {
    fn push_to(&self, out: &mut String) {
        push_u64(out, *self);
    }
}

impl Piece for usize {
    fn push_to(&self, out: &mut String) {
        push_u64(out, *self as u64);
    }
}

impl Piece for u32 {
    fn push_to(&self, out: &mut String) {
        push_u64(out, u64::from(*self));
    }
}

impl Piece for u8 {
    fn push_to(&self, out: &mut String) {
        push_u64(out, u64::from(*self));
    }
}

impl Piece for i64 {
    fn push_to(&self, out: &mut String) {
        push_i64(out, *self);
    }
}

/// The pieces, one after the other, as a `String`.
macro_rules! cat {
    ($($piece:expr),* $(,)?) => {{
        let mut out = $crate::prelude::String::new();
        $($crate::text::Piece::push_to(&$piece, &mut out);)*
        out
    }};
}
pub(crate) use cat;

/// Appends `n` in decimal.
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    for &d in digits.get(at..).unwrap_or_default() {
        out.push(char::from(d));
    }
}

/// Appends `n` in decimal, with a `-` if negative.
pub fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

/// Appends the low `digits` hex digits of `n`, lowercase, zero-padded.
pub fn push_hex(out: &mut String, n: u32, digits: u32) {
    for i in (0..digits).rev() {
        let d = (n >> (4 * i)) & 0xf;
        out.push(char::from_digit(d, 16).unwrap_or('0'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn numbers_read_as_display_writes_them(u in any::<u64>(), i in any::<i64>(), h in any::<u32>()) {
            prop_assert_eq!(cat![u], u.to_string());
            prop_assert_eq!(cat![i], i.to_string());
            let mut hex = String::new();
            push_hex(&mut hex, h, 8);
            prop_assert_eq!(hex, format!("{h:08x}"));
        }
    }

    #[test]
    fn pieces_join_in_order() {
        let key: alloc::rc::Rc<str> = "k".into();
        assert_eq!(cat!["a ", 0u8, " b ", String::from("c"), key, -5i64, usize::MAX], "a 0 b ck-518446744073709551615");
    }
}
