//! The working the model writes before it picks the next line: the current
//! line with the values it reads in place and its integer arithmetic done,
//! `if 7 * 5 < 13 // 2:` worked to `if 35 < 6:`. A branch turns on a
//! comparison whose operands the line computes; at the one position that
//! picks the next line the model would have to multiply and compare at
//! once. Writing the operands out first, byte by byte as it writes a delta,
//! leaves the comparison of two numbers to the action. It is a target like
//! the delta (training teaches it from [`reduce`]); at inference the model
//! writes its own ([`crate::infer::work`]), and nothing computed here is
//! given to it.

/// How an operator binds: `*`, `//`, `%` before `+`, `-`; `**` binds
/// tighter than both and is never worked (an operand next to it is left).
fn binding(op: &str) -> u8 {
    match op {
        "**" => 3,
        "*" | "//" | "%" => 2,
        "+" | "-" => 1,
        _ => 0,
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Int(i128),
    /// An arithmetic operator (`+ - * // % **`).
    Op(&'static str),
    /// A comparison (`< > <= >= == !=`).
    Cmp(&'static str),
    /// Spaces.
    Space(String),
    /// Anything else, copied as it is: names, strings, floats, brackets,
    /// comparisons, other operators.
    Other(String),
}

/// One line of code as tokens, every byte of it in one.
fn tokens(code: &str) -> Vec<Tok> {
    let mut out: Vec<Tok> = vec![];
    let mut i = 0;
    while i < code.len() {
        let (tok, end) = next_token(code, i, &out);
        out.push(tok);
        i = end;
    }
    out
}

/// Whether a `-` after `out` follows an operand (and so is arithmetic):
/// not at the start, nor after an operator, a bracket, a comma, a
/// comparison or an `=`, where it starts a negative literal.
fn operand_before(out: &[Tok]) -> bool {
    match out.iter().rev().find(|t| !matches!(t, Tok::Space(_))) {
        None | Some(Tok::Op(_) | Tok::Cmp(_)) => false,
        Some(Tok::Int(_)) => true,
        Some(Tok::Other(s)) => s.ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ')' || c == ']'),
        Some(Tok::Space(_)) => unreachable!("spaces are skipped"),
    }
}

/// The token of `code` that starts at byte `i`, after the tokens `out`,
/// and the byte it ends before.
fn next_token(code: &str, i: usize, out: &[Tok]) -> (Tok, usize) {
    let b = code.as_bytes();
    let c = b[i];
    let rest = &code[i..];
    if c == b' ' {
        let end = rest.find(|ch| ch != ' ').map_or(b.len(), |e| i + e);
        (Tok::Space(code[i..end].to_string()), end)
    } else if c.is_ascii_digit() || (c == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit) && !operand_before(out))
    {
        number(code, i)
    } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
        // A name (or a string prefix: `f'...'` is read as a name, then
        // a string); a character that is neither goes alone.
        let end = rest.find(|ch: char| !(ch.is_alphanumeric() || ch == '_')).map_or(b.len(), |e| i + e);
        let end = if end > i { end } else { i + rest.chars().next().map_or(1, char::len_utf8) };
        (Tok::Other(code[i..end].to_string()), end)
    } else if c == b'\'' || c == b'"' {
        let mut j = i + 1;
        while j < b.len() && b[j] != c {
            j += if b[j] == b'\\' { 2 } else { 1 };
        }
        let end = (j + 1).min(b.len());
        (Tok::Other(code[i..end].to_string()), end)
    } else {
        symbol(code, i)
    }
}

/// The number that starts at byte `start` of `code` (a `-` there is its
/// sign), and the byte it ends before: an integer to work, or a literal
/// copied as it is.
fn number(code: &str, start: usize) -> (Tok, usize) {
    let b = code.as_bytes();
    let mut i = start + 1;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    // A float, a complex, a hex or an underscored literal is not worked.
    let tail = i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_');
    match code[start..i].parse::<i128>() {
        Ok(v) if !tail => (Tok::Int(v), i),
        _ => {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
                i += 1;
            }
            (Tok::Other(code[start..i].to_string()), i)
        }
    }
}

/// The operator, comparison or other symbol at byte `i` of `code`, and the
/// byte it ends before.
fn symbol(code: &str, i: usize) -> (Tok, usize) {
    let rest = &code[i..];
    if rest.starts_with("<<") || rest.starts_with(">>") || rest.starts_with("->") {
        (Tok::Other(rest[..2].to_string()), i + 2)
    } else if let Some(cmp) = ["<=", ">=", "==", "!=", "<", ">"].into_iter().find(|c| rest.starts_with(c)) {
        (Tok::Cmp(cmp), i + cmp.len())
    } else if let Some(op) = ["**", "//", "*", "%", "+", "-"].into_iter().find(|op| rest.starts_with(op)) {
        // `+=`, `//=`, ...: an augmented assignment, not arithmetic here.
        if rest[op.len()..].starts_with('=') {
            (Tok::Other(format!("{op}=")), i + op.len() + 1)
        } else {
            (Tok::Op(op), i + op.len())
        }
    } else {
        let len = rest.chars().next().map_or(1, char::len_utf8);
        (Tok::Other(code[i..i + len].to_string()), i + len)
    }
}

