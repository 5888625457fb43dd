-- wrk script: each request reads one granted record set, rotating through "PATH TOKEN" lines.
-- Usage: wrk ... -s Benchmarks/disclosure.lua URL -- LINES_FILE
local lines = {}
local index = 0

function init(args)
  for line in io.lines(args[1]) do
    local path, token = line:match("(%S+) (%S+)")
    table.insert(lines, { path = path, headers = { ["Authorization"] = "Bearer " .. token } })
  end
  index = math.random(#lines)
end

function request()
  index = index % #lines + 1
  local item = lines[index]
  return wrk.format("GET", item.path, item.headers)
end
