-- wrk reporting hook: one machine-readable line the harness parses.
-- wrk's own --latency table stops at 50/75/90/99; the benches report p95.
-- Latencies are in microseconds, the duration too.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d p50_us=%.1f p95_us=%.1f p99_us=%.1f "
      .. "max_us=%.1f mean_us=%.1f connect_errors=%d read_errors=%d write_errors=%d "
      .. "timeouts=%d non_2xx=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean, e.connect, e.read, e.write, e.timeout, e.status
  ))
end
