//! A line of Python source read for the model: the values it reads in
//! place of their names (from the parser's facts), and how deep in
//! brackets each token is (a byte scanner, as it also reads the bytes the
//! model writes).

use crate::facts::{Named, Use};

/// Longest value [`with_values`] puts in place of a name.
const VALUE_INLINE: usize = 48;

/// The code of a source `line`, indentation trimmed, with every local it
/// reads replaced by the local's value, or `None` when it reads none.
/// `names` are the names of the frame the line uses, as the parser reads
/// them ([`crate::facts::Facts::names`]): attributes, keywords' names,
/// string literals (an f-string's `{...}` is code), comments and the names
/// a comprehension or a `lambda` binds are none of them. Values longer
/// than [`VALUE_INLINE`] bytes and functions are left as names. The values
/// then sit beside the operators that combine them, so `if a < 3:` reads
/// `if 7 < 3:` and `b = a * 2` reads `b = 7 * 2`.
///
/// A target the line writes (`x = ...`, `a, b = ...`, `x += ...`, a `for`
/// loop's `for i in ...`) keeps its name and shows the value it holds
/// before the line runs, `x:7 = 7 + 0`: a line that assigns a variable the
/// value it already has changes nothing, the two values sit side by side
/// to be compared, and the name the delta sets is next to them. A string
/// that is a whole argument of `print` or a whole f-string field is shown
/// as the text it prints, without its quotes: `print(a, s)` reads
/// `print(7, ab)`. A subscript in a target is read (`d[a] = a` reads
/// `d[7] = 7`), and a keyword's name stays a name: `f(lo=lo)` reads
/// `f(lo=3)`.
pub fn with_values(line: &str, names: &[Named], locals: &[(String, String)]) -> Option<String> {
    let code = line.trim();
    let from = line.len() - line.trim_start().len();
    let to = from + code.len();
    let mut out = String::with_capacity(code.len() * 2);
    let (mut at, mut replaced) = (from, false);
    for named in names {
        let Some(value) = value_of(&named.id, locals) else { continue };
        // A name outside the code or out of order (the names of another
        // text) is skipped, never misplaced.
        let Some(name) = line.get(named.at.clone()).filter(|_| named.at.start >= at && named.at.end <= to) else {
            continue;
        };
        out.push_str(&line[at..named.at.start]);
        match named.used {
            Use::Written => {
                out.push_str(name);
                out.push(':');
                out.push_str(value);
            }
            Use::Printed => out.push_str(printed(value)),
            Use::Read => out.push_str(value),
        }
        (at, replaced) = (named.at.end, true);
    }
    out.push_str(&line[at..to]);
    replaced.then_some(out)
}

/// The value shown for the local `name`, unless it is too long or a
/// function.
fn value_of<'a>(name: &str, locals: &'a [(String, String)]) -> Option<&'a str> {
    let value = locals.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())?;
    (value.len() <= VALUE_INLINE && !value.starts_with('<')).then_some(value)
}

/// What `print` writes for a value shown as `repr`: a string's text without
/// its quotes when it holds no escape, else `repr` itself.
fn printed(repr: &str) -> &str {
    let quoted = |q: char| repr.len() >= 2 && repr.starts_with(q) && repr.ends_with(q);
    if (quoted('\'') || quoted('"')) && !repr.contains('\\') { &repr[1..repr.len() - 1] } else { repr }
}

/// Bracket depths: [`nesting`] is clamped below this.
pub const DEPTHS: i64 = 8;

