-- GET /api/v1/store/carts/<token>: each request reads the next prepared cart, as the
-- storefront does before checkout (the cart loaded, priced and answered as JSON). The
-- checkout bench measures it as the part of a checkout's work that comes before any write.
--
-- Read from the environment (bench_checkout.py sets them), as wrk_checkout.lua does:
--   BENCH_CHECKOUT_CARTS    file of cart tokens, one a line
--   BENCH_CHECKOUT_FIRST    the first line this run uses (0-based) ...
--   BENCH_CHECKOUT_COUNT    ... and how many; thread k takes every THREADS-th from FIRST + k,
--                           and starts over when it reaches the end
--   BENCH_CHECKOUT_THREADS  wrk's -t
dofile("bench/wrk_report.lua")

local threads = {}
function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(_args)
  local path = assert(os.getenv("BENCH_CHECKOUT_CARTS"), "BENCH_CHECKOUT_CARTS is not set")
  local first = tonumber(os.getenv("BENCH_CHECKOUT_FIRST"))
  local count = tonumber(os.getenv("BENCH_CHECKOUT_COUNT"))
  local stride = tonumber(os.getenv("BENCH_CHECKOUT_THREADS"))
  tokens = {}
  local line_number = 0
  for line in io.lines(path) do
    local offset = line_number - first
    if offset >= 0 and offset < count and offset % stride == thread_index then
      tokens[#tokens + 1] = line
    end
    line_number = line_number + 1
  end
  assert(#tokens > 0, "no carts for this thread")
  next_cart = 0
end

function request()
  next_cart = next_cart + 1
  local token = tokens[((next_cart - 1) % #tokens) + 1]
  return wrk.format("GET", "/api/v1/store/carts/" .. token, { ["Accept"] = "application/json" })
end
