//! Just enough of a Rust lexer for the tidy checks: comments and literals
//! blanked out, then identifiers, `::` and punctuation, and `use` trees.

/// Source text with comments blanked and string and character literals
/// emptied, so that neither braces nor paths inside them count.
pub(super) fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !ident_char(out.chars().last())
        {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                if chars[j] == '\n' {
                    out.push('\n');
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if chars.get(i) == Some(&'\n') {
                    out.push('\n');
                }
                i += 1;
            }
            out.push_str("\"\"");
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            out.push_str("' '");
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            out.push_str("' '");
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

pub(super) fn ident_char(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// Identifiers, `::` and single punctuation characters.
pub(super) fn tokens(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if ident_char(Some(c)) {
            let start = i;
            while ident_char(chars.get(i).copied()) {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push("::".to_owned());
            i += 2;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

/// The paths of one use tree, `tokens` being what follows `use` up to `;`,
/// as `(name it brings in, path)`; a glob's name is `*`.
pub(super) fn use_paths(tokens: &[String]) -> Vec<(String, Vec<String>)> {
    fn tree(t: &[String], i: &mut usize, prefix: &[String], out: &mut Vec<(String, Vec<String>)>) {
        let mut path = prefix.to_vec();
        loop {
            match t.get(*i).map(String::as_str) {
                Some("{") => {
                    *i += 1;
                    while t.get(*i).is_some_and(|s| s != "}") {
                        tree(t, i, &path, out);
                        if t.get(*i).is_some_and(|s| s == ",") {
                            *i += 1;
                        }
                    }
                    *i += 1;
                    return;
                }
                Some("*") => {
                    *i += 1;
                    out.push(("*".to_owned(), path));
                    return;
                }
                Some("self") if !path.is_empty() => {
                    *i += 1;
                    let name = path.last().cloned().unwrap_or_default();
                    out.push((name, path));
                    return;
                }
                Some(seg) if ident_char(seg.chars().next()) => {
                    path.push(seg.to_owned());
                    *i += 1;
                    if t.get(*i).is_some_and(|s| s == "::") {
                        *i += 1;
                        continue;
                    }
                    let mut name = seg.to_owned();
                    if t.get(*i).is_some_and(|s| s == "as") {
                        name = t.get(*i + 1).cloned().unwrap_or_default();
                        *i += 2;
                    }
                    out.push((name, path));
                    return;
                }
                _ => {
                    // A leading `::` (an external crate) or something odd.
                    *i += 1;
                    return;
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    if tokens.first().is_some_and(|t| t == "::") {
        return out;
    }
    tree(tokens, &mut i, &[], &mut out);
    out
}

/// Index just past the block opened at `open` (`tokens[open] == "{"`).
pub(super) fn skip_block(tokens: &[String], open: usize) -> usize {
    let mut depth = 0;
    for (j, t) in tokens.iter().enumerate().skip(open) {
        match t.as_str() {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

#[test]
fn comments_and_literals_are_blanked() {
    let code = code_only("a // crate::x\nb /* crate::y */ \"crate::z {\" '{' r#\"}\"# 'a c");
    assert_eq!(
        tokens(&code),
        ["a", "b", "\"", "\"", "'", "'", "\"", "\"", "'", "a", "c"]
    );
}

#[test]
fn use_trees_are_flattened_with_the_names_they_bring_in() {
    let t = tokens("crate::a::{self, b::B as C, d::*}");
    let paths: Vec<(String, String)> = use_paths(&t)
        .into_iter()
        .map(|(name, path)| (name, path.join("::")))
        .collect();
    let expected = [
        ("a", "crate::a"),
        ("C", "crate::a::b::B"),
        ("*", "crate::a::d"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, p)| ((*n).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(paths, expected);
    assert!(use_paths(&tokens("::std::fmt")).is_empty());
}
