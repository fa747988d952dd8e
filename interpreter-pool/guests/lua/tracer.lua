--[[ Step-by-step tracer for one Lua program.

This chunk returns run(source, input, seed, repr_cap, emit, output, as_c), which
loads the program as the chunk "<program>" in an environment of its own,
runs it under debug.sethook and hands every call/line/return/exception
event of the program's own functions to emit as soon as it happens, as a
JSON array, the same schema as the Python guest's:

    [event, line, function, depth, [[name, repr], ...], stdout, value]

It returns the run's summary, JSON: {"status", "error", "stdout"}.

What Lua's hooks leave out, and what is made up here:
- Depth counts the program's frames. A tail call replaces its caller's frame
  in Lua; here it is a call one level deeper, and its return returns both.
- An error unwinds frames without return hooks. pcall, xpcall and the run
  itself catch through a message handler that sees each frame before it is
  unwound, so every frame an error leaves gets an "exception" event (its line
  and locals where the error passed) and then a "return" of nil, as Python's
  frames do.
- A function is named as the engine names it at the call (debug.getinfo's
  "n": the local, global, field or method it was called through), else as it
  was last called by name, else "<anonymous>". The main chunk is "<module>".
- Locals are debug.getlocal's named locals (parameters first); the main
  chunk's also lists the globals the program set, by name.
- Coroutines run untraced: hooks are per thread, and only the main one has it.

The program cannot reach the tracer: its environment has no debug library,
no load, io or package, and the tracer never calls into a value of the
program's except where Lua itself would (print's tostring, io.write's
arguments). The host checks every event and the summary regardless.

This file runs both inside the WebAssembly guest (guest.c) and under a
native lua5.4 (native.lua, the reference the guest is tested against).
]]

local debug_getinfo, debug_getlocal, debug_sethook = debug.getinfo, debug.getlocal, debug.sethook
local s_byte, s_char, s_find, s_format, s_gmatch, s_gsub, s_match, s_sub =
  string.byte, string.char, string.find, string.format, string.gmatch, string.gsub, string.match, string.sub
local t_concat, t_pack, t_sort, t_unpack = table.concat, table.pack, table.sort, table.unpack
local math_type, utf8_len = math.type, utf8.len
local next, ipairs, rawget, rawequal, type, tostring, tonumber, select, xpcall, error, load, setmetatable, getmetatable =
  next, ipairs, rawget, rawequal, type, tostring, tonumber, select, xpcall, error, load, setmetatable, getmetatable

local CHUNK = "=<program>"
local CUT = "\u{2026}"
-- Pending output is handed over early once it grows past this, so the host's
-- output cap fires on a flood printed between two events.
local OUTPUT_FLUSH_BYTES = 64 * 1024
-- The host refuses an event with more locals, or longer names.
local MAX_LOCALS = 1024
local MAX_NAME_BYTES = 256
-- Frames an error's message handler records (line and locals) for; deeper
-- ones unwind with their last line and no locals.
local MAX_CAPTURED = 64

-- What io.read("n") takes as a number, tried in turn.
local NUMERALS = {
  "^%s*[-+]?0[xX][%x%.]*[pP][-+]?%d+",
  "^%s*[-+]?0[xX][%x%.]*%x",
  "^%s*[-+]?[%d%.]*%d[%d%.]*[eE][-+]?%d+",
  "^%s*[-+]?[%d%.]*%d[%d%.]*",
}

-- Text ------------------------------------------------------------------

