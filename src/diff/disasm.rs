//! The instructions around the differing bytes of an executable's code: for
//! ELF and PE files of x86-64 (and 32-bit x86) and aarch64, each differing
//! region that falls in an executable section is decoded on both sides, with a
//! few instructions before and after, as `objdump -d` would print them.
//!
//! Decoding starts on an instruction boundary, or the two sides would be
//! shown as noise. aarch64 instructions are 4 bytes, aligned from the start of
//! their section: a boundary is found by rounding down. x86 instructions are
//! 1 to 15 bytes and can only be found by decoding from a known boundary: the
//! start of the function symbol holding the region (the nearest symbol of the
//! section at or before it), else the start of the section. When that is more
//! than [`MAX_LEAD`] bytes before the region (a stripped binary's `.text` is
//! one long run), decoding starts [`MAX_LEAD`] bytes before it instead: x86
//! decoding falls into step with the real instruction stream within a few
//! instructions in practice (the decoder re-synchronizes on the next
//! prefix-free opcode), long before the region is reached. So each side costs
//! at most [`MAX_LEAD`] bytes of decoding a region, whatever the file.
//!
//! Each side is read from its own file (its own sections and symbols), at the
//! same file offsets: the content comparison found the bytes differing there.

use std::collections::VecDeque;
use std::ops::Range;

use iced_x86::Formatter;
use object::{Object, ObjectSection, ObjectSymbol, SectionIndex, SectionKind};

use crate::report::change::ElfPlace;
use crate::report::code::{Arch, CodeRegion, Disassembly, Insn};

/// Most bytes decoded before a region to reach it in step (x86).
pub(crate) const MAX_LEAD: u64 = 16 << 10;

/// Instructions shown before and after the ones that overlap a region.
const CONTEXT: usize = 3;

/// Most instructions shown over one region's differing bytes, a side.
const MAX_OVERLAP: usize = 32;

/// The longest x86 instruction, in bytes.
const X86_MAX: usize = 15;

/// The instructions of `runs` (differing byte ranges, in order) in the code of
/// two executables `a` and `b`, for the first `max` that fall in executable
/// sections; `more` differing regions were not even looked at. `None` when the
/// files are not both ELF or PE of the same decodable instruction set, or no
/// run is in code.
pub(crate) fn disassemble(
    a: &[u8],
    b: &[u8],
    runs: &[Range<u64>],
    max: usize,
    more: u64,
) -> Option<Disassembly> {
    let (fa, fb) = (object::File::parse(a).ok()?, object::File::parse(b).ok()?);
    let arch = arch(&fa)?;
    if arch != self::arch(&fb)? {
        return None;
    }
    let mut out = Disassembly {
        arch,
        regions: Vec::new(),
        more_regions: more,
    };
    for run in runs {
        let (Some((ia, place)), Some((ib, _))) = (side(&fa, a, arch, run), side(&fb, b, arch, run))
        else {
            continue;
        };
        if out.regions.len() == max {
            out.more_regions += 1;
            continue;
        }
        out.regions.push(CodeRegion {
            offset: run.start,
            length: run.end - run.start,
            place,
            cut: ia.1 || ib.1,
            a: ia.0,
            b: ib.0,
        });
    }
    (!out.regions.is_empty()).then_some(out)
}

/// The instruction set of an executable, when one is decoded here.
fn arch(file: &object::File<'_>) -> Option<Arch> {
    match file.architecture() {
        object::Architecture::X86_64 => Some(Arch::X86_64),
        object::Architecture::I386 => Some(Arch::X86),
        object::Architecture::Aarch64 => Some(Arch::Aarch64),
        _ => None,
    }
}

/// Instructions decoded, and whether more overlapped the region than shown.
type Decoded = (Vec<Insn>, bool);

