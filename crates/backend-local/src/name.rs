//! Names on disk that are not valid virtual paths, as results show them.
//!
//! A directory may hold names no agent could type: a newline, an ANSI
//! escape or another control character, a backslash. Printed raw they
//! would forge listing lines or drive the terminal, so `ls`, `glob` and
//! `grep` show them escaped: C0 controls and DEL as their Unicode control
//! pictures (`␊` for a newline, `␛` for ESC), C1 controls as `�`, a
//! backslash as `＼` (names that are not UTF-8 already show `�`). The
//! escaped path is not the file's real name, so tools cannot reach it by
//! that path; docs/semantics.md leaves such files to the host.
//!
//! `FileInfo` has no field to flag an escaped entry, so the flag is the
//! escape itself (every escape character is outside what valid names
//! normally hold); a core flag is a proposed follow-up.

use backend_core::VirtualPath;

/// Whether `c` cannot appear in a virtual path as it is.
fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\\'
}

/// The visible stand-in for a character a virtual path cannot hold.
fn escape(c: char) -> char {
    match c {
        '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
        '\u{7f}' => '\u{2421}',
        '\\' => '\u{ff3c}',
        _ => '\u{fffd}',
    }
}

/// Rewrites `path` as results may show it: unchanged when valid, else with
/// every character a virtual path cannot hold escaped.
pub(crate) fn escape_in_place(path: &mut VirtualPath) {
    if path.as_str().chars().any(needs_escape) {
        *path = escaped(path);
    }
}

fn escaped(path: &VirtualPath) -> VirtualPath {
    path.as_str()
        .split('/')
        .filter(|s| !s.is_empty())
        .fold(VirtualPath::root(), |out, segment| {
            let clean: String = segment
                .chars()
                .map(|c| if needs_escape(c) { escape(c) } else { c })
                .collect();
            out.child(&clean)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible_and_the_result_parses() {
        let mut shown = VirtualPath::root().child("a\nb\u{1b}[31m\u{9b}\\c\u{7f}");
        escape_in_place(&mut shown);
        assert_eq!(
            shown.as_str(),
            "/a\u{240a}b\u{241b}[31m\u{fffd}\u{ff3c}c\u{2421}"
        );
        assert!(VirtualPath::parse(shown.as_str()).is_ok());
        let mut plain = VirtualPath::parse("/x/y.txt").expect("valid");
        escape_in_place(&mut plain);
        assert_eq!(plain.as_str(), "/x/y.txt");
    }
}
