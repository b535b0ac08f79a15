//! One declaration per on-disk structure.
//!
//! A reader declares each fixed-size structure it parses once, with
//! `structure!`: its length and, per field, the offset,
//! length, encoding, name and what a change of it can follow from. The macro
//! makes of that declaration
//!
//! - a typed view over exactly that many bytes (`&[u8; N]`), built only from a
//!   slice that holds them, with one accessor per field, each field checked at
//!   compile time to lie inside the structure (and to be as long as its
//!   encoding): a read past its end cannot be written;
//! - the field table, [`FieldDef`]s in order, from which the byte accounting
//!   makes its [`Field`]s;
//! - an [`Encoding`], so that a field of another table can hold the
//!   structure (`fork: 112, 80, ForkData<'static>, ...`) and read as its view.
//!
//! So the parser and the accounting read the same table: a field deleted from
//! it no longer parses (its accessor is gone) and no longer explains bytes (the
//! table's coverage test, [`check_table`], finds the hole).

use super::span::{Explain, Field};

/// How a field's bytes encode its value: the accessor's return type follows.
pub trait Encoding {
    /// The decoded value, borrowing the structure's bytes for raw fields.
    type Value<'a>;
    /// The width in bytes a field of this encoding must have, when fixed
    /// (checked at compile time against each declared field).
    const WIDTH: Option<usize>;
    /// Decodes `b`, exactly the field's bytes; `name` is the field's name, for
    /// the error of a text number that is no number.
    fn read<'a>(b: &'a [u8], name: &'static str) -> Self::Value<'a>;
}

/// The bytes as they are.
pub struct Raw;
/// A number written as ASCII hexadecimal digits (cpio newc).
pub struct AsciiHex;
/// A number written as ASCII octal digits (cpio odc, tar).
pub struct AsciiOctal;
/// A number written as ASCII decimal digits (ECMA-119 dates).
pub struct AsciiDecimal;
/// Bytes of a fixed count, copied.
pub struct Array<const N: usize>;
/// One byte.
pub struct U8;
/// A little-endian `u16`.
pub struct Le16;
/// A little-endian `u32`.
pub struct Le32;
/// A little-endian `u64`.
pub struct Le64;
/// A big-endian `u16` (HFS+, the Apple partition map).
pub struct Be16;
/// A big-endian `u32`.
pub struct Be32;
/// A big-endian `u64`.
pub struct Be64;

/// A text number that is not one: the name of its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotANumber(pub &'static str);

fn text_number(b: &[u8], radix: u32, name: &'static str) -> Result<u64, NotANumber> {
    b.iter().try_fold(0u64, |acc, &c| {
        let d = char::from(c).to_digit(radix).ok_or(NotANumber(name))?;
        acc.checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or(NotANumber(name))
    })
}

impl Encoding for Raw {
    type Value<'a> = &'a [u8];
    const WIDTH: Option<usize> = None;
    fn read<'a>(b: &'a [u8], _: &'static str) -> &'a [u8] {
        b
    }
}

impl<const N: usize> Encoding for Array<N> {
    type Value<'a> = [u8; N];
    const WIDTH: Option<usize> = Some(N);
    fn read(b: &[u8], _: &'static str) -> [u8; N] {
        b.try_into().unwrap_or([0; N])
    }
}

impl Encoding for AsciiHex {
    type Value<'a> = Result<u64, NotANumber>;
    const WIDTH: Option<usize> = None;
    fn read(b: &[u8], name: &'static str) -> Result<u64, NotANumber> {
        text_number(b, 16, name)
    }
}

impl Encoding for AsciiDecimal {
    type Value<'a> = Result<u64, NotANumber>;
    const WIDTH: Option<usize> = None;
    fn read(b: &[u8], name: &'static str) -> Result<u64, NotANumber> {
        text_number(b, 10, name)
    }
}

impl Encoding for AsciiOctal {
    type Value<'a> = Result<u64, NotANumber>;
    const WIDTH: Option<usize> = None;
    fn read(b: &[u8], name: &'static str) -> Result<u64, NotANumber> {
        text_number(b, 8, name)
    }
}

