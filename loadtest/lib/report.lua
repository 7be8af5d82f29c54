-- wrk reporter: after the run, print one line `LOADTEST_WRK_JSON {...}` with exact
-- percentiles from wrk's HdrHistogram (microseconds), so the runner does not parse wrk's
-- rounded human-readable table. Read by loadtest/lib/wrk.ts.

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'LOADTEST_WRK_JSON {"durationUs":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"min":%d,"mean":%.2f,"stdev":%.2f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
