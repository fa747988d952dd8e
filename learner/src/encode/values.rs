//! Scanners that read a line of Python source: the values a line reads in
//! place of their names, and how deep in brackets each token is.

/// Longest value [`with_values`] puts in place of a name.
const VALUE_INLINE: usize = 48;

/// `code` with every local it reads replaced by the local's value, or
/// `None` when it reads none. A name counts as read unless it is an
/// attribute (after `.`) or inside a string literal (an f-string's `{...}`
/// is code); values longer than [`VALUE_INLINE`] bytes and functions are
/// left as names. The values then sit beside the operators that combine
/// them, so `if a < 3:` reads `if 7 < 3:` and `b = a * 2` reads
/// `b = 7 * 2`.
///
/// A target the line writes (`x = ...`, `a, b = ...`, `x += ...`, a `for`
/// loop's `for i in ...`) keeps its name and shows the value it holds
/// before the line runs, `x:7 = 7 + 0`: a line that assigns a variable the
/// value it already has changes nothing, the two values sit side by side
/// to be compared, and the name the delta sets is next to them. A string that is a
/// whole argument of `print` or a whole f-string field is shown as the
/// text it prints, without its quotes: `print(a, s)` reads `print(7, ab)`.
/// Inside brackets nothing is a target, and a keyword's name stays a name:
/// `f(lo=lo)` reads `f(lo=3)`.
pub fn with_values(code: &str, locals: &[(String, String)]) -> Option<String> {
    let bytes = code.as_bytes();
    let mut out = String::with_capacity(code.len() * 2);
    let (mut i, mut replaced) = (0, false);
    // The quote of the string literal we are in, if any, and whether it is
    // an f-string; `depth` counts an f-string's open braces (code inside).
    let (mut quote, mut fstring, mut depth): (Option<u8>, bool, usize) = (None, false, 0);
    // Open brackets outside string literals: a `print(` argument is at 1.
    let mut brackets = 0usize;
    let line = Reading { code, locals, printing: code.starts_with("print("), looping: code.starts_with("for ") };
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote.filter(|_| depth == 0) {
            match b {
                // The escaped character goes along with its backslash.
                b'\\' => i += copy_char(code, i, &mut out),
                b'{' if fstring => depth += 1,
                _ if b == q => quote = None,
                _ => {}
            }
            i += copy_char(code, i, &mut out);
            continue;
        }
        if b == b'}' && depth > 0 {
            depth -= 1;
        } else if quote.is_none() && b"([{".contains(&b) {
            brackets += 1;
        } else if quote.is_none() && b")]}".contains(&b) {
            brackets = brackets.saturating_sub(1);
        } else if (b == b'\'' || b == b'"') && depth == 0 {
            fstring = i > 0 && bytes[i - 1].eq_ignore_ascii_case(&b'f');
            quote = Some(b);
        } else if b.is_ascii_alphabetic() || b == b'_' {
            let (end, read) = line.name(i, quote.is_some(), brackets, &mut out);
            replaced |= read;
            i = end;
            continue;
        }
        i += copy_char(code, i, &mut out);
    }
    replaced.then_some(out)
}

/// A line [`with_values`] reads, and what holds for all of it.
struct Reading<'a> {
    code: &'a str,
    locals: &'a [(String, String)],
    /// The line is a `print(...)` call: its own arguments print whole.
    printing: bool,
    /// The line is a `for` loop: its targets are the names before `in`.
    looping: bool,
}

impl<'a> Reading<'a> {
    /// Writes the name that starts at byte `start` to `out`, in place of
    /// it the value it reads if any; where the name ends, and whether it
    /// wrote a value. `in_string`: in an f-string's field; `brackets`: how
    /// many brackets are open outside string literals.
    fn name(&self, start: usize, in_string: bool, brackets: usize, out: &mut String) -> (usize, bool) {
        let end = name_end(self.code.as_bytes(), start);
        let name = &self.code[start..end];
        let value = self.value(start, end, in_string, brackets);
        let whole = self.whole(start, end, in_string, brackets);
        match value {
            Some(v) if brackets == 0 && assigned(&self.code[end..], self.looping) => {
                out.push_str(name);
                out.push(':');
                out.push_str(v);
            }
            Some(v) => out.push_str(if whole { printed(v) } else { v }),
            None => out.push_str(name),
        }
        (end, value.is_some())
    }

