//! The instructions around the differing regions of an executable's code,
//! both sides, typed: the diff decodes them (`diff::disasm`), the renderers
//! write them. Only an instruction's own text (`mov    %rsp,%rbp`) is a string;
//! addresses, bytes and how the two sides line up stay data until a renderer
//! asks for [`CodeRegion::lines`].

use std::fmt;

use serde::Serialize;

use super::change::{ElfPlace, Hunk};
use super::Which;
use crate::model::hex;

/// The instructions of the first differing regions of code, both sides.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Disassembly {
    /// The instruction set both sides were decoded as.
    pub arch: Arch,
    /// The regions shown, in order of offset.
    pub regions: Vec<CodeRegion>,
    /// Differing regions not disassembled: those of code past the last one
    /// shown, and those past the regions looked at (`--disassembly-regions`
    /// bounds both; some of the latter may not be in code).
    #[serde(skip_serializing_if = "is_zero")]
    pub more_regions: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// An instruction set decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum Arch {
    /// 32-bit x86 (an IA32 EFI application).
    #[serde(rename = "x86")]
    X86,
    /// x86-64 (AMD64).
    #[serde(rename = "x86-64")]
    X86_64,
    /// AArch64 (ARMv8 A64).
    #[serde(rename = "aarch64")]
    Aarch64,
}

impl Arch {
    /// Its name, as the JSON report writes it: `x86-64`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86 => "x86",
            Arch::X86_64 => "x86-64",
            Arch::Aarch64 => "aarch64",
        }
    }
}

/// One differing region of code: the instructions that overlap its differing
/// bytes, with a few before and after, on each side.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CodeRegion {
    /// The first differing byte, from the start of the file.
    pub offset: u64,
    /// Bytes from `offset` to the last differing byte of the region, inclusive.
    pub length: u64,
    /// Where `offset` is in the first side's file (section, symbol).
    pub place: ElfPlace,
    /// The first side's instructions.
    pub a: Vec<Insn>,
    /// The second side's instructions.
    pub b: Vec<Insn>,
    /// True when a side had more instructions over the region than are shown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cut: bool,
}

/// One decoded instruction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Insn {
    /// Its virtual address, as `objdump -d` numbers it.
    pub address: u64,
    /// Its bytes.
    #[serde(serialize_with = "as_hex")]
    pub bytes: Vec<u8>,
    /// Its text, in the syntax `objdump -d` uses for the instruction set (GNU
    /// AT&T for x86): `mov    %rsp,%rbp`; `(bad)` for bytes that decode to
    /// no instruction.
    pub text: String,
}

fn as_hex<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(bytes))
}

/// One line of a code region in a unified diff: an instruction of both sides
/// (same address, same bytes) once, a differing one as the first side's then
/// the second's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRow<'a> {
    /// Whose: `None` for both sides, else the side it is only in.
    pub side: Option<Which>,
    /// The instruction.
    pub insn: &'a Insn,
}

/// Bytes of an instruction written on its line before the text is padded to
/// (as `objdump -d` does for x86, which prints 7 a line).
const BYTES_COLUMN: usize = 7;

impl fmt::Display for CodeRow<'_> {
    /// `-  401136:  48 89 e5              mov    %rsp,%rbp`, as objdump's
    /// lines (tabs written as spaces) after the diff's sign.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.side {
            None => ' ',
            Some(Which::A) => '-',
            Some(Which::B) => '+',
        };
        let bytes: Vec<String> = self.insn.bytes.iter().map(|b| format!("{b:02x}")).collect();
        let bytes = bytes.join(" ");
        write!(
            f,
            "{sign}{:>8x}:  {bytes:<w$}  {}",
            self.insn.address,
            self.insn.text,
            w = BYTES_COLUMN * 3 - 1
        )
    }
}

/// The header of a code region: a unified diff's hunk header over its
/// instructions (counted from 1 in each region), then where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeHeader<'a> {
    /// Instructions of the first side.
    pub old_lines: u64,
    /// Instructions of the second side.
    pub new_lines: u64,
    /// The region.
    pub region: &'a CodeRegion,
}

impl fmt::Display for CodeHeader<'_> {
    /// `@@ -1,7 +1,7 @@ section .text+0x36, symbol main+0x6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = Hunk {
            old_start: u64::from(self.old_lines > 0),
            old_lines: self.old_lines,
            new_start: u64::from(self.new_lines > 0),
            new_lines: self.new_lines,
            lines: Vec::new(),
        };
        write!(f, "{h} {}", self.region.place)
    }
}

impl CodeRegion {
    /// The region's header and its lines, the two sides lined up: an
    /// instruction at the same address with the same bytes on both sides is
    /// one line; between two such, the first side's instructions, then the
    /// second's.
    pub(crate) fn lines(&self) -> (CodeHeader<'_>, Vec<CodeRow<'_>>) {
        let key = |i: &Insn| (i.address, i.bytes.clone());
        let (ka, kb): (Vec<_>, Vec<_>) = (
            self.a.iter().map(key).collect(),
            self.b.iter().map(key).collect(),
        );
        // A few dozen instructions a side: any algorithm is instant.
        let ops = similar::capture_diff_slices(similar::Algorithm::Myers, &ka, &kb);
        let mut out = Vec::with_capacity(self.a.len() + self.b.len());
        for op in ops {
            let (_, old, new) = op.as_tag_tuple();
            if op.tag() == similar::DiffTag::Equal {
                out.extend(self.a[old].iter().map(|insn| CodeRow { side: None, insn }));
                continue;
            }
            out.extend(self.a[old].iter().map(|insn| CodeRow {
                side: Some(Which::A),
                insn,
            }));
            out.extend(self.b[new].iter().map(|insn| CodeRow {
                side: Some(Which::B),
                insn,
            }));
        }
        let header = CodeHeader {
            old_lines: self.a.len() as u64,
            new_lines: self.b.len() as u64,
            region: self,
        };
        (header, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insn(address: u64, bytes: &[u8], text: &str) -> Insn {
        Insn {
            address,
            bytes: bytes.to_vec(),
            text: text.to_owned(),
        }
    }

    #[test]
    fn sides_line_up_on_address_and_bytes() {
        let region = CodeRegion {
            offset: 0x1004,
            length: 1,
            place: ElfPlace {
                section: ".text".into(),
                section_offset: 4,
                symbol: None,
            },
            a: vec![
                insn(0x401000, &[0x55], "push   %rbp"),
                insn(0x401001, &[0xb8, 1, 0, 0, 0], "mov    $0x1,%eax"),
                insn(0x401006, &[0xc3], "ret"),
            ],
            b: vec![
                insn(0x401000, &[0x55], "push   %rbp"),
                insn(0x401001, &[0xb8, 2, 0, 0, 0], "mov    $0x2,%eax"),
                insn(0x401006, &[0xc3], "ret"),
            ],
            cut: false,
        };
        let (header, rows) = region.lines();
        let lines: Vec<String> = rows.iter().map(ToString::to_string).collect();
        assert_eq!(header.to_string(), "@@ -1,3 +1,3 @@ section .text+0x4");
        assert_eq!(
            lines,
            [
                "   401000:  55                    push   %rbp",
                "-  401001:  b8 01 00 00 00        mov    $0x1,%eax",
                "+  401001:  b8 02 00 00 00        mov    $0x2,%eax",
                "   401006:  c3                    ret",
            ]
        );
    }
}
