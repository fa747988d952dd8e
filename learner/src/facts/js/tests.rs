//! The JavaScript facts against the lines the guest reports.

use curio_trace::Language;

use crate::flow::{CALLEE, HANDLER, LEAVES, NEXT, NOT_TAKEN, TAKEN, line_flags_in};

/// Each step of `lines` (one frame's line events, as the guest reported
/// them) is among the lines flagged from the one before.
fn follows(source: &str, lines: &[u32]) {
    for pair in lines.windows(2) {
        let flags = line_flags_in(Language::Js, source, pair[0], None);
        let to = flags[pair[1] as usize - 1];
        assert_ne!(to & (NEXT | TAKEN | NOT_TAKEN | HANDLER), 0, "{} -> {}: {flags:?}", pair[0], pair[1]);
    }
}

fn flag(source: &str, from: u32, to: u32) -> i64 {
    line_flags_in(Language::Js, source, from, None)[to as usize - 1]
}

const CONTROL: &str = "\
function fact(n) {
  if (n <= 1) {
return 1;
  }
  return n * fact(n - 1);
}
let s = 0;
for (let i = 1; i <= 3; i++) {
  if (i % 2 === 0) {
s += i;
  } else if (i === 3) {
s *= 2;
  } else {
s -= 1;
  }
}
let j = 0;
while (j < 2) {
  j++;
}
do {
  j--;
} while (j > 0);
const t = [1, 2];
for (const v of t) {
  console.log(v);
}
const g = (x) => {
  const y = x + 1;
  return y;
};
g(1);
try {
  throw new Error(\"x\");
} catch (e) {
  s = 0;
} finally {
  s += 1;
}
switch (s) {
  case 1:
s = 5;
break;
  default:
s = 6;
}
console.log(fact(3), s);
";

#[test]
fn the_lines_javascript_runs_are_the_ones_flagged() {
    // The module's line events as the guest reports them: `fact` is
    // hoisted, blocks, `else`, `catch` and `case` run nothing, a
    // `do … while` comes back to its test's line.
    let module = [7, 8, 9, 11, 14, 8, 9, 10, 8, 9, 11, 12, 8, 17, 18, 19, 18, 19, 18, 21, 22, 23, 22, 23, 24, 25];
    follows(CONTROL, &module);
    follows(CONTROL, &[25, 26, 25, 28, 32, 33, 34]);
    // The throw at 34 is caught at 36; then the finally, the switch.
    assert_ne!(flag(CONTROL, 34, 36) & HANDLER, 0);
    follows(CONTROL, &[36, 38, 40, 42, 43, 47]);
    follows(CONTROL, &[29, 30]);
    assert_ne!(flag(CONTROL, 30, 30) & LEAVES, 0, "g returns");
    assert_ne!(flag(CONTROL, 32, 28) & CALLEE, 0, "g(1) begins at the arrow");
    assert_ne!(flag(CONTROL, 47, 1) & CALLEE, 0, "fact's calls begin at its first line");
    // A hoisted declaration runs no line of its own: what its line flags is
    // where a call of it goes in (2) and, on line 1, where the module does (7).
    assert_eq!(flag(CONTROL, 1, 2), TAKEN);
    assert_eq!(flag(CONTROL, 1, 7), TAKEN);
    let flagged = line_flags_in(Language::Js, CONTROL, 1, None).iter().filter(|&&f| f != 0).count();
    assert_eq!(flagged, 2, "nothing else is flagged from it");
}

#[test]
fn labels_one_line_branches_and_callbacks() {
    let source = "\
function noret(a) {
  let b = a + 1;
}
noret(1);
class P {
  constructor(x) {
this.x = x;
  }
  get() {
return this.x;
  }
}
const p = new P(3);
const sq = (v) => v * v;
console.log(
  sq(2),
  p.get()
);
outer: for (let i = 0; i < 2; i++) {
  for (let j = 0; j < 2; j++) {
if (j === 1) continue outer;
if (i === 1) break outer;
  }
}
for (;;) {
  break;
}
{
  let z = 1;
}
let q = 0;
while (true) {
  q++;
  if (q > 1) break;
}
";
    follows(source, &[4, 5, 13, 14, 15, 19, 20, 21, 22, 20, 21, 19, 20, 21, 22, 25, 26, 29, 31, 32, 33, 34, 32]);
    assert_ne!(flag(source, 2, 2) & LEAVES, 0, "a body that falls off its end leaves from its last line");
    assert_ne!(flag(source, 13, 6) & CALLEE, 0, "new P begins in its constructor");
    assert_ne!(flag(source, 15, 9) & CALLEE, 0, "p.get() begins at get");
    assert_ne!(flag(source, 15, 14) & CALLEE, 0, "a call on a later line of the statement is its first line's");
    // Line 14 is the module's statement and the arrow's body: both ways.
    assert_ne!(flag(source, 14, 15) & NEXT, 0);
    assert_ne!(flag(source, 14, 14) & LEAVES, 0);
}

