-- wrk script: each request reads one granted record set, rotating through "PATH TOKEN" lines.
-- Each request is formatted once in init: formatting per request cost wrk ~5 µs of the CPU it shares with the server.
-- Usage: wrk ... -s Benchmarks/disclosure.lua URL -- LINES_FILE
local requests = {}
local index = 0

function init(args)
  for line in io.lines(args[1]) do
    local path, token = line:match("(%S+) (%S+)")
    table.insert(requests, wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token }))
  end
  index = math.random(#requests)
end

function request()
  index = index % #requests + 1
  return requests[index]
end