/// A fixed-width binary integer: the field's bytes are exactly its width (the
/// macro checks the declared length at compile time), so the conversion
/// cannot fail; it would read as zero rather than panic.
macro_rules! binary {
    ($ty:ident, $out:ty, $from:ident) => {
        impl Encoding for $ty {
            type Value<'a> = $out;
            const WIDTH: Option<usize> = Some(std::mem::size_of::<$out>());
            fn read(b: &[u8], _: &'static str) -> $out {
                b.try_into().map(<$out>::$from).unwrap_or(0)
            }
        }
    };
}
binary!(U8, u8, from_le_bytes);
binary!(Le16, u16, from_le_bytes);
binary!(Le32, u32, from_le_bytes);
binary!(Le64, u64, from_le_bytes);
binary!(Be16, u16, from_be_bytes);
binary!(Be32, u32, from_be_bytes);
binary!(Be64, u64, from_be_bytes);

/// One row of a structure's field table.
#[derive(Debug, Clone)]
pub struct FieldDef {
    /// First byte, from the start of the structure.
    pub at: u64,
    /// Length in bytes.
    pub len: u64,
    /// Name, as reports and errors say it.
    pub name: &'static str,
    /// What a change of it can follow from.
    pub explain: Explain,
}

impl FieldDef {
    /// The accounting's field for this row.
    pub fn field(&self) -> Field {
        Field::new(self.at, self.len, self.name, self.explain.clone())
    }
}

/// Where the field named `name` starts in a table: for the offset an error
/// names, read from the table rather than written again. Evaluated in a
/// constant, a name the table lacks fails the build.
pub const fn field_at(defs: &[FieldDef], name: &str) -> u64 {
    let mut i = 0;
    while i < defs.len() {
        let (a, b) = (defs[i].name.as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut k = 0;
            while k < a.len() && a[k] == b[k] {
                k += 1;
            }
            if k == a.len() {
                return defs[i].at;
            }
        }
        i += 1;
    }
    panic!("no field of that name in the table")
}

/// The accounting's fields of a table, for a structure that starts `at`
/// bytes into the span that holds it.
pub fn fields_at(defs: &[FieldDef], at: u64) -> Vec<Field> {
    defs.iter()
        .map(|def| {
            let mut field = def.field();
            field.at += at;
            field
        })
        .collect()
}

/// The fields of a table at `at`, the facts it names relative to the
/// structure (a name starting with a dot, `.gzip.mtime`; a dot alone is the
/// prefix itself) named under `prefix` (`segment.2`, `pvd`); without one (a
/// structure whose facts the reader does not name) those fields explain
/// nothing.
pub(crate) fn fields_under(defs: &[FieldDef], at: u64, prefix: Option<&str>) -> Vec<Field> {
    let mut v = fields_at(defs, at);
    for field in &mut v {
        let Explain::Fact(name) = &field.explain else {
            continue;
        };
        let Some(own) = name.strip_prefix('.') else {
            continue;
        };
        field.explain = match prefix {
            Some(p) if own.is_empty() => Explain::Fact(p.to_owned().into()),
            Some(p) => Explain::Fact(format!("{p}.{own}").into()),
            None => Explain::Nothing,
        };
    }
    v
}

/// Checks that the fields of a table of a structure of `len` bytes follow one
/// another from its first byte to its last, without a gap or an overlap: the
/// test every declared structure runs, so a deleted field fails it.
#[cfg(test)]
pub fn check_table(fields: &[FieldDef], len: u64) -> Result<(), String> {
    let mut at = 0;
    for f in fields {
        if f.at != at {
            return Err(format!("field {} at {} (expected {at})", f.name, f.at));
        }
        at = f.at + f.len;
    }
    if at != len {
        return Err(format!("fields end at {at}, the structure at {len}"));
    }
    Ok(())
}