/// Per token: how many brackets (`(`, `[`, `{`) are open at it, outside
/// quoted strings, counting one that opens or closes there; every line
/// starts again at 0 (a newline or a special token resets it). Causal: a
/// token's depth depends on the tokens up to it, so a target being written
/// has its depths as it goes. The embedding of it tells the `, ` between
/// `print`'s arguments (depth 1) from the `, ` inside a list it prints
/// (depth 2), and the `]` that closes a list from one that closes a
/// nested one, without counting brackets across a line.
pub fn nesting(tokens: &[i64]) -> Vec<i64> {
    let (mut depth, mut quote, mut escaped) = (0i64, None::<u8>, false);
    tokens
        .iter()
        .map(|&t| {
            if !(0..256).contains(&t) || t == i64::from(b'\n') {
                (depth, quote, escaped) = (0, None, false);
                return 0;
            }
            let b = t as u8;
            let here = match quote {
                Some(q) => {
                    match b {
                        _ if escaped => escaped = false,
                        b'\\' => escaped = true,
                        _ if b == q => quote = None,
                        _ => {}
                    }
                    depth
                }
                None => match b {
                    b'(' | b'[' | b'{' => {
                        depth += 1;
                        depth
                    }
                    b')' | b']' | b'}' => {
                        let inside = depth;
                        depth = (depth - 1).max(0);
                        inside
                    }
                    b'\'' | b'"' => {
                        quote = Some(b);
                        depth
                    }
                    _ => depth,
                },
            };
            here.min(DEPTHS - 1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::SEP;
    use crate::facts::Facts;

    #[test]
    fn the_values_a_line_reads_stand_in_for_their_names() {
        let locals: Vec<(String, String)> = [
            ("a", "7"),
            ("s", "'ab'"),
            ("xs", "[1]"),
            ("t", "(1, 2)"),
            ("get", "3"),
            ("fact", "<function fact at 0x1>"),
            ("long", &format!("'{}'", "z".repeat(60))),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let read = |code: &str| with_values(code, Facts::of(code).names(0), &locals);
        let cases = [
            ("b = a * 2", "b = 7 * 2"),
            ("if a < 3:", "if 7 < 3:"),
            ("a = a + 1", "a:7 = 7 + 1"),
            ("a = 7", "a:7 = 7"),
            ("a += t[0]", "a:7 += (1, 2)[0]"),
            ("a //= 2", "a:7 //= 2"),
            ("for a in xs:", "for a:7 in [1]:"),
            ("for a, s in t:", "for a:7, s:'ab' in (1, 2):"),
            ("for a in range(a):", "for a:7 in range(7):"),
            ("b = a <= 3", "b = 7 <= 3"),
            ("a, s = t", "a:7, s:'ab' = (1, 2)"),
            ("print(a, s)", "print(7, ab)"),
            ("print(len(s), s.upper(), xs)", "print(len('ab'), 'ab'.upper(), [1])"),
            ("x == a", "x == 7"),
            ("xs.append(a)", "[1].append(7)"),
            ("u = s.get(s, a)", "u = 'ab'.get('ab', 7)"),
            ("u = f'{s}:{len(s)}' + 'a s'", "u = f'{ab}:{len('ab')}' + 'a s'"),
            ("u = f'{s!r}' + s", "u = f'{'ab'!r}' + 'ab'"),
            ("u = 'é\\'' + s", "u = 'é\\'' + 'ab'"),
            ("v = fact(a)", "v = fact(7)"),
            ("v = clamp(a, lo=a, hi=a == 3)", "v = clamp(7, lo=7, hi=7 == 3)"),
            ("d[a] = a", "d[7] = 7"),
        ];
        for (code, want) in cases {
            assert_eq!(read(code).as_deref(), Some(want), "{code}");
        }
        for untouched in ["print('a s')", "v = fact(3)", "v = long + 'x'", "b = c", "x.a = 1", "def f(a=0):"] {
            assert_eq!(read(untouched), None, "{untouched}");
        }
    }

    #[test]
    fn the_parser_knows_what_the_text_does_not() {
        let locals: Vec<(String, String)> =
            [("a", "7"), ("s", "'ab'"), ("w", "'w'"), ("lo", "3"), ("xs", "[1]"), ("rest", "[2]")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let read = |source: &str, line: usize| {
            let text = source.lines().nth(line).unwrap();
            with_values(text, Facts::of(source).names(line), &locals)
        };
        // What a comprehension or a lambda binds is not the frame's; a
        // comment is not code.
        assert_eq!(read("u = [w for w in s]", 0).as_deref(), Some("u = [w for w in 'ab']"));
        assert_eq!(read("f = lambda a: a + s", 0).as_deref(), Some("f = lambda a: a + 'ab'"));
        assert_eq!(read("u = a  # a or s", 0).as_deref(), Some("u = 7  # a or s"));
        // Targets in brackets are targets; a line of a statement over
        // several lines is read as part of it.
        assert_eq!(read("(a, s) = xs", 0).as_deref(), Some("(a:7, s:'ab') = [1]"));
        assert_eq!(read("a, *rest = xs", 0).as_deref(), Some("a:7, *rest:[2] = [1]"));
        assert_eq!(read("print(\n    a,\n    s,\n)", 2).as_deref(), Some("ab,"));
        assert_eq!(read("g(\n    lo=lo,\n)", 1).as_deref(), Some("lo=3,"));
        assert_eq!(read("u = \"\"\"\na s\n\"\"\"", 1), None, "inside a string");
        assert_eq!(read("u = fr'{s}'", 0).as_deref(), Some("u = fr'{ab}'"));
    }

    #[test]
    fn a_line_that_does_not_parse_reads_what_the_parser_recovered() {
        let locals = vec![("a".to_string(), "7".to_string())];
        let cases = [
            ("b = = a", "b = = 7"),
            ("if a <:", "if 7 <:"),
            ("print(a", "print(7"),
            ("def f(a:", "def f(7:"),
            ("for in a:", "for in 7:"),
            (")a(", ")7("),
        ];
        for (source, want) in cases {
            assert_eq!(with_values(source, Facts::of(source).names(0), &locals).as_deref(), Some(want), "{source}");
        }
        assert_eq!(with_values("b = a", &[], &locals), None, "a line with no facts reads nothing");
    }

    #[test]
    fn bracket_depth_tells_print_arguments_from_list_items() {
        let tokens = |text: &str| text.bytes().map(i64::from).collect::<Vec<_>>();
        let depths = |text: &str| nesting(&tokens(text)).iter().map(|d| d.to_string()).collect::<String>();
        // `print(3, [0, 4], '(')`: the arguments' commas at 1, the list's at
        // 2, brackets inside a string not counted.
        assert_eq!(depths("p(3, [0, 4], '(')"), "01111222222111111");
        assert_eq!(depths("x={'a': [1]}\ny"), "00111111222100");
        // An escaped quote does not end the string; a special token resets.
        let mut t = tokens("f('\\'(')");
        t.push(SEP);
        t.extend(tokens("(x"));
        assert_eq!(nesting(&t), [0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1]);
        // Deep nesting is clamped, and an unmatched closer does not go below 0.
        assert_eq!(*nesting(&tokens(&"[".repeat(20))).last().unwrap(), DEPTHS - 1);
        assert_eq!(nesting(&tokens("]]a")), [0, 0, 0]);
    }
}
