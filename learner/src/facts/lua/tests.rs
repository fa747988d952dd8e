//! The Lua facts against the lines the guest reports.

use curio_trace::Language;

use crate::flow::{CALLEE, LEAVES, NEXT, NOT_TAKEN, TAKEN, line_flags_in};

/// The lines (1-based) flagged as where control goes from `line`.
fn goes(source: &str, line: u32) -> Vec<usize> {
    let flags = line_flags_in(Language::Lua, source, line, None);
    flags.iter().enumerate().filter(|(_, f)| *f & (NEXT | TAKEN | NOT_TAKEN) != 0).map(|(j, _)| j + 1).collect()
}

/// Each step of `lines` (one frame's line events, as the guest reported
/// them) is among the lines flagged from the one before.
fn follows(source: &str, lines: &[u32]) {
    for pair in lines.windows(2) {
        let flagged = goes(source, pair[0]);
        assert!(flagged.contains(&(pair[1] as usize)), "{} -> {}: flagged {flagged:?}", pair[0], pair[1]);
    }
}

const LOOPS: &str = "\
local function fact(n)
  if n <= 1 then
return 1
  end
  return n * fact(n - 1)
end
local s = 0
for i = 1, 3 do
  if i % 2 == 0 then
s = s + i
  elseif i == 3 then
s = s * 2
  else
s = s - 1
  end
end
local j = 0
while j < 2 do
  j = j + 1
end
repeat
  j = j - 1
until j == 0
local t = {1, 2}
for k, v in ipairs(t) do
  print(k, v)
end
local function g()
  local x = 1
end
g()
print(fact(3), s)
";

#[test]
fn the_lines_lua_runs_are_the_ones_flagged() {
    // The module's line events, as the guest reports them: a function
    // is made at its `end`, `else` and `repeat` run nothing, a generic
    // `for` leaves by its `end`.
    let module = [6, 7, 8, 9, 11, 14, 8, 9, 10, 8, 9, 11, 12, 8, 17, 18, 19, 18, 19, 18, 22, 23, 22, 23, 24, 25];
    follows(LOOPS, &module);
    follows(LOOPS, &[25, 26, 25, 27, 30, 31]);
    // g falls off its end: its `end` line runs, and leaves.
    follows(LOOPS, &[29, 30]);
    assert_ne!(line_flags_in(Language::Lua, LOOPS, 30, Some(31))[29] & LEAVES, 0, "g's end leaves");
    assert_ne!(line_flags_in(Language::Lua, LOOPS, 3, None)[2] & LEAVES, 0, "a return leaves");
    // Line 32 calls fact, whose calls begin at its first line.
    assert_ne!(line_flags_in(Language::Lua, LOOPS, 32, None)[0] & CALLEE, 0);
    assert_ne!(line_flags_in(Language::Lua, LOOPS, 31, None)[27] & CALLEE, 0, "g() calls g");
}

#[test]
fn functions_gotos_and_breaks_go_where_lua_goes() {
    let source = "\
function gf(a)
  return a + 1
end
local f = function(x)
  return x * 2
end
for i = 1, 2 do
  if i == 1 then goto cont end
  x = i
  ::cont::
end
for _, v in ipairs({1}) do
  break
end
local w = 0
while true do
  w = w + 1
  if w > 1 then break end
end
local z = f(gf(1))
";
    // A global function is made at its `end` and bound at its first
    // line; `local f = function` is made at its `end`.
    follows(source, &[3, 1, 6, 7, 8, 7, 8, 9, 7, 12, 13, 14, 15, 17, 18, 17, 18, 20]);
    assert_eq!(goes(source, 8), [7, 9], "taken, by the goto to the loop's head; or past the `then`");
    assert_ne!(line_flags_in(Language::Lua, source, 20, None)[3] & CALLEE, 0, "f's calls begin at line 4");
    assert_ne!(line_flags_in(Language::Lua, source, 20, None)[0] & CALLEE, 0, "gf's at line 1");
}

#[test]
fn a_broken_program_still_has_facts_for_what_parses() {
    let source = "local a = 1\nif a then\n  a = (\nend\nlocal b = 2\n";
    let facts = crate::facts::Facts::of_in(Language::Lua, source);
    assert_eq!(facts.lines.len(), 5);
    assert!(facts.lines[0].is_some(), "{:?}", facts.lines);
    // full_moon's lexer panics on a stray backtick: no facts, no panic.
    for source in ["local s = `x`\nprint(s)\n", "print(1)\n`\n"] {
        assert_eq!(line_flags_in(Language::Lua, source, 1, None).len(), 2, "{source:?}");
    }
}

#[test]
fn a_goto_goes_to_the_label_it_can_see() {
    // Two loops with a `::continue::` each: each goto its own loop's.
    let source = "\
for i = 1, 2 do
  if i == 1 then goto continue end
  print(i)
  ::continue::
end
for j = 1, 2 do
  if j == 2 then goto continue end
  print(j)
  ::continue::
end
";
    assert_eq!(goes(source, 2), [1, 3], "back to the first loop's head, or on");
    assert_eq!(goes(source, 7), [6, 8], "back to the second loop's head, or on");
    // `if` with two statements on its line: the last decides; a guard
    // `return` on one line leaves.
    let source = "local function f(x)\n  if x then x = 1 return x end\n  return 0\nend\nprint(f(1))\n";
    assert_ne!(line_flags_in(Language::Lua, source, 2, Some(5))[1] & LEAVES, 0);
    assert_eq!(goes(source, 2), [3], "not taken: on to the next line");
}

#[test]
fn a_call_goes_into_its_body_and_the_chunk_into_its_first_statement() {
    // As the guest reports it: the chunk, called at line 1, runs line 4
    // first (where `f` is made); `f`, called at line 1, runs line 2; `g`,
    // called at line 5, line 6; `h`, with an empty body, its `end`.
    let src = "\
local function f(x)
  local y = x + 1
  return y
end
local g = function(a)
  return a * 2
end
local function h() end
print(f(1), g(2), h())
";
    assert_eq!(line_flags_in(Language::Lua, src, 1, None)[1] & TAKEN, TAKEN, "into f's body");
    assert!(goes(src, 1).contains(&4), "the chunk's first line");
    assert!(goes(src, 5).contains(&6), "into g's body");
    assert!(goes(src, 8).contains(&8), "h runs its end");
}
