-- The prepared carts a wrk thread works through, shared by wrk_checkout.lua and
-- wrk_cart_read.lua. `dofile` it, keep `setup` as it is, and call `this_threads_carts()`
-- in `init`.
--
-- Read from the environment (bench_checkout.py sets them):
--   BENCH_CHECKOUT_CARTS    file of cart tokens, one a line (checkout_probe.py writes it)
--   BENCH_CHECKOUT_FIRST    the first line a run uses (0-based) ...
--   BENCH_CHECKOUT_COUNT    ... and how many; thread k takes every THREADS-th from FIRST + k
--   BENCH_CHECKOUT_THREADS  wrk's -t

threads = {}
function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function this_threads_carts()
  local path = assert(os.getenv("BENCH_CHECKOUT_CARTS"), "BENCH_CHECKOUT_CARTS is not set")
  local first = tonumber(os.getenv("BENCH_CHECKOUT_FIRST"))
  local count = tonumber(os.getenv("BENCH_CHECKOUT_COUNT"))
  local stride = tonumber(os.getenv("BENCH_CHECKOUT_THREADS"))
  local tokens = {}
  local line_number = 0
  for line in io.lines(path) do
    local offset = line_number - first
    if offset >= 0 and offset < count and offset % stride == thread_index then
      tokens[#tokens + 1] = line
    end
    line_number = line_number + 1
  end
  assert(#tokens > 0, "no carts for this thread")
  return tokens
end
