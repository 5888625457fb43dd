-- wrk script: each request reads one granted record set, rotating through "PATH TOKEN" lines.
-- Each request is formatted once in init: formatting per request cost wrk ~5 µs of the CPU it shares with the server.
-- Each wrk thread starts its rotation at its own place (a golden-ratio step apart), so the threads do not read the
-- same grants in step — unseeded, math.random gave every thread the same start.
-- Usage: wrk ... -s Benchmarks/disclosure.lua URL -- LINES_FILE
local requests = {}
local index = 0
local threads = 0

function setup(thread)
  thread:set("thread_number", threads)
  threads = threads + 1
end

function init(args)
  for line in io.lines(args[1]) do
    local path, token = line:match("(%S+) (%S+)")
    table.insert(requests, wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token }))
  end
  index = math.floor(#requests * ((thread_number or 0) * 0.6180339887 % 1))
end

function request()
  index = index % #requests + 1
  return requests[index]
end