    /// The value shown for the name at `start..end`: the local's, unless
    /// the name is an attribute, a string's prefix or a keyword argument,
    /// or the value is too long or a function.
    fn value(&self, start: usize, end: usize, in_string: bool, brackets: usize) -> Option<&'a str> {
        let (code, bytes) = (self.code, self.code.as_bytes());
        let name = &code[start..end];
        let attribute = start > 0 && bytes[start - 1] == b'.';
        let starts_string = end < bytes.len() && (bytes[end] == b'\'' || bytes[end] == b'"');
        // `f(lo=lo)`, `def f(lo=0):`: a keyword's name, not a read or a write.
        let keyword = !in_string && brackets > 0 && {
            let rest = code[end..].trim_start();
            rest.starts_with('=') && !rest.starts_with("==")
        };
        self.locals
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !attribute && !starts_string && !keyword && v.len() <= VALUE_INLINE && !v.starts_with('<'))
    }

    /// Whether the name at `start..end` is printed whole: a `print`
    /// argument of its own, or an f-string field.
    fn whole(&self, start: usize, end: usize, in_string: bool, brackets: usize) -> bool {
        let before = self.code[..start].trim_end().as_bytes().last();
        let after = self.code[end..].trim_start().as_bytes().first();
        if in_string {
            before == Some(&b'{') && after == Some(&b'}')
        } else {
            self.printing && brackets == 1 && matches!(before, Some(b'(' | b',')) && matches!(after, Some(b',' | b')'))
        }
    }
}

/// Where the name that starts at byte `start` of `bytes` ends.
fn name_end(bytes: &[u8], start: usize) -> usize {
    (start..bytes.len()).find(|&j| !(bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_')).unwrap_or(bytes.len())
}

/// What `print` writes for a value shown as `repr`: a string's text without
/// its quotes when it holds no escape, else `repr` itself.
fn printed(repr: &str) -> &str {
    let quoted = |q: char| repr.len() >= 2 && repr.starts_with(q) && repr.ends_with(q);
    if (quoted('\'') || quoted('"')) && !repr.contains('\\') { &repr[1..repr.len() - 1] } else { repr }
}

/// Copies the character of `code` at byte `i` (if any) to `out`; its length.
fn copy_char(code: &str, i: usize, out: &mut String) -> usize {
    code.get(i..).and_then(|rest| rest.chars().next()).map_or(0, |c| {
        out.push(c);
        c.len_utf8()
    })
}

/// Augmented assignments: their target is read and written.
const AUGMENTED: [&str; 13] = ["+=", "-=", "*=", "/=", "//=", "%=", "**=", "|=", "&=", "^=", ">>=", "<<=", "@="];

/// Whether a name followed by `rest` is a target the line writes: `rest`
/// is `= ...` (not `==`) or an augmented `+= ...`, possibly after more
/// `, name`s; in a `for` line, `in ...` after them.
fn assigned(rest: &str, for_loop: bool) -> bool {
    let mut r = rest.trim_start();
    while let Some(more) = r.strip_prefix(',') {
        let more = more.trim_start();
        let name = more.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(more.len());
        if name == 0 {
            return false;
        }
        r = more[name..].trim_start();
    }
    if for_loop {
        return r.strip_prefix("in").is_some_and(|after| after.starts_with([' ', '(', '[']));
    }
    (r.starts_with('=') && !r.starts_with("==")) || AUGMENTED.iter().any(|op| r.starts_with(op))
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
        let read = |code: &str| with_values(code, &locals);
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
