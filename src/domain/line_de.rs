//! A fast reader for the one RON form warroom writes: the compact output of `ron::to_string`
//! (no whitespace, no comments, no struct names, no trailing commas, strings escaped with
//! `char::escape_debug`). It is a generic serde [`Deserializer`](serde::Deserializer), so it reads
//! every record kind through the same derived `Deserialize` impls as `ron` does, with no code per
//! kind.
//!
//! One rule, one place: this is an accelerator, never a second grammar. It accepts a strict
//! subset of RON, and anything else — whitespace, a comment, a raw string, `\x` escapes, a float,
//! a number with `_` or a sign or a leading zero, an unknown field (which serde skips with
//! `deserialize_any`), any error a visitor raises — is [`Fallback`]: the caller then parses the
//! line with `ron`, which decides, with its own error message and `line:col`. So the fast path
//! never accepts a line `ron` rejects nor reads one differently; `tests/line_de.rs` checks this
//! on arbitrary records and on arbitrary byte mutations of real lines.

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::Deserialize;

/// The line is not in the canonical form, or a visitor refused it: parse it with `ron`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fallback;

impl std::fmt::Display for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not in warroom's canonical RON form")
    }
}

impl std::error::Error for Fallback {}

impl de::Error for Fallback {
    fn custom<T: std::fmt::Display>(_msg: T) -> Self {
        Fallback
    }
}

/// Nesting deeper than this is left to `ron` (records nest about five levels; `ron`'s own
/// limit is 128).
const MAX_DEPTH: u32 = 32;

type Result<T> = std::result::Result<T, Fallback>;

/// Read a whole `s` (one line, without its newline) as a `T` if it is in the canonical form,
/// consumed to the last byte. `Err(Fallback)`: let `ron` parse it.
pub fn from_str<'de, T: Deserialize<'de>>(s: &'de str) -> Result<T> {
    let mut d = Reader { s, pos: 0, depth: 0 };
    let v = T::deserialize(&mut d)?;
    if d.pos == s.len() {
        Ok(v)
    } else {
        Err(Fallback)
    }
}

