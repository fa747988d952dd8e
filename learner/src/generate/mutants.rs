//! Nearby variants: the loop's mutator ([`mutate`], one change anywhere),
//! and wrong versions of a right program, for ranking: the mutator's
//! changes, integer literals off by one, and swapped operators, all in the
//! code above the program's last line (the call that prints its result).
//! Digits and operators inside strings and comments (a docstring's
//! examples) are not code and are left alone.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use ruff_python_ast::token::TokenKind;
use ruff_python_parser::{Mode, ParseOptions, parse_unchecked};
use ruff_text_size::Ranged;

/// Operators and the ones each is swapped for, longest first so that `<=`
/// is not read as `<`.
const SWAPS: [(&str, &str); 12] = [
    ("<=", "<"),
    (">=", ">"),
    ("==", "!="),
    ("!=", "=="),
    (" and ", " or "),
    (" or ", " and "),
    ("True", "False"),
    ("False", "True"),
    ("<", "<="),
    (">", ">="),
    ("+", "-"),
    ("-", "+"),
];

/// Up to `n` distinct variants of `source`, none the same as it, each one
/// change to the code above its last line: the loop's mutator's
/// ([`mutate`]), an integer literal off by one, or one operator swapped.
/// Fewer where the code has too few places to change.
pub fn mutants(source: &str, n: usize, seed: u64) -> Vec<String> {
    let body = source.trim_end_matches('\n');
    let cut = body.rfind('\n').map_or(0, |i| i + 1);
    let (head, tail) = source.split_at(cut);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x3a7a);
    let quoted = quoted(head);
    let mut out: Vec<String> = vec![];
    for _ in 0..n * 20 {
        if out.len() == n {
            break;
        }
        let changed = match rng.random_range(0..3) {
            0 => Some(mutate(head, rng.random())),
            1 => off_by_one(head, &quoted, &mut rng),
            _ => swap(head, &quoted, &mut rng),
        };
        let Some(changed) = changed else { continue };
        let whole = changed + tail;
        if whole != source && !out.contains(&whole) {
            out.push(whole);
        }
    }
    out
}

/// Whether each byte of `code` is in a string or a comment (an f-string
/// whole, its expressions and the f-strings nested in them too), by
/// Python's tokenizer.
fn quoted(code: &str) -> Vec<bool> {
    let mut out = vec![false; code.len()];
    let stack = (code.len() * 1024).max(1 << 20);
    // The tree is parsed and dropped on a stack deep enough for its nesting.
    let tokens: Vec<(TokenKind, usize, usize)> = stacker::grow(stack, || {
        let parsed = parse_unchecked(code, ParseOptions::from(Mode::Module));
        parsed.tokens().iter().map(|t| (t.kind(), t.start().to_usize(), t.end().to_usize())).collect()
    });
    // Where the outermost open f-string began, and how many are open.
    let (mut outer, mut depth) = (0, 0usize);
    for (kind, start, end) in tokens {
        let (start, end) = (start.min(code.len()), end.min(code.len()));
        match kind {
            TokenKind::String | TokenKind::Comment if depth == 0 => out[start..end].fill(true),
            TokenKind::FStringStart | TokenKind::TStringStart => {
                if depth == 0 {
                    outer = start;
                }
                depth += 1;
            }
            TokenKind::FStringEnd | TokenKind::TStringEnd if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out[outer.min(end)..end].fill(true);
                }
            }
            _ => {}
        }
    }
    // An f-string the code never closes runs to its end.
    if depth > 0 {
        out[outer..].fill(true);
    }
    out
}

/// One integer literal of `code` one more or one less.
fn off_by_one(code: &str, quoted: &[bool], rng: &mut StdRng) -> Option<String> {
    let bytes = code.as_bytes();
    let ident = |i: usize| bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.';
    let starts: Vec<usize> =
        (0..bytes.len()).filter(|&i| bytes[i].is_ascii_digit() && (i == 0 || !ident(i - 1)) && !quoted[i]).collect();
    let &start = starts.get(rng.random_range(0..starts.len().max(1)))?;
    let end = (start..bytes.len()).find(|&i| !bytes[i].is_ascii_digit()).unwrap_or(bytes.len());
    if end < bytes.len() && (ident(end) || bytes[end] == b'.') {
        return None;
    }
    let value: i64 = code[start..end].parse().ok()?;
    let next = if rng.random::<bool>() || value == 0 { value.checked_add(1)? } else { value - 1 };
    Some(format!("{}{next}{}", &code[..start], &code[end..]))
}