-- `s` as valid UTF-8: each byte of a broken sequence becomes U+FFFD.
local function valid(s)
  if utf8_len(s) then return s end
  local parts, i = {}, 1
  while true do
    local ok, bad = utf8_len(s, i)
    if ok then parts[#parts + 1] = s_sub(s, i); break end
    parts[#parts + 1] = s_sub(s, i, bad - 1)
    parts[#parts + 1] = "\u{FFFD}"
    i = bad + 1
  end
  return t_concat(parts)
end

-- At most `cap` bytes of valid UTF-8, CUT appended when shortened.
local function cut(s, cap)
  -- Made valid before it is measured: each broken byte grows to 3.
  s = valid(#s > cap + 4 and s_sub(s, 1, cap + 4) or s)
  if #s <= cap then return s end
  local i = cap
  while i > 0 do
    local b = s_byte(s, i + 1)
    if b < 0x80 or b >= 0xC0 then break end -- i + 1 starts a character
    i = i - 1
  end
  return s_sub(s, 1, i) .. CUT
end

-- Replacement tables, not functions: gsub then calls no Lua function, so
-- escaping costs no C-stack level inside the hook.
local JSON_ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local QUOTE_ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
for b = 0, 32 do
  local code = b < 32 and b or 127 -- the control bytes: 0-31 and 127
  local c = s_char(code)
  JSON_ESCAPES[c] = JSON_ESCAPES[c] or s_format("\\u%04x", code)
  QUOTE_ESCAPES[c] = QUOTE_ESCAPES[c] or s_format("\\%d", code)
end
-- Bytes 128-255 as escapes, made the first time text that is not UTF-8 is
-- quoted: most runs never need them.
local byte_escapes = nil
local function bytes_escaped(s)
  if not byte_escapes then
    byte_escapes = {}
    for b = 128, 255 do byte_escapes[s_char(b)] = s_format("\\%d", b) end
  end
  return (s_gsub(s, "[\128-\255]", byte_escapes))
end

local function json(s)
  return '"' .. (s_gsub(valid(s), '[%c"\\]', JSON_ESCAPES)) .. '"'
end

-- Reprs ---------------------------------------------------------------------


-- A string as Lua source would write it; at most `budget` of its bytes.
local function quoted(s, budget)
  local long = #s > budget
  if long then s = s_sub(s, 1, budget) end
  s = s_gsub(s, '[%c"\\]', QUOTE_ESCAPES)
  if not utf8_len(s) then s = bytes_escaped(s) end
  return '"' .. s .. '"' .. (long and CUT or "")
end

local KEY_RANK = { number = 1, string = 2, boolean = 3 }
local function key_before(a, b)
  local ra, rb = KEY_RANK[type(a)] or 4, KEY_RANK[type(b)] or 4
  if ra ~= rb then return ra < rb end
  if ra <= 2 then return a < b end
  if ra == 3 then return b and not a end
  return false -- tables and functions as keys keep the order next gave
end

local repr

-- A table's raw contents, never its metamethods: the sequence 1..n first,
-- then the other keys sorted (numbers, strings, booleans, the rest).
local function table_repr(t, budget, active)
  if active[t] then return "{...}" end
  active[t] = true
  local parts, used, n = {}, 2, 0
  local function add(text)
    parts[#parts + 1] = text
    used = used + #text + 2
  end
  while true do
    local v = rawget(t, n + 1)
    if v == nil then break end
    if used >= budget then add(CUT); active[t] = nil; return "{" .. t_concat(parts, ", ") .. "}" end
    n = n + 1
    add(repr(v, budget - used, active))
  end
  local keys, k, more = {}, nil, false
  while true do
    k = next(t, k)
    if k == nil then break end
    if not (math_type(k) == "integer" and k >= 1 and k <= n) then
      if #keys >= budget then more = true; break end
      keys[#keys + 1] = k
    end
  end
  t_sort(keys, key_before)
  for _, key in ipairs(keys) do
    if used >= budget then more = true; break end
    local name
    if type(key) == "string" and s_find(key, "^[%a_][%w_]*$") then
      name = key
    else
      name = "[" .. repr(key, budget - used, active) .. "]"
    end
    add(name .. " = " .. repr(rawget(t, key), budget - used - #name - 3, active))
  end
  if more then parts[#parts + 1] = CUT end
  active[t] = nil
  return "{" .. t_concat(parts, ", ") .. "}"
end

function repr(v, budget, active)
  if budget <= 0 then return CUT end
  local t = type(v)
  if t == "string" then return quoted(v, budget) end
  if t == "number" then
    if math_type(v) == "integer" then return s_format("%d", v) end
    return tostring(v) -- "%.14g", with ".0" on whole numbers, as Lua prints them
  end
  if t == "nil" or t == "boolean" then return tostring(v) end
  if t == "table" then return table_repr(v, budget, active) end
  if t == "function" then
    local info = debug_getinfo(v, "S")
    if info.source == CHUNK then return "function: <program>:" .. info.linedefined end
    return "function: builtin"
  end
  return t -- thread, userdata
end

-- A repr of at most `cap` bytes (plus CUT): its cost follows `cap`, not `v`.
local function of(v, cap)
  return cut(repr(v, cap, {}), cap)
end

-- The run --------------------------------------------------------------------

return function(source, input, seed, cap, emit, output, as_c)
  local pending, pending_bytes = {}, 0
  local function write_out(text)
    pending[#pending + 1] = text
    pending_bytes = pending_bytes + #text
    if pending_bytes > OUTPUT_FLUSH_BYTES then
      output(valid(t_concat(pending)))
      pending, pending_bytes = {}, 0
    end
  end
  local function take()
    if pending_bytes == 0 then return "" end
    local text = t_concat(pending)
    pending, pending_bytes = {}, 0
    return text
  end

  local env = {}
  local initial = {} -- the environment as the program found it
  local stack, depth, full = {}, 0, false
  local names_of = setmetatable({}, { __mode = "k" })

  -- Locals of the frame at `level` (as seen from the caller of this
  -- function), as JSON; the main chunk's add the program's globals.
  local function locals_json(level, main)
    local shown, index = {}, {}
    local i = 1
    while true do
      local name, v = debug_getlocal(level + 1, i)
      if name == nil then break end
      if s_byte(name) ~= 40 then -- "(temporary)", "(for state)": the VM's own
        local at = index[name]
        if not at then
          if #shown == MAX_LOCALS then break end
          at = #shown + 1
          index[name] = at
        end
        shown[at] = "[" .. json(cut(name, MAX_NAME_BYTES)) .. "," .. json(of(v, cap)) .. "]"
      end
      i = i + 1
    end
    if main then
      local globals = {}
      for k, v in next, env do
        if type(k) == "string" and k ~= "" and not rawequal(rawget(initial, k), v) and not index[k] then
          globals[#globals + 1] = k
        end
      end
      t_sort(globals)
      for _, k in ipairs(globals) do
        if #shown == MAX_LOCALS then break end
        shown[#shown + 1] = "[" .. json(cut(k, MAX_NAME_BYTES)) .. "," .. json(of(rawget(env, k), cap)) .. "]"
      end
    end
    return "[" .. t_concat(shown, ",") .. "]"
  end

  -- Emits one event of `frame` at `at_depth` (the current depth unless
  -- given). The text is built before anything is sent or changed, so an
  -- error while building it (memory, the C stack) leaves no half-made step.
  local function record(event, line, frame, locals, value, at_depth)
    if full then locals, value = "null", "null" end
    local head = "[" .. json(event) .. "," .. line .. "," .. json(frame.name) .. "," .. (at_depth or depth) .. ","
    local text = head .. locals .. "," .. json(t_concat(pending)) .. "," .. value .. "]"
    pending, pending_bytes = {}, 0
    if not emit(text) then full = true end
  end

  -- Lines as the host counts them: one per newline, and a last one unless
  -- the source ends with its newline.
  local source_lines = 1
  for _ in s_gmatch(source, "\n") do source_lines = source_lines + 1 end
  if s_sub(source, -1) == "\n" then source_lines = source_lines - 1 end

  -- The words of the source, read at the first named call: a name the host
  -- would not find there is none.
  local words = nil

  local function name_of(info)
    local name = info.name
    -- The engine names a metamethod call by its event ("add" for __add).
    if name and info.namewhat == "metamethod" and s_sub(name, 1, 2) ~= "__" then name = "__" .. name end
    if name and not words then
      words = {}
      for word in s_gmatch(source, "[%a_][%w_]*") do words[word] = true end
    end
    if name and words[name] and #name <= MAX_NAME_BYTES then
      names_of[info.func] = name
      return name
    end
    return names_of[info.func] or "<anonymous>"
  end

  -- The values a returning frame hands back, as one repr ("a, b"; "nil"
  -- for none).
  local function returned(level, info)
    if full then return "null" end
    local parts = {}
    for i = 0, (info.ntransfer or 0) - 1 do
      local _, v = debug_getlocal(level + 1, info.ftransfer + i)
      parts[#parts + 1] = of(v, cap)
    end
    if #parts == 0 then return json("nil") end
    return json(cut(t_concat(parts, ", "), cap))
  end

  local function pop()
    stack[depth] = nil
    depth = depth - 1
  end

  local function hook(event, line)
    local info = debug_getinfo(2, "S")
    if info.source ~= CHUNK then return end
    if event == "line" then
      local frame = stack[depth]
      if not frame then return end
      frame.line = line
      record("line", line, frame, full and "null" or locals_json(2, frame.main), "null")
    elseif event == "call" or event == "tail call" then
      local main = info.what == "main"
      local named = main and { name = "<module>" } or debug_getinfo(2, "nf")
      local frame = { name = main and "<module>" or name_of(named), line = main and 1 or info.linedefined,
        tail = event == "tail call", main = main }
      if frame.line < 1 then frame.line = 1 end
      record("call", frame.line, frame, full and "null" or locals_json(2, main), "null", depth + 1)
      depth = depth + 1
      stack[depth] = frame
    elseif event == "return" then
      local frame = stack[depth]
      if not frame then return end
      local at = debug_getinfo(2, "lr")
      local value = returned(2, at)
      local line = at.currentline > 0 and at.currentline or frame.line
      record("return", line, frame, full and "null" or locals_json(2, frame.main), value)
      pop()
      -- A tail call's return is its replaced caller's return too.
      while frame.tail and depth > 0 do
        -- Its frame is gone, and its locals with it.
        frame = stack[depth]
        record("return", frame.line, frame, "[]", value)
        pop()
      end
    end
  end

  -- The frames above `base` as an error leaves them: a message handler's
  -- view, from `level` (as seen from the caller) outwards, innermost first.
  -- A frame a tail call replaced has no frame of its own left.
  local function capture(level, base)
    local wanted = 0
    for d = depth, base + 1, -1 do
      if d == depth or not stack[d + 1].tail then wanted = wanted + 1 end
    end
    -- Each level costs a walk from the top: past MAX_CAPTURED frames (a
    -- stack overflow's hundred thousand) the rest unwind with their last line.
    local frames = {}
    while #frames < wanted and #frames < MAX_CAPTURED do
      local info = debug_getinfo(level + 1, "Sl")
      if info == nil then break end
      if info.source == CHUNK then
        local shown = "[]"
        if not full then shown = locals_json(level + 1, info.what == "main") end
        frames[#frames + 1] = { line = info.currentline, locals = shown }
      end
      level = level + 1
    end
    return frames
  end

  -- Emits what the frames above `base` did as `err` unwound them: an
  -- exception event where it passed each, then a return of nil.
  local function unwind(base, frames, err)
    local value = full and "null" or json(of(err, cap))
    local next_frame, above_tail = 1, false
    while depth > base do
      local frame = stack[depth]
      local real = nil
      if not above_tail then
        real = frames[next_frame]
        next_frame = next_frame + 1
      end
      if real and real.line > 0 then frame.line = real.line end
      local locals = real and real.locals or "[]"
      record("exception", frame.line, frame, locals, value)
      record("return", frame.line, frame, locals, json("nil"))
      above_tail = frame.tail
      stack[depth] = nil
      depth = depth - 1
    end
  end

  -- Calls f(...) as xpcall would with `handler` (the program's, or none for
  -- pcall), keeping the trace whole when an error unwinds. Returns the
  -- packed results and the frames the error left (nil without an error,
  -- or for a memory error, which calls no handler).
  local function call_protected(handler, f, ...)
    local base, frames = depth, nil
    local function on_error(e)
      frames = capture(2, base)
      -- Not a tail call: the handler's frame must not replace this one.
      if handler then return (handler(e)) end
      return e
    end
    local results = t_pack(xpcall(f, on_error, ...))
    if not results[1] then unwind(base, frames or {}, results[2]) end
    return results, frames
  end

  -- What the program sees ------------------------------------------------------

  local function print(...)
    local n = select("#", ...)
    local parts = {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    write_out(t_concat(parts, "\t") .. "\n")
  end

  local stdin_at = 1
  local function read_one(format)
    if math_type(format) == "integer" then
      if stdin_at > #input then return nil end
      local text = s_sub(input, stdin_at, stdin_at + format - 1)
      stdin_at = stdin_at + #text
      return text
    end
    if type(format) ~= "string" then error("bad argument #1 to 'read' (invalid format)", 3) end
    local f = s_sub(s_gsub(format, "^%*", ""), 1, 1)
    if f == "a" then
      local text = s_sub(input, stdin_at)
      stdin_at = #input + 1
      return text
    elseif f == "l" or f == "L" then
      if stdin_at > #input then return nil end
      local stop = s_find(input, "\n", stdin_at, true)
      local text = s_sub(input, stdin_at, stop or #input)
      stdin_at = (stop or #input) + 1
      if f == "l" then text = s_gsub(text, "\n$", "") end
      return text
    elseif f == "n" then
      -- The longest numeral at the read position: hex or decimal, with an
      -- exponent or not; no numeral reads nothing and gives nil.
      local from, to
      for _, numeral in ipairs(NUMERALS) do
        from, to = s_find(input, numeral, stdin_at)
        if from then break end
      end
      if not from then return nil end
      stdin_at = to + 1
      return tonumber((s_match(s_sub(input, from, to), "^%s*(.-)$")))
    end
    error("bad argument #1 to 'read' (invalid format)", 3)
  end
  local function read(...)
    local n = select("#", ...)
    if n == 0 then return read_one("l") end
    local out = {}
    for i = 1, n do
      out[i] = read_one((select(i, ...)))
      if out[i] == nil then return t_unpack(out, 1, i) end
    end
    return t_unpack(out, 1, n)
  end

  local stdout = {}
  local function write(...)
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      local t = math_type(v)
      if t == "integer" then
        write_out(s_format("%d", v))
      elseif t == "float" then
        write_out(s_format("%.14g", v))
      elseif type(v) == "string" then
        write_out(v)
      else
        error(s_format("bad argument #%d to 'write' (string expected, got %s)", i, type(v)), 2)
      end
    end
    return stdout
  end
  stdout.write = as_c(function(_, ...) return write(...) end)

  local function copy(t, except)
    local out = {}
    for k, v in next, t do
      if k ~= except then out[k] = v end
    end
    return out
  end

  for _, name in ipairs({ "assert", "error", "getmetatable", "ipairs", "next", "pairs", "rawequal", "rawget",
    "rawlen", "rawset", "select", "setmetatable", "tonumber", "tostring", "type", "_VERSION" }) do
    env[name] = _G[name]
  end
  -- Every function of the tracer's the program can call is behind a C
  -- function (as_c): a program frame that tail-calls one still returns.
  env.print = as_c(print)
  env.pcall = as_c(function(f, ...)
    local results = call_protected(nil, f, ...)
    return t_unpack(results, 1, results.n)
  end)
  env.xpcall = as_c(function(f, handler, ...)
    local results = call_protected(handler, f, ...)
    return t_unpack(results, 1, results.n)
  end)
  env.string = copy(string, "dump")
  env.table = copy(table)
  env.math = copy(math)
  env.utf8 = copy(utf8)
  env.coroutine = copy(coroutine)
  env.os = { clock = os.clock, date = os.date, difftime = os.difftime, time = os.time }
  env.io = {
    write = as_c(write),
    read = as_c(read),
    lines = as_c(function(...)
      local formats = t_pack(...)
      return as_c(function() return read(t_unpack(formats, 1, formats.n)) end)
    end),
    stdout = stdout,
  }
  env._G = env
  for k, v in next, env do initial[k] = v end
  -- Method calls on strings reach the program's string table, as in Lua.
  getmetatable("").__index = env.string
  math.randomseed(seed)

  local function summary(status, kind, message, line)
    local error_json = "null"
    if kind then
      error_json = "{\"type\": " .. json(kind) .. ", \"message\": " .. json(cut(message, cap))
        .. ", \"line\": " .. (line and s_format("%d", line) or "null") .. "}"
    end
    return "{\"status\": " .. json(status) .. ", \"error\": " .. error_json .. ", \"stdout\": " .. json(take()) .. "}"
  end

  local chunk, problem = load(source, CHUNK, "t", env)
  if not chunk then
    local line, message = s_match(problem, "^<program>:(%d+): (.*)$")
    return summary("invalid_program", "SyntaxError", message or problem, tonumber(line))
  end

  debug_sethook(hook, "crl")
  local results, frames = call_protected(nil, chunk)
  debug_sethook()
  if results[1] then return summary("ok") end
  local err = results[2]
  if frames == nil and err == "not enough memory" then return summary("exception", "MemoryError", err, nil) end
  -- The line is where the error was raised, as the message handler saw
  -- it; a message's own "<program>:LINE:" prefix (which `error` lets a
  -- program write) is only trusted for a line the source has.
  local message, line = nil, frames and frames[1] and frames[1].line
  if line and line < 1 then line = nil end
  if type(err) == "string" then
    local at, rest = s_match(err, "^<program>:(%d+): (.*)$")
    at = math.tointeger(tonumber(at))
    if at and at >= 1 and at <= source_lines then
      message, line = rest, line or at
    else
      message = err
    end
  else
    message = of(err, cap)
  end
  return summary("exception", "error", message, line)
end
