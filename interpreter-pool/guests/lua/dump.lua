-- lua dump.lua SOURCE TARGET: SOURCE compiled to a binary chunk, debug
-- information stripped (build.sh precompiles tracer.lua with it).
local source, target = ...
local chunk = assert(loadfile(source))
local f = assert(io.open(target, "wb"))
f:write(string.dump(chunk, true))
f:close()
