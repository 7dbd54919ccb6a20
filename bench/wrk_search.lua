-- GET <url>?page_size=25&q=<query> with a bearer token, rotating through many queries.
-- BENCH_API_TOKEN: the token's secret (datagen made it); BENCH_SEARCH_QUERIES: one query a
-- line, URL-encoded (bench_search.py writes both into wrk's environment). Each thread starts
-- at its own place in the list, so the connections do not ask the same thing at once.
dofile("bench/wrk_report.lua")

local token = os.getenv("BENCH_API_TOKEN")
local lines = os.getenv("BENCH_SEARCH_QUERIES")
assert(token and token ~= "", "BENCH_API_TOKEN is not set")
assert(lines and lines ~= "", "BENCH_SEARCH_QUERIES is not set")

local queries = {}
for line in string.gmatch(lines, "[^\n]+") do
  queries[#queries + 1] = line
end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("first", threads * 37)
end

local next_query = 0
function init(_args)
  next_query = first or 0
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Accept"] = "application/json"
end

function request()
  next_query = next_query + 1
  local query = queries[(next_query % #queries) + 1]
  return wrk.format("GET", wrk.path .. "?page_size=25&q=" .. query)
end