/// One side's instructions over `run`, and where it starts: `None` when the
/// run does not start in an executable section of this file.
fn side(
    file: &object::File<'_>,
    data: &[u8],
    arch: Arch,
    run: &Range<u64>,
) -> Option<(Decoded, ElfPlace)> {
    let section = file.sections().find(|s| {
        s.kind() == SectionKind::Text
            && s.file_range()
                .is_some_and(|(start, len)| run.start >= start && run.start - start < len)
    })?;
    let (start, len) = section.file_range()?;
    let bytes =
        data.get(usize::try_from(start).ok()?..usize::try_from(start.checked_add(len)?).ok()?)?;
    let base = section.address();
    // Offsets into the section's bytes from here on.
    let (s, e) = (run.start - start, run.end.min(start + len) - start);
    let address = base.checked_add(s)?;
    let symbol = symbol_before(file, section.index(), address);
    let place = ElfPlace {
        section: section.name().unwrap_or("?").to_owned(),
        section_offset: s,
        symbol: symbol
            .as_ref()
            .filter(|sym| holds(sym, address))
            .map(|(name, at, _)| crate::report::change::ElfSymbol {
                name: name.clone(),
                offset: address - at,
            }),
    };
    let decoded = match arch {
        Arch::X86 | Arch::X86_64 => {
            // From the symbol's start, else the section's, within MAX_LEAD.
            let from = symbol.map_or(0, |(_, at, _)| at.saturating_sub(base));
            let from = from.max(s.saturating_sub(MAX_LEAD));
            x86(
                bytes,
                base,
                from,
                s..e,
                if arch == Arch::X86 { 32 } else { 64 },
            )
        }
        Arch::Aarch64 => aarch64(bytes, base, s..e),
    };
    Some((decoded, place))
}

/// The name, address and size of the nearest symbol of `section` at or
/// before `address`, where the file has a symbol table: preferably a function
/// (a sized symbol), as the start of an instruction. Whether it holds
/// `address` is the caller's to say ([`holds`]): a PE's COFF symbols have no
/// size, and are taken as running to the next.
pub(crate) fn symbol_before(
    file: &object::File<'_>,
    section: SectionIndex,
    address: u64,
) -> Option<(String, u64, u64)> {
    let mut best: Option<(u64, u64, object::Symbol<'_, '_>)> = None;
    for sym in file.symbols().chain(file.dynamic_symbols()) {
        // Any symbol that names a place: objcopy writes a PE's functions as
        // COFF symbols of no type (object reads them as data).
        let named = !matches!(
            sym.kind(),
            object::SymbolKind::Section | object::SymbolKind::File
        );
        if sym.section_index() != Some(section)
            || !named
            || sym.address() > address
            || sym.name().map_or(true, str::is_empty)
        {
            continue;
        }
        // The nearest; of two at one address, a sized one (a function over
        // a label).
        let better = match &best {
            None => true,
            Some((at, size, _)) => {
                sym.address() > *at || (sym.address() == *at && *size == 0 && sym.size() > 0)
            }
        };
        if better {
            best = Some((sym.address(), sym.size(), sym));
        }
    }
    let (at, size, sym) = best?;
    Some((sym.name().ok()?.to_owned(), at, size))
}

/// The symbol holding file offset `offset` of an executable (a PE file's
/// COFF symbols: mingw and objcopy keep them), and the offset into it.
pub(crate) fn symbol_at(data: &[u8], offset: u64) -> Option<crate::report::change::ElfSymbol> {
    let file = object::File::parse(data).ok()?;
    let section = file.sections().find(|s| {
        s.file_range()
            .is_some_and(|(start, len)| offset >= start && offset - start < len)
    })?;
    let address = section
        .address()
        .checked_add(offset - section.file_range()?.0)?;
    let sym = symbol_before(&file, section.index(), address)?;
    holds(&sym, address).then(|| crate::report::change::ElfSymbol {
        offset: address - sym.1,
        name: sym.0,
    })
}

/// Whether a symbol (`symbol_before`'s) holds `address`: a sized one up to
/// its end, one without a size (a COFF symbol, a label) up to the next.
pub(crate) fn holds(symbol: &(String, u64, u64), address: u64) -> bool {
    symbol.2 == 0 || address.checked_sub(symbol.1).is_some_and(|d| d < symbol.2)
}