struct Reader<'de> {
    s: &'de str,
    /// Byte offset of the next unread byte (always on a char boundary).
    pos: usize,
    depth: u32,
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'de> Reader<'de> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    fn expect(&mut self, b: u8) -> Result<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(Fallback)
        }
    }

    fn nest(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(Fallback)
        } else {
            Ok(())
        }
    }

    /// An ASCII identifier `[A-Za-z_][A-Za-z0-9_]*` (every one is also a RON identifier; a
    /// non-ASCII one stops here and the next token fails, so `ron` reads it).
    fn ident(&mut self) -> Result<&'de str> {
        let bytes = self.s.as_bytes();
        let start = self.pos;
        match bytes.get(start) {
            Some(b) if b.is_ascii_alphabetic() || *b == b'_' => {}
            _ => return Err(Fallback),
        }
        let len = bytes[start..].iter().take_while(|b| is_ident_byte(**b)).count();
        self.pos = start + len;
        // `r#`, `b"`, `r"`… are raw identifiers or strings in RON.
        if matches!(self.peek(), Some(b'#' | b'"' | b'\'')) {
            return Err(Fallback);
        }
        Ok(&self.s[start..start + len])
    }

    /// Exactly the keyword `word`, not a prefix of a longer identifier.
    fn keyword(&mut self, word: &str) -> bool {
        let rest = &self.s.as_bytes()[self.pos..];
        let hit = rest.starts_with(word.as_bytes()) && !rest.get(word.len()).copied().is_some_and(is_ident_byte);
        if hit {
            self.pos += word.len();
        }
        hit
    }

    /// The digits of an integer: `0`, or `[1-9][0-9]*`, after an optional `-` when `signed`.
    fn digits(&mut self, signed: bool) -> Result<&'de str> {
        let bytes = self.s.as_bytes();
        let start = self.pos;
        let mut at = start;
        if signed && bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        let first = at;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let n = at - first;
        // No digits, a leading zero, `-0`, or a number running into `.`/`e`/`_`/a letter.
        if n == 0
            || (n > 1 && bytes[first] == b'0')
            || (first > start && bytes[first] == b'0')
            || bytes.get(at).copied().is_some_and(|b| is_ident_byte(b) || b == b'.')
        {
            return Err(Fallback);
        }
        self.pos = at;
        Ok(&self.s[start..at])
    }

    fn unsigned(&mut self) -> Result<u64> {
        self.digits(false)?.parse().map_err(|_| Fallback)
    }

    fn signed(&mut self) -> Result<i64> {
        self.digits(true)?.parse().map_err(|_| Fallback)
    }

    /// A `"…"` string with the escapes `char::escape_debug` makes (`\' \" \\ \n \r \t \0
    /// \u{…}`). Borrowed when it has no escape.
    fn string(&mut self) -> Result<std::borrow::Cow<'de, str>> {
        self.expect(b'"')?;
        let bytes = self.s.as_bytes();
        let start = self.pos;
        let rel = bytes[start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\')
            .ok_or(Fallback)?;
        if bytes[start + rel] == b'"' {
            self.pos = start + rel + 1;
            return Ok(std::borrow::Cow::Borrowed(&self.s[start..start + rel]));
        }
        let mut out = String::with_capacity(rel + 16);
        let mut at = start;
        loop {
            let rel = bytes[at..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\')
                .ok_or(Fallback)?;
            out.push_str(&self.s[at..at + rel]);
            at += rel;
            if bytes[at] == b'"' {
                self.pos = at + 1;
                return Ok(std::borrow::Cow::Owned(out));
            }
            at += 1; // the backslash
            let c = match bytes.get(at).ok_or(Fallback)? {
                b'\'' => '\'',
                b'"' => '"',
                b'\\' => '\\',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'0' => '\0',
                b'u' => {
                    at += 1;
                    if bytes.get(at) != Some(&b'{') {
                        return Err(Fallback);
                    }
                    at += 1;
                    let hex = bytes[at..].iter().take_while(|b| b.is_ascii_hexdigit()).count();
                    if hex == 0 || hex > 6 || bytes.get(at + hex) != Some(&b'}') {
                        return Err(Fallback);
                    }
                    let code = u32::from_str_radix(&self.s[at..at + hex], 16).map_err(|_| Fallback)?;
                    at += hex; // now on the `}`
                    char::from_u32(code).ok_or(Fallback)?
                }
                _ => return Err(Fallback),
            };
            out.push(c);
            at += 1;
        }
    }
}

macro_rules! unsigned {
    ($($method:ident => $visit:ident: $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            let n = <$ty>::try_from(self.unsigned()?).map_err(|_| Fallback)?;
            visitor.$visit(n)
        }
    )*};
}

macro_rules! signed {
    ($($method:ident => $visit:ident: $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            let n = <$ty>::try_from(self.signed()?).map_err(|_| Fallback)?;
            visitor.$visit(n)
        }
    )*};
}