/// Declares an on-disk structure: a view over its bytes with an accessor per
/// field, and its field table (see the module docs).
///
/// ```text
/// crate::model::structure::structure! {
///     /// A squashfs superblock.
///     pub(crate) struct Superblock[96] {
///         /// The magic `hsqs`.
///         magic: 0, 4, Raw, "magic", Explain::Nothing;
///         inode_count: 4, 4, Le32, "inode count", Explain::Derived;
///     }
/// }
/// ```
macro_rules! structure {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident[$len:expr] {
            $(
                $(#[$fmeta:meta])*
                $field:ident: $at:expr, $flen:expr, $enc:ty, $fname:expr, $explain:expr;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name<'a>(&'a [u8; $len]);

        /// A structure is the encoding of a field that holds one (named
        /// `Name<'static>` in the outer table): its accessor returns the view.
        impl $crate::model::structure::Encoding for $name<'static> {
            type Value<'a> = $name<'a>;
            const WIDTH: Option<usize> = Some($len);
            fn read<'a>(b: &'a [u8], _: &'static str) -> $name<'a> {
                match b.try_into() {
                    Ok(a) => $name(a),
                    // Not reached: the field is as long as the structure,
                    // checked at compile time.
                    Err(_) => $name(&[0; $len]),
                }
            }
        }

        #[allow(dead_code)]
        impl<'a> $name<'a> {
            /// The structure's length in bytes.
            $vis const LEN: usize = $len;

            /// The field table, in the order of the bytes.
            $vis const FIELDS: &'static [$crate::model::structure::FieldDef] = &[
                $($crate::model::structure::FieldDef {
                    at: $at as u64,
                    len: $flen as u64,
                    name: $fname,
                    explain: $explain,
                },)*
            ];

            /// The structure at the start of `b`, when `b` holds all of it.
            $vis fn new(b: &'a [u8]) -> Option<Self> {
                b.get(..$len)?.try_into().ok().map($name)
            }

            /// The structure in exactly its bytes (read into an array by a
            /// reader whose structures may cross block boundaries).
            $vis fn from_array(b: &'a [u8; $len]) -> Self {
                $name(b)
            }

            /// The structure at the start of an array at least as long,
            /// checked at compile time (a table entry read whole).
            $vis fn from_prefix<const M: usize>(b: &'a [u8; M]) -> Self {
                const { assert!(M >= $len, "array shorter than the structure") };
                match b.first_chunk::<$len>() {
                    Some(a) => $name(a),
                    // Not reached: the assertion above.
                    None => $name(&[0; $len]),
                }
            }

            /// Its bytes.
            $vis fn bytes(&self) -> &'a [u8; $len] {
                self.0
            }

            $(
                $(#[$fmeta])*
                $vis fn $field(&self) -> <$enc as $crate::model::structure::Encoding>::Value<'a> {
                    #[allow(clippy::int_plus_one)]
                    const _: () = {
                        assert!($at + $flen <= $len, "field past the structure's end");
                        if let Some(w) = <$enc as $crate::model::structure::Encoding>::WIDTH {
                            assert!(w == $flen, "field length is not its encoding's width");
                        }
                    };
                    let b: &'a [u8; $len] = self.0;
                    <$enc as $crate::model::structure::Encoding>::read(&b[$at..$at + $flen], $fname)
                }
            )*
        }
    };
}

pub(crate) use structure;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::key::Key;

    structure! {
        /// A made-up structure.
        pub(crate) struct Sample[12] {
            magic: 0, 2, Raw, "magic", Explain::Nothing;
            size: 2, 4, Le32, "size", Explain::Entry(&[Key::SIZE]);
            count: 6, 2, Le16, "count", Explain::Derived;
            mode: 8, 4, AsciiOctal, "mode", Explain::Entry(&[Key::MODE]);
        }
    }

    structure! {
        /// A made-up big-endian structure.
        pub(crate) struct Big[14] {
            a: 0, 2, Be16, "a", Explain::Nothing;
            b: 2, 4, Be32, "b", Explain::Nothing;
            c: 6, 8, Be64, "c", Explain::Nothing;
        }
    }

    #[test]
    fn big_endian_fields_read_as_such() {
        let b = [1, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3];
        let s = Big::new(&b).unwrap();
        assert_eq!((s.a(), s.b(), s.c()), (0x102, 0x100, 3));
    }

    #[test]
    fn accessors_read_the_declared_fields() {
        let b = b"MZ\x10\x00\x00\x00\x01\x020755rest";
        let s = Sample::new(b).unwrap();
        assert_eq!(s.magic(), b"MZ");
        assert_eq!(s.size(), 16);
        assert_eq!(s.count(), 0x201);
        assert_eq!(s.mode(), Ok(0o755));
        assert!(Sample::new(&b[..11]).is_none());
        let mut bad = *b;
        bad[9] = b'9';
        assert_eq!(Sample::new(&bad).unwrap().mode(), Err(NotANumber("mode")));
    }

    #[test]
    fn the_table_covers_the_structure() {
        assert_eq!(check_table(Sample::FIELDS, Sample::LEN as u64), Ok(()));
        let holed: Vec<FieldDef> = Sample::FIELDS
            .iter()
            .filter(|f| f.name != "count")
            .cloned()
            .collect();
        assert!(check_table(&holed, 12).is_err());
        assert_eq!(Sample::FIELDS[3].field().at, 8);
        const COUNT_AT: u64 = field_at(Sample::FIELDS, "count");
        assert_eq!(COUNT_AT, 6);
    }
}