/// Decodes x86 code `bytes` (at address `base`) from offset `from` (an
/// instruction boundary), keeping the instructions that overlap `region` and
/// [`CONTEXT`] on each side. Addresses wrap as the CPU's would: a hostile
/// file may put a section anywhere.
fn x86(bytes: &[u8], base: u64, from: u64, region: Range<u64>, bitness: u32) -> Decoded {
    let mut out = (Vec::new(), false);
    let Some(code) = usize::try_from(from).ok().and_then(|f| bytes.get(f..)) else {
        return out;
    };
    // Decoding stops a few instructions past the region: never more than
    // that many bytes past it.
    let stop = usize::try_from(region.end.saturating_sub(from))
        .unwrap_or(usize::MAX)
        .saturating_add((CONTEXT + 1) * X86_MAX)
        .min(code.len());
    let code = &code[..stop];
    let Ok(mut decoder) = iced_x86::Decoder::try_with_ip(
        bitness,
        code,
        base.wrapping_add(from),
        iced_x86::DecoderOptions::NONE,
    ) else {
        return out;
    };
    let mut formatter = iced_x86::GasFormatter::new();
    // objdump's columns: the mnemonic padded to 6, then a space.
    formatter.options_mut().set_first_operand_char_index(7);
    formatter.options_mut().set_branch_leading_zeros(false);
    // objdump writes every number but a displacement in lowercase hex.
    formatter
        .options_mut()
        .set_small_hex_numbers_in_decimal(false);
    formatter.options_mut().set_uppercase_hex(false);
    // The last few instructions before the region, formatted only if shown.
    let mut before: VecDeque<(iced_x86::Instruction, usize, usize)> =
        VecDeque::with_capacity(CONTEXT + 1);
    let (mut over, mut after) = (0, 0);
    let mut instruction = iced_x86::Instruction::default();
    let mut show = |i: &iced_x86::Instruction, at: usize, len: usize, out: &mut Vec<Insn>| {
        let address = base.wrapping_add(from + at as u64);
        out.push(insn_x86(i, code, at, len, address, &mut formatter));
    };
    while decoder.can_decode() {
        let at = decoder.position();
        decoder.decode_out(&mut instruction);
        let len = instruction.len().max(1);
        let (start, end) = (from + at as u64, from + (at + len) as u64);
        if end <= region.start {
            if before.len() == CONTEXT {
                before.pop_front();
            }
            before.push_back((instruction, at, len));
            continue;
        }
        for (i, at, len) in before.drain(..) {
            show(&i, at, len, &mut out.0);
        }
        if start < region.end {
            // A long region (everything differs) is cut: decoding stops,
            // so its cost is bounded whatever its length.
            if over == MAX_OVERLAP {
                out.1 = true;
                break;
            }
            over += 1;
        } else {
            if after == CONTEXT {
                break;
            }
            after += 1;
        }
        show(&instruction, at, len, &mut out.0);
    }
    for (i, at, len) in before.drain(..) {
        show(&i, at, len, &mut out.0);
    }
    out
}

fn insn_x86(
    i: &iced_x86::Instruction,
    code: &[u8],
    at: usize,
    len: usize,
    address: u64,
    formatter: &mut iced_x86::GasFormatter,
) -> Insn {
    let mut text = String::new();
    if i.is_invalid() {
        text.push_str("(bad)");
    } else {
        formatter.format(i, &mut text);
    }
    Insn {
        address,
        bytes: code.get(at..at + len).unwrap_or_default().to_vec(),
        text,
    }
}