macro_rules! fall_back {
    ($($method:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
            Err(Fallback)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = Fallback;

    unsigned!(
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
    );
    signed!(
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
    );
    // Self-describing reads (an unknown field), floats, chars, bytes, unit and maps are rare in a
    // record: `ron` reads them.
    fall_back!(
        deserialize_any,
        deserialize_ignored_any,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_unit,
        deserialize_map,
    );

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.keyword("true") {
            visitor.visit_bool(true)
        } else if self.keyword("false") {
            visitor.visit_bool(false)
        } else {
            Err(Fallback)
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.string()? {
            std::borrow::Cow::Borrowed(s) => visitor.visit_borrowed_str(s),
            std::borrow::Cow::Owned(s) => visitor.visit_string(s),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.keyword("None") {
            return visitor.visit_none();
        }
        if !self.keyword("Some") {
            return Err(Fallback);
        }
        self.expect(b'(')?;
        self.nest()?;
        let v = visitor.visit_some(&mut *self)?;
        self.depth -= 1;
        self.expect(b')')?;
        Ok(v)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, _visitor: V) -> Result<V::Value> {
        Err(Fallback)
    }

    /// A newtype struct is written as `Name(x)` or `(x)`; `ron`'s raw values use this hook too.
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, _visitor: V) -> Result<V::Value> {
        Err(Fallback)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.expect(b'[')?;
        self.nest()?;
        let v = visitor.visit_seq(Items {
            r: &mut *self,
            end: b']',
            first: true,
        })?;
        self.depth -= 1;
        self.expect(b']')?;
        Ok(v)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.expect(b'(')?;
        self.nest()?;
        let v = visitor.visit_seq(Items {
            r: &mut *self,
            end: b')',
            first: true,
        })?;
        self.depth -= 1;
        self.expect(b')')?;
        Ok(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value> {
        Err(Fallback)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        // `ron` reads the `Range*` structs from `a..b` syntax; none is in a record.
        if name.starts_with("Range") {
            return Err(Fallback);
        }
        self.fields(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.nest()?;
        let v = visitor.visit_enum(Variant { r: &mut *self })?;
        self.depth -= 1;
        Ok(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_str(self.ident()?)
    }

    fn is_human_readable(&self) -> bool {
        true
    }
}

impl<'de> Reader<'de> {
    /// `(name:value,…)`: a struct, or a struct variant after its name.
    fn fields<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        self.expect(b'(')?;
        self.nest()?;
        let v = visitor.visit_map(Items {
            r: &mut *self,
            end: b')',
            first: true,
        })?;
        self.depth -= 1;
        self.expect(b')')?;
        Ok(v)
    }
}

/// The elements of a list or tuple, or the fields of a struct: separated by `,`, none after the
/// last, up to `end` (left for the caller to consume).
struct Items<'a, 'de> {
    r: &'a mut Reader<'de>,
    end: u8,
    first: bool,
}

impl Items<'_, '_> {
    /// Is there another element? Consumes the `,` before it.
    fn more(&mut self) -> Result<bool> {
        if self.r.peek() == Some(self.end) {
            return Ok(false);
        }
        if !std::mem::replace(&mut self.first, false) {
            self.r.expect(b',')?;
        }
        Ok(true)
    }
}

impl<'de> de::SeqAccess<'de> for Items<'_, 'de> {
    type Error = Fallback;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if !self.more()? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.r).map(Some)
    }
}

impl<'de> de::MapAccess<'de> for Items<'_, 'de> {
    type Error = Fallback;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if !self.more()? {
            return Ok(None);
        }
        // A field name is an identifier, handed to the key's visitor as a string.
        let name = self.r.ident()?;
        seed.deserialize(name.into_deserializer()).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        self.r.expect(b':')?;
        seed.deserialize(&mut *self.r)
    }
}

/// An enum value: `Name`, `Name(x)`, `Name(a,b)` or `Name(field:x,…)`.
struct Variant<'a, 'de> {
    r: &'a mut Reader<'de>,
}

impl<'de> de::EnumAccess<'de> for Variant<'_, 'de> {
    type Error = Fallback;
    type Variant = Self;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let name = self.r.ident()?;
        let v = seed.deserialize(name.into_deserializer())?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'_, 'de> {
    type Error = Fallback;
    fn unit_variant(self) -> Result<()> {
        // `Name()` and `Name(…)` for a unit variant are left to `ron`.
        if self.r.peek() == Some(b'(') {
            return Err(Fallback);
        }
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        self.r.expect(b'(')?;
        let v = seed.deserialize(&mut *self.r)?;
        self.r.expect(b')')?;
        Ok(v)
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_tuple(&mut *self.r, len, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value> {
        self.r.fields(visitor)
    }
}