#[test]
fn every_case_of_a_switch_is_a_way_in() {
    let source = "\
let r = 0;
switch (k) {
  case 1:
  case 2:
r = 1;
break;
  case 3:
  case 4:
r = 4;
  default:
r = 9;
}
if (r) r++; switch (k) {
  case 5:
r = 5;
  case 6:
r = 6;
}
console.log(r);
";
    let taken = |to: u32| flag(source, 2, to) & TAKEN != 0;
    assert!(taken(5), "cases 1 and 2 both fall into line 5");
    assert!(taken(9), "cases 3 and 4 fall into line 9, not the first case's");
    assert_ne!(flag(source, 2, 11) & NOT_TAKEN, 0, "no case matches: the default");
    assert!(!taken(11) && !taken(13) && !taken(6) && !taken(7) && !taken(8));
    follows(source, &[1, 2, 9, 11, 13]);
    follows(source, &[2, 5, 6, 13]);
    // A switch after an `if` on its line: its cases are still ways on from
    // the line, and no other switch's are.
    follows(source, &[13, 17, 19]);
    follows(source, &[13, 15, 17, 19]);
    assert_eq!(flag(source, 13, 9) & TAKEN, 0);
}

#[test]
fn a_program_that_does_not_parse_has_a_flag_per_line_and_no_panic() {
    for source in ["let a = 1;\nif (a) {\n  a = (;\n}\n", "let a = `${\n\n\n", "}}}\n)\n]\nclass {\n"] {
        assert_eq!(line_flags_in(Language::Js, source, 1, None).len(), source.lines().count(), "{source:?}");
    }
}

#[test]
fn loop_heads_one_line_bodies_and_guards() {
    let source = "\
const xs = [1, -2, 3];
for (const x of xs.filter((y) => y > 0)) {
  console.log(x);
}
for (let i = 0;
  i < 2;
  i++) {
  console.log(i);
}
let n = 0;
for (;;) {
  n++;
  if (n > 1) { n = 5; break; }
}
function sign(v) {
  if (v < 0) return -1;
  return 1;
}
console.log(sign(n));
";
    // The header keeps its branch though a function sits in it.
    assert_ne!(flag(source, 2, 3) & TAKEN, 0);
    assert_ne!(flag(source, 2, 5) & NOT_TAKEN, 0);
    // A test on a later line is where the loop comes back to.
    follows(source, &[5, 6, 8, 6, 10]);
    // No test: the body comes back to its own first line; the one-line
    // body's last statement (`break`) decides where the `if` goes.
    follows(source, &[10, 11, 12, 13, 12, 13, 19]);
    // A one-line guard `return` leaves, or goes on.
    assert_ne!(flag(source, 16, 16) & LEAVES, 0);
    follows(source, &[16, 17]);
}

#[test]
fn a_return_or_a_jump_out_of_a_try_runs_its_finally_first() {
    // As the guest reports it: `return x` on line 4 goes to line 10, the
    // `break` on line 18 to line 22.
    let src = "\
function f(x) {
  try {
    if (x > 1) {
      return x;
    }
    x += 1;
  } catch (e) {
    return 0;
  } finally {
    x += 10;
  }
  return x;
}
let s = f(3);
for (let i = 0; i < 3; i++) {
  try {
    if (i === 1) {
      break;
    }
    s += i;
  } finally {
    s += 100;
  }
}
console.log(s);
";
    follows(src, &[2, 3, 4, 10]);
    // Where the finally goes once done is flagged for the path that did
    // not jump only (22 -> 15, not 22 -> 25 after the `break`).
    follows(src, &[14, 15, 16, 17, 20, 22, 15, 16, 17, 18, 22]);
    assert_ne!(flag(src, 8, 10) & NEXT, 0, "a return in the catch runs the finally too");
    assert_eq!(flag(src, 4, 4) & LEAVES, 0, "the return does not leave from its own line");
    assert_ne!(flag(src, 12, 12) & LEAVES, 0, "a return outside the try leaves as before");
    assert_eq!(flag(src, 18, 25) & NEXT, 0, "the break goes to the finally, not past the loop");
}

#[test]
fn a_jump_out_of_a_try_through_a_switch_or_a_label_runs_the_finally() {
    let src = "\
outer: for (let i = 0; i < 3; i++) {
  try {
    switch (i) {
      case 1:
        continue;
      case 2:
        break;
    }
    for (const v of [1]) {
      break;
    }
    if (i > 5) {
      break outer;
    }
  } finally {
    i += 0;
  }
}
";
    // As the guest reports it: 1 2 3 9 10 12 16, 1 2 3 5 16, 1 2 3 7 9 10 12 16.
    follows(src, &[2, 3, 9, 10, 12, 16, 1, 2, 3, 5, 16, 1, 2, 3, 7, 9, 10, 12, 16]);
    assert_ne!(flag(src, 5, 16) & NEXT, 0, "a continue in a switch leaves the try");
    assert_ne!(flag(src, 7, 9) & NEXT, 0, "a break in a switch stays in the try");
    assert_ne!(flag(src, 10, 12) & NEXT, 0, "a break in a loop inside the try stays in it");
    assert_ne!(flag(src, 13, 16) & NEXT, 0, "a labelled break out of the try");
}

#[test]
fn a_call_goes_into_its_body_and_the_module_past_its_declarations() {
    // As the guest reports it: the module, called at line 1, runs line 5
    // first (declarations run no line); `f`, called at line 1, runs line
    // 2; the arrow `g`, called at line 5, line 6.
    let src = "\
function f(x) {
  const y = x + 1;
  return y;
}
const g = (a) => {
  return a * 2;
};
console.log(f(1), g(2));
";
    assert_ne!(flag(src, 1, 2) & TAKEN, 0, "into f's body");
    assert_ne!(flag(src, 1, 5) & TAKEN, 0, "the module's first line");
    assert_ne!(flag(src, 5, 6) & TAKEN, 0, "into g's body");
    assert_eq!(flag(src, 3, 2) & TAKEN, 0, "a line that makes no call flags no body");
}
