//! Reading Rust source just well enough: blanking out comments and literals, then finding the
//! module each `crate::` path starts with.

use std::collections::BTreeSet;

/// The source with comments, string literals and character literals blanked out (each replaced
/// by a space), so only code is searched.
pub fn strip(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            out.push(' ');
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
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r'
            && !chars[..i].last().is_some_and(|p| is_ident(*p))
            && matches!(next, Some('"' | '#'))
        {
            // A raw string: r"..." or r#"..."#, any number of hashes.
            let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            i += 2 + hashes;
            while i < chars.len() {
                if chars[i] == '"'
                    && chars[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|c| **c == '#')
                        .count()
                        == hashes
                {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            out.push(' ');
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push(' ');
        } else if c == '\'' && next == Some('\\') {
            // An escaped character literal: '\n', '\'', '\u{..}'. The escaped character is skipped
            // first, since it may be the quote.
            i += 3;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push(' ');
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
            out.push(' ');
        } else {
            // A lifetime's quote, or code.
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The first names after `crate::` in stripped code: `crate::a::b` gives `a`, and
/// `crate::{a::b, c}` gives `a` and `c`.
pub fn crate_paths(code: &str) -> BTreeSet<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = BTreeSet::new();
    let mut i = 0;
    while let Some(at) = find(&chars, i, "crate") {
        i = at + 5;
        if at > 0 && (is_ident(chars[at - 1]) || chars[at - 1] == '$') {
            continue;
        }
        let mut j = skip_space(&chars, i);
        if chars.get(j) != Some(&':') || chars.get(j + 1) != Some(&':') {
            continue;
        }
        j = skip_space(&chars, j + 2);
        if chars.get(j) == Some(&'{') {
            // A group: the first name of each item at depth one.
            let mut depth = 0;
            let mut expect_name = true;
            while j < chars.len() {
                match chars[j] {
                    '{' => {
                        depth += 1;
                        expect_name = depth == 1;
                        j += 1;
                    }
                    '}' => {
                        depth -= 1;
                        j += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => {
                        expect_name = true;
                        j += 1;
                    }
                    c if expect_name && depth == 1 && is_ident(c) => {
                        let (name, end) = ident(&chars, j);
                        if name != "self" {
                            found.insert(name);
                        }
                        expect_name = false;
                        j = end;
                    }
                    _ => j += 1,
                }
            }
        } else if chars.get(j).is_some_and(|c| is_ident(*c)) {
            found.insert(ident(&chars, j).0);
        }
    }
    found
}

fn find(chars: &[char], from: usize, needle: &str) -> Option<usize> {
    let needle: Vec<char> = needle.chars().collect();
    (from..chars.len().saturating_sub(needle.len() - 1))
        .find(|&at| chars[at..at + needle.len()] == needle[..])
}

fn skip_space(chars: &[char], mut at: usize) -> usize {
    while chars.get(at).is_some_and(|c| c.is_whitespace()) {
        at += 1;
    }
    at
}

fn ident(chars: &[char], at: usize) -> (String, usize) {
    let end = (at..chars.len())
        .find(|&i| !is_ident(chars[i]))
        .unwrap_or(chars.len());
    (chars[at..end].iter().collect(), end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the reader finds in small pieces of code: `(source, modules it names after crate::)`.
    #[test]
    fn crate_paths_are_found_in_every_form() {
        fn check(source: &str, expected: &[&str]) {
            let found: Vec<String> = crate_paths(&strip(source)).into_iter().collect();
            assert_eq!(found, expected, "in {source:?}");
        }
        check("use crate::data::Store;", &["data"]);
        check(
            "use crate::{data::{self, Store}, views};",
            &["data", "views"],
        );
        check(
            "use crate :: { auth :: Caller , shared };",
            &["auth", "shared"],
        );
        check("let x = crate::views::incident(store, &i);", &["views"]);
        check("use crate::{Error, Result};", &["Error", "Result"]);
        check("pub(crate) fn f() {}", &[]);
        check("// use crate::server;\n/* crate::handle */ fn f() {}", &[]);
        check("/* outer /* nested */ crate::handle */", &[]);
        check(
            r#"let s = "crate::server"; let r = r"crate::graphql";"#,
            &[],
        );
        check(
            r###"let r = r#"crate::graphql "quoted" "#; crate::rest::f()"###,
            &["rest"],
        );
        check("let c = '\"'; crate::demo::run()", &["demo"]);
        check(
            "let q = '\\''; let s = \"'\"; crate::demo::run()",
            &["demo"],
        );
        check("fn f<'a>(x: &'a str) { crate::views::f(x) }", &["views"]);
        check("my_crate::data::f()", &[]);
    }
}