/// One operator of `code` swapped ([`SWAPS`]).
fn swap(code: &str, quoted: &[bool], rng: &mut StdRng) -> Option<String> {
    let mut spots: Vec<(usize, &str, &str)> = vec![];
    let mut i = 0;
    while i < code.len() {
        let found = SWAPS.iter().find(|(from, _)| code[i..].starts_with(from));
        match found {
            Some(&(from, to)) => {
                // Part of `+=`, `->`, `<<` or `>>=` is not an operator to swap.
                let glued = |c: Option<char>| matches!(c, Some('=' | '<' | '>' | '-' | '!'));
                let (before, after) = (code[..i].chars().next_back(), code[i + from.len()..].chars().next());
                let word = from.starts_with(' ') || from.starts_with(char::is_alphabetic);
                if (word || (!glued(before) && !glued(after))) && !quoted[i] {
                    spots.push((i, from, to));
                }
                i += from.len();
            }
            None => i += code[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    let &(at, from, to) = spots.get(rng.random_range(0..spots.len().max(1)))?;
    Some(format!("{}{to}{}", &code[..at], &code[at + from.len()..]))
}

/// A nearby variant: one integer literal changed, or one comparison or
/// arithmetic operator swapped. Returns the source unchanged when it has
/// nothing to mutate.
pub fn mutate(source: &str, seed: u64) -> String {
    let mut rng = StdRng::seed_from_u64(seed);
    let bytes = source.as_bytes();
    let spots: Vec<usize> = (0..bytes.len())
        .filter(|&i| {
            let prev_ident = i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
            // A return annotation's `->` is not two operators.
            let arrow = bytes[i..].starts_with(b"->") || (i > 0 && bytes[i - 1..].starts_with(b"->"));
            (bytes[i].is_ascii_digit() && !prev_ident) || (b"<>+-".contains(&bytes[i]) && !arrow)
        })
        .collect();
    if spots.is_empty() {
        return source.to_string();
    }
    let i = spots[rng.random_range(0..spots.len())];
    let mut out = source.to_string();
    let replacement = match bytes[i] {
        b'<' => ">",
        b'>' => "<",
        b'+' => "-",
        b'-' => "+",
        digit => {
            let others: Vec<&str> =
                ["0", "1", "2", "3", "5", "7", "9"].into_iter().filter(|d| d.as_bytes()[0] != digit).collect();
            others[rng.random_range(0..others.len())]
        }
    };
    out.replace_range(i..i + 1, replacement);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutation_changes_one_spot() {
        let src = "x = 10\nif x < 3:\n    x = x + 1\n";
        let m = mutate(src, 1);
        assert_ne!(m, src);
        assert_eq!(m.len(), src.len());
        assert_eq!(mutate("pass\n", 1), "pass\n");
        let annotated = "def f(x) -> int:\n    return x\n";
        assert_eq!(mutate(annotated, 1), annotated, "nothing to mutate but the arrow");
        for seed in 0..20 {
            assert!(mutate("def f(x) -> int:\n    return x + 2\n", seed).contains("-> int"), "{seed}");
        }
    }

    const SOURCE: &str = "def f(xs, k):\n    n = 0\n    for x in xs:\n        if x >= k and x != 10:\n            n += 1\n    return n - 0\nprint(f([1, 12, 30], 2))\n";

    #[test]
    fn mutants_differ_from_the_source_and_each_other_and_keep_its_last_line() {
        let m = mutants(SOURCE, 9, 1);
        assert_eq!(m.len(), 9);
        for (i, v) in m.iter().enumerate() {
            assert_ne!(v, SOURCE);
            assert!(v.ends_with("print(f([1, 12, 30], 2))\n"), "{v}");
            assert!(m[i + 1..].iter().all(|w| w != v));
            let changed = v.lines().zip(SOURCE.lines()).filter(|(a, b)| a != b).count();
            assert_eq!(changed, 1, "one line changed:\n{v}");
        }
        assert_eq!(m, mutants(SOURCE, 9, 1), "the same seed, the same mutants");
        assert_ne!(m, mutants(SOURCE, 9, 2));
    }

    #[test]
    fn each_kind_changes_what_it_says() {
        let mut rng = StdRng::seed_from_u64(0);
        for _ in 0..50 {
            let v = off_by_one("a = 10\nb = x2 + 3.5\n", &quoted("a = 10\nb = x2 + 3.5\n"), &mut rng);
            assert!(
                v.is_none() || v == Some("a = 11\nb = x2 + 3.5\n".into()) || v == Some("a = 9\nb = x2 + 3.5\n".into()),
                "{v:?}"
            );
            let v = swap("if a <= b and c: n += 1\n", &quoted("if a <= b and c: n += 1\n"), &mut rng).unwrap();
            assert!(["if a < b and c: n += 1\n", "if a <= b or c: n += 1\n"].contains(&v.as_str()), "{v}");
        }
        assert_eq!(off_by_one("x = y\n", &quoted("x = y\n"), &mut rng), None, "no literal");
        assert_eq!(swap("x = y\n", &quoted("x = y\n"), &mut rng), None, "no operator");
        for glued in ["def f() -> int: pass\n", "x = a << 2\n", "x >>= 1\n", "x += 1\n"] {
            assert_eq!(swap(glued, &quoted(glued), &mut rng), None, "{glued}");
        }
        let largest = off_by_one(
            "x = 9223372036854775807\n",
            &quoted("x = 9223372036854775807\n"),
            &mut StdRng::seed_from_u64(3),
        );
        assert!(!largest.is_some_and(|v| v.contains("808")), "no overflow past i64");
        assert!(mutants("print(1)\n", 3, 0).is_empty(), "nothing above the last line");
        // A docstring's and a comment's digits and operators are not code.
        let documented =
            "def f(x):\n    '''f(2) == 3 and x <= 4'''\n    return x + 1  # 5 - 6 >= 7\ns = f\"{f'{1}' + '2'} 3\"\n";
        let quoted = quoted(documented);
        for _ in 0..50 {
            let v = off_by_one(documented, &quoted, &mut rng).unwrap();
            assert!(v.contains("return x + 2") || v.contains("return x + 0"), "{v}");
            let v = swap(documented, &quoted, &mut rng).unwrap();
            assert!(v.contains("return x - 1  # 5 - 6 >= 7"), "{v}");
        }
    }
}
