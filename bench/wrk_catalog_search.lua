-- GET <url>?page_size=24&q=<query>, rotating through many queries (the storefront search).
-- BENCH_CATALOG_QUERIES: one query a line, URL-encoded (bench_catalog.py writes it into
-- wrk's environment). Threads start half the list apart, so two threads do not ask the same
-- thing within seconds of each other (which a worker's answer cache would absorb).
dofile("bench/wrk_report.lua")

local lines = os.getenv("BENCH_CATALOG_QUERIES")
assert(lines and lines ~= "", "BENCH_CATALOG_QUERIES is not set")

local queries = {}
for line in string.gmatch(lines, "[^\n]+") do
  queries[#queries + 1] = line
end

local threads = 0
function setup(thread)
  thread:set("first", threads * math.floor(#queries / 2))
  threads = threads + 1
end

local next_query = 0
function init(_args)
  next_query = first or 0
  wrk.headers["Accept"] = "application/json"
end

function request()
  next_query = next_query + 1
  local query = queries[(next_query % #queries) + 1]
  return wrk.format("GET", wrk.path .. "?page_size=24&q=" .. query)
end