/// Python's integer arithmetic: floor division and a modulo with the
/// divisor's sign; `None` on division by zero (the line raises) or overflow.
fn apply(op: &str, a: i128, b: i128) -> Option<i128> {
    let v = match op {
        "+" => a.checked_add(b)?,
        "-" => a.checked_sub(b)?,
        "*" => a.checked_mul(b)?,
        "//" | "%" if b == 0 => return None,
        "//" => a.div_euclid(b) - i128::from(b < 0 && a.rem_euclid(b) != 0),
        "%" => {
            let r = a.rem_euclid(b);
            if b < 0 && r != 0 { r + b } else { r }
        }
        _ => return None,
    };
    (i128::from(i64::MIN)..=i128::from(i64::MAX)).contains(&v).then_some(v)
}

/// The index of the nearest token that is not a space, from `i` on
/// (`forward`) or before `i`.
fn solid(toks: &[Tok], i: usize, forward: bool) -> Option<usize> {
    let spaced = |&j: &usize| !matches!(toks[j], Tok::Space(_));
    if forward { (i..toks.len()).find(spaced) } else { (0..i).rev().find(spaced) }
}

/// Does `toks`' integer arithmetic in place, operation by operation in
/// Python's order; whether it did any. A worked operation is `int op int`
/// whose left operand no operator before it binds as tightly, whose right
/// operand none after it binds more tightly, and that is not cut short by
/// a bracket or a name (`f(2) * 3`, `a[1] + 2` are left).
fn arithmetic(toks: &mut Vec<Tok>) -> bool {
    let mut worked = false;
    'again: loop {
        for i in 0..toks.len() {
            // i: the left operand; then an operator and the right operand.
            let Tok::Int(a) = toks[i] else { continue };
            let Some(o) = solid(toks, i + 1, true) else { continue };
            let Tok::Op(op) = toks[o] else { continue };
            let Some(r) = solid(toks, o + 1, true) else { continue };
            let Tok::Int(b) = toks[r] else { continue };
            let level = binding(op);
            if level == 3 {
                continue;
            }
            let bound_before = match solid(toks, i, false).map(|j| &toks[j]) {
                Some(Tok::Op(p)) => binding(p) >= level,
                // `x.y * 2`, `~1 * 2`: an operand that is not ours.
                Some(Tok::Other(s)) => s == "." || s == "~",
                _ => false,
            };
            let bound_after = match solid(toks, r + 1, true).map(|j| &toks[j]) {
                Some(Tok::Op(p)) => binding(p) > level,
                Some(Tok::Other(s)) => s == "." || s == "(" || s == "[",
                _ => false,
            };
            if bound_before || bound_after {
                continue;
            }
            let Some(v) = apply(op, a, b) else { continue };
            toks.drain(i + 1..=r);
            toks[i] = Tok::Int(v);
            worked = true;
            continue 'again;
        }
        return worked;
    }
}

/// The value of `toks`' one comparison when it compares two integers
/// that no arithmetic operator binds (`35 < 6`; not `2 ** 3 < 9`,
/// `a < b < c` or `f(1) < 2`).
fn verdict(toks: &[Tok]) -> Option<bool> {
    let solid: Vec<&Tok> = toks.iter().filter(|t| !matches!(t, Tok::Space(_))).collect();
    let cmps: Vec<usize> = (0..solid.len()).filter(|&i| matches!(solid[i], Tok::Cmp(_))).collect();
    let [c] = cmps[..] else { return None };
    let (Tok::Cmp(cmp), Some(Tok::Int(a)), Some(Tok::Int(b))) =
        (solid[c], c.checked_sub(1).map(|i| solid[i]), solid.get(c + 1).copied())
    else {
        return None;
    };
    let bound = |i: Option<usize>| matches!(i.and_then(|i| solid.get(i)), Some(Tok::Op(_)));
    if bound(c.checked_sub(2)) || bound(Some(c + 2)) {
        return None;
    }
    Some(match *cmp {
        "<" => a < b,
        ">" => a > b,
        "<=" => a <= b,
        ">=" => a >= b,
        "==" => a == b,
        _ => a != b,
    })
}

fn text(toks: &[Tok]) -> String {
    toks.iter()
        .map(|t| match t {
            Tok::Int(v) => v.to_string(),
            Tok::Op(op) | Tok::Cmp(op) => op.to_string(),
            Tok::Space(s) | Tok::Other(s) => s.clone(),
        })
        .collect()
}