/// Decodes aarch64 code `bytes` (at address `base`) over `region`, from
/// [`CONTEXT`] instructions before it to as many after.
fn aarch64(bytes: &[u8], base: u64, region: Range<u64>) -> Decoded {
    use yaxpeax_arch::Decoder;
    // Words: those overlapping the region, at most MAX_OVERLAP of them.
    let (first, last) = (region.start / 4, region.end.div_ceil(4));
    let shown = last.min(first.saturating_add(MAX_OVERLAP as u64));
    let words = (first.saturating_sub(CONTEXT as u64)..shown)
        .chain(last..last.saturating_add(CONTEXT as u64));
    let decoder = yaxpeax_arm::armv8::a64::InstDecoder::default();
    let mut out = Vec::new();
    for n in words {
        let Some(word) = n
            .checked_mul(4)
            .and_then(|at| usize::try_from(at).ok())
            .and_then(|at| bytes.get(at..at.checked_add(4)?))
        else {
            break;
        };
        let mut reader = yaxpeax_arch::U8Reader::new(word);
        let text = match decoder.decode(&mut reader) {
            Ok(i) => i.to_string(),
            // As objdump writes a word it cannot decode.
            Err(_) => format!(
                ".inst 0x{:08x}",
                u32::from_le_bytes([word[0], word[1], word[2], word[3]])
            ),
        };
        out.push(Insn {
            address: base.wrapping_add(n * 4),
            bytes: word.to_vec(),
            text,
        });
    }
    (out, shown < last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(d: &Decoded) -> Vec<&str> {
        d.0.iter().map(|i| i.text.as_str()).collect()
    }

    #[test]
    fn x86_from_a_boundary_keeps_context_around_the_region() {
        // push %rbp; mov %rsp,%rbp; mov $1,%eax; pop %rbp; ret; nop; nop; nop; nop
        let code = [
            0x55, 0x48, 0x89, 0xe5, 0xb8, 1, 0, 0, 0, 0x5d, 0xc3, 0x90, 0x90, 0x90, 0x90,
        ];
        let d = x86(&code, 0x1000, 0, 5..6, 64);
        assert_eq!(
            texts(&d),
            [
                "push   %rbp",
                "mov    %rsp,%rbp",
                "mov    $0x1,%eax",
                "pop    %rbp",
                "ret",
                "nop"
            ]
        );
        assert_eq!(d.0[2].address, 0x1004);
        assert_eq!(d.0[2].bytes, [0xb8, 1, 0, 0, 0]);
        assert!(!d.1);
        // Invalid bytes are `(bad)`, one byte at a time, and nothing panics
        // on a cut instruction.
        let d = x86(&[0x06, 0x48], 0, 0, 0..1, 64);
        assert_eq!(texts(&d).first(), Some(&"(bad)"));
        // A long region is cut where decoding stops.
        let nops = [0x90u8; 4000];
        let d = x86(&nops, 0, 0, 100..3000, 64);
        assert_eq!((d.0.len(), d.1), (CONTEXT + MAX_OVERLAP, true));
        assert_eq!(
            d.0.last().map(|i| i.address),
            Some(100 + MAX_OVERLAP as u64 - 1)
        );
        for len in 0..code.len() {
            let _ = x86(&code[..len], 0, 0, 3..9, 64);
            let _ = x86(&code, 0, len as u64, 3..9, 32);
        }
    }

    #[test]
    fn aarch64_rounds_down_to_a_word() {
        // mov x0, x19; nop; ret; a word not decoded (SVE)
        let code = [
            0xe0, 0x03, 0x13, 0xaa, 0x1f, 0x20, 0x03, 0xd5, 0xc0, 0x03, 0x5f, 0xd6, 0, 0, 0, 4,
        ];
        let d = aarch64(&code, 0x400000, 6..7);
        assert_eq!(texts(&d), ["mov x0, x19", "nop", "ret", ".inst 0x04000000"]);
        assert_eq!(d.0[1].address, 0x400004);
        // A region longer than shown is cut, its context still there.
        let long = [0x1f, 0x20, 0x03, 0xd5].repeat(100);
        let d = aarch64(&long, 0, 0..400);
        assert!(d.1);
        assert_eq!(d.0.len(), MAX_OVERLAP);
        let _ = aarch64(&code[..5], 0, 0..16);
    }
}
