--[[ tracer.lua under a native lua5.4: the reference the guest is tested
against, and the baseline of `curio bench pool --language lua`.

    lua5.4 native.lua trace TRACER SOURCE_FILE INPUT_FILE SEED REPR_CAP
        prints each event on a line of its own ("E <json>"), then the
        summary ("S <json>"); output the tracer hands over early is dropped
    lua5.4 native.lua bench TRACER REPEAT REPR_CAP SOURCE_FILE...
        runs each program REPEAT times; prints "<events> <seconds>", the
        seconds spent in the tracer's run
]]
local mode, tracer = ...
local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end
local run = dofile(tracer)
local out = io.stdout
local function ignore() end

if mode == "trace" then
  local _, _, source, input, seed, cap = ...
  local summary = run(slurp(source), slurp(input), math.tointeger(tonumber(seed)), math.tointeger(tonumber(cap)),
    function(event)
      out:write("E ", event, "\n")
      return true
    end, ignore, curio_as_c)
  out:write("S ", summary, "\n")
elseif mode == "bench" then
  local args = { ... }
  local repeats, cap = math.tointeger(tonumber(args[3])), math.tointeger(tonumber(args[4]))
  local sources = {}
  for i = 5, #args do sources[#sources + 1] = slurp(args[i]) end
  local events, seconds = 0, 0.0
  local function count()
    events = events + 1
    return true
  end
  for _ = 1, repeats do
    for _, source in ipairs(sources) do
      -- Each run changes the shared string metatable; a fresh tracer chunk
      -- per run, as each guest instance has.
      run = dofile(tracer)
      local started = os.clock()
      run(source, "", 0, cap, count, ignore, curio_as_c)
      seconds = seconds + (os.clock() - started)
    end
  end
  out:write(string.format("%d %.6f\n", events, seconds))
else
  error("usage: lua5.4 native.lua trace|bench TRACER ...")
end
