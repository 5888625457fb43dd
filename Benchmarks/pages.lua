-- wrk script for Benchmarks/run-pages.sh: GET one page, rotating over the session cookies in the file given
-- after `--` (one Cookie header value per line), and print the p50, p95 and p99 latency in milliseconds.
local cookies = {}
local index = 0
local path = "/"

function init(args)
  path = args[1]
  for line in io.lines(args[2]) do cookies[#cookies + 1] = line end
end

function request()
  index = index % #cookies + 1
  return wrk.format("GET", path, { ["Cookie"] = cookies[index] })
end

function done(summary, latency, requests)
  io.write(string.format("RESULT %s requests=%d errors=%d non2xx=%d p50=%.2f p95=%.2f p99=%.2f rps=%.0f\n", path,
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6)))
end
