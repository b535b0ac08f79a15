//! Safe display of bytes read from an image.
//!
//! Names and link targets come from strangers: printed raw, a crafted name could move
//! the cursor, retitle the terminal or forge report lines. Text output shows them
//! with control characters, backslashes and invalid UTF-8 escaped.

use std::fmt::Write;

/// `bytes` as printable text: valid UTF-8 is kept, except control characters and `\`,
/// which become `\n`, `\t`, `\\` or `\xNN`, as do bytes that are not UTF-8.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() || is_bidi_control(c) => {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Bidirectional overrides can make a name read differently from what it is.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        assert_eq!(escape(b"plain name.txt"), "plain name.txt");
        assert_eq!(escape("héllo".as_bytes()), "héllo");
        assert_eq!(escape(b"\x1b[2Jevil"), "\\u{1b}[2Jevil");
        assert_eq!(escape(b"a\nb\\c"), "a\\nb\\\\c");
        assert_eq!(escape(b"\xff\xfeok"), "\\xff\\xfeok");
        assert_eq!(escape("x\u{202e}y".as_bytes()), "x\\u{202e}y");
        assert_eq!(escape("\u{9b}".as_bytes()), "\\u{9b}");
    }
}