/// Whether `code` has arithmetic in it (`+ - * // % **` between
/// operands, outside string literals; a negative literal's sign is none).
pub fn computes(code: &str) -> bool {
    tokens(code).iter().any(|t| matches!(t, Tok::Op(_)))
}

fn truth(v: bool) -> &'static str {
    if v { "True" } else { "False" }
}

/// The working a line calls for, without its newline, or `None`:
/// - a line that compares: the line with its arithmetic done, if it has
///   any (`if 35 < 6:`), then the comparison's value when it compares two
///   integers (`if 35 < 6: False`; `True` alone for `if 0 <= 2:`);
/// - a `for` loop over a `range` of integers: the value the loop goes on
///   with, the bound and whether it does (`4 < 4 False`): the loop's first
///   value when it is entered from above, the next after the one it holds
///   when it comes back from its body (`back`, asked only of such a loop:
///   [`came_back`]). Where control came from another function (a call's
///   return) it is not told, and there is none.
///
/// `code` is the line as written, `read` the same with its values read in
/// ([`crate::encode::with_values`]), when it reads any.
pub fn working(code: &str, read: Option<&str>, back: impl FnOnce() -> Option<bool>) -> Option<String> {
    let text_read = read.unwrap_or(code);
    if crate::data::compares(code) {
        let mut toks = tokens(text_read);
        let worked = arithmetic(&mut toks).then(|| text(&toks));
        return match (worked, verdict(&toks)) {
            (Some(w), Some(v)) => Some(format!("{w} {}", truth(v))),
            (Some(w), None) => Some(w),
            (None, Some(v)) => Some(truth(v).to_string()),
            (None, None) => None,
        };
    }
    let rest = text_read.strip_prefix("for ")?;
    let (target, rest) = rest.split_once(" in range(")?;
    let args = rest.strip_suffix("):")?;
    let args: Vec<i64> = args.split(',').map(|a| a.trim().parse().ok()).collect::<Option<_>>()?;
    let (start, stop, step) = match args[..] {
        [stop] => (0, stop, 1),
        [start, stop] => (start, stop, 1),
        [start, stop, step] if step != 0 => (start, stop, step),
        _ => return None,
    };
    let held = target.split_once(':').map(|(_, v)| v.parse::<i64>());
    let next = match (back()?, held) {
        (false, _) => start,
        (true, Some(Ok(v))) => v.checked_add(step)?,
        (true, _) => return None,
    };
    let (cmp, goes_on) = if step > 0 { ("<", next < stop) } else { (">", next > stop) };
    Some(format!("{next} {cmp} {stop} {}", truth(goes_on)))
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// The 0-based index of the `def` whose body holds 0-based line `i`, or
/// `None` at module level.
fn function_of(lines: &[&str], i: usize) -> Option<usize> {
    let mut within = indent(lines[i]);
    for j in (0..i).rev() {
        let l = lines[j];
        if blank(l) || indent(l) >= within {
            continue;
        }
        if l.trim_start().starts_with("def ") || l.trim_start().starts_with("async def ") {
            return Some(j);
        }
        within = indent(l);
    }
    None
}

/// Whether control came to 1-based `line` (a loop head) back from its own
/// body (`Some(true)`), from above or at the start (`Some(false)`), or
/// from elsewhere: another function's line (a call's return) or below the
/// body (`None`).
pub fn came_back(lines: &[&str], line: u32, from: u32) -> Option<bool> {
    let (here, there) = ((line as usize).checked_sub(1)?, (from as usize).checked_sub(1));
    let Some(there) = there else { return Some(false) };
    if here >= lines.len() || there >= lines.len() || function_of(lines, here) != function_of(lines, there) {
        return None;
    }
    match there.cmp(&here) {
        std::cmp::Ordering::Less => return Some(false),
        // A loop on one line: its body is the same line.
        std::cmp::Ordering::Equal => return None,
        std::cmp::Ordering::Greater => {}
    }
    let head = indent(lines[here]);
    lines[here + 1..=there].iter().all(|l| blank(l) || indent(l) > head).then_some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `code` with its integer arithmetic done, or `None` when it has none.
    fn reduce(code: &str) -> Option<String> {
        let mut toks = tokens(code);
        arithmetic(&mut toks).then(|| text(&toks))
    }

    #[test]
    fn arithmetic_is_done_in_pythons_order() {
        let cases = [
            ("if 7 * 5 < 13 // 2:", Some("if 35 < 6:")),
            ("while 2 + 3 * 4 >= 1 - 2 - 3:", Some("while 14 >= -4:")),
            ("b = -7 // 2 == -7 % 3", Some("b = -4 == 2")),
            ("b:True = 7 // -2 != 7 % -3", Some("b:True = -4 != -2")),
            ("if 2 ** 3 * 4 > 1:", None),
            ("if 3 - -2 > 1:", Some("if 5 > 1:")),
            ("if 4 // 0 < 1:", None),
            ("if f(2) * 3 < a[1] + 2:", None),
            ("if 1.5 * 2 < 3:", None),
            ("if 's' * 2 < 'x':", None),
            ("if 10 < 20:", None),
            ("x += 2 * 3", Some("x += 6")),
            ("print('1 + 2', 1 + 2)", Some("print('1 + 2', 3)")),
            ("if x1 + 2 < 3:", None),
            ("if 'é→' < 2 * 3 ⏎:", Some("if 'é→' < 6 ⏎:")),
        ];
        for (code, want) in cases {
            assert_eq!(reduce(code).as_deref(), want, "{code}");
        }
    }

    #[test]
    fn a_comparison_is_worked_to_its_operands_and_value() {
        let cases = [
            ("if a * 5 < b // 2:", Some("if 7 * 5 < 13 // 2:"), Some("if 35 < 6: False")),
            ("if n <= 2:", Some("if 0 <= 2:"), Some("True")),
            ("c0 = a0 >= n", Some("c0 = 3 >= 6"), Some("False")),
            ("c0 = a0 != n - 1", Some("c0:True = 3 != 4 - 1"), Some("c0:True = 3 != 3 False")),
            ("if s == t:", Some("if 'a' == 'b':"), None),
            ("if s * 2 == t:", Some("if 'a' * 2 == 'b':"), None),
            ("if 1 < x < 3:", Some("if 1 < 2 < 3:"), None),
            ("if 2 ** x < 9:", Some("if 2 ** 3 < 9:"), None),
            ("if f(x) < 9:", Some("if f(3) < 9:"), None),
            ("x = y + 2", Some("x = 1 + 2"), None),
        ];
        for (code, read, want) in cases {
            assert_eq!(working(code, read, || None).as_deref(), want, "{code}");
        }
    }

    #[test]
    fn a_counting_loop_is_worked_to_its_next_value_and_whether_it_goes_on() {
        let cases = [
            ("for i:3 in range(4):", Some(true), Some("4 < 4 False")),
            ("for i:1 in range(4):", Some(true), Some("2 < 4 True")),
            ("for i:3 in range(0):", Some(false), Some("0 < 0 False")),
            ("for i in range(4):", Some(false), Some("0 < 4 True")),
            ("for i:2 in range(1, 4):", Some(false), Some("1 < 4 True")),
            ("for i:4 in range(10, 0, -3):", Some(true), Some("1 > 0 True")),
            ("for i:3 in range(4):", None, None),
            ("for i in range(4):", Some(true), None),
            ("for c:'a' in 'ab':", Some(true), None),
            ("for i:1 in range(len(s)):", Some(true), None),
        ];
        for (read, back, want) in cases {
            assert_eq!(working("for i in range(n):", Some(read), || back).as_deref(), want, "{read} {back:?}");
        }
        assert_eq!(working("for i in range(4):", None, || Some(false)).as_deref(), Some("0 < 4 True"), "nothing read");
        assert!(computes("if a - 1 < 2:") && computes("if a ** 2 < 2:") && !computes("if a < -3:"));
        assert!(!computes("if s == 'a + b':") && !computes("x += 1"));
    }

    #[test]
    fn a_loop_head_is_told_come_back_from_its_body_or_entered() {
        let source =
            "def f(x):\n    return x\nfor i in range(3):\n    y = f(i)\n    for j in range(2):\n        z = j\n";
        let lines: Vec<&str> = source.lines().collect();
        assert_eq!(came_back(&lines, 3, 0), Some(false), "the first step");
        assert_eq!(came_back(&lines, 5, 4), Some(false), "entered from above");
        assert_eq!(came_back(&lines, 5, 6), Some(true), "back from its body");
        assert_eq!(came_back(&lines, 3, 5), Some(true), "back from an inner loop's head");
        assert_eq!(came_back(&lines, 3, 2), None, "a call's return");
        assert_eq!(came_back(&lines, 3, 3), None, "a loop on one line");
    }

    #[test]
    fn worked_values_match_python_on_every_sign() {
        // Python: -7 // 2 == -4, -7 % 2 == 1, 7 // -2 == -4, 7 % -2 == -1.
        assert_eq!(apply("//", -7, 2), Some(-4));
        assert_eq!(apply("%", -7, 2), Some(1));
        assert_eq!(apply("//", 7, -2), Some(-4));
        assert_eq!(apply("%", 7, -2), Some(-1));
        assert_eq!(apply("//", -6, -3), Some(2));
        assert_eq!(apply("%", -6, -4), Some(-2));
        assert_eq!(apply("*", i128::from(i64::MAX), 2), None);
    }
}
