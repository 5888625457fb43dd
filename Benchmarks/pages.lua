-- wrk script for Benchmarks/run-pages.sh: GET one page, rotating over the session cookies in the file given
-- after `--` (one Cookie header value per line), and print the p50, p95 and p99 latency in milliseconds.
-- Each request is formatted once in init, so wrk spends its share of the CPU on sending and reading.
local requests = {}
local index = 0

function init(args)
  for line in io.lines(args[2]) do requests[#requests + 1] = wrk.format("GET", args[1], { ["Cookie"] = line }) end
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d p50=%.2f p95=%.2f p99=%.2f rps=%.0f\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6)))
end
