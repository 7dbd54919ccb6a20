-- POST /api/v1/store/carts/<token>/checkout: each request checks out the next prepared cart
-- with a fresh Idempotency-Key ("bench-<token>"). Every RETRY_EVERY-th cart is sent twice
-- in a row with the same key, so the second copy leaves on another connection while the
-- first still runs: a client retrying after a timeout, the case idempotency is for.
--
-- The carts: wrk_carts.lua (its environment variables are set by bench_checkout.py).
--
-- Prints, after wrk_report.lua's BENCH line:
--   CHECKOUT created=.. replayed=.. in_progress=.. out_of_stock=.. other=.. exhausted=.. retries=..
--   RETRIED <token> <token> ...      the carts sent twice with one key
--   OTHER <status> <body start>      the first answer that was none of the expected ones
dofile("bench/wrk_report.lua")
dofile("bench/wrk_carts.lua")
local report = done

local RETRY_EVERY = 20
local BODY = '{"payment_method": "manual"}'

function init(_args)
  tokens = this_threads_carts()
  next_cart = 0
  retry_token = nil
  created, replayed, in_progress, out_of_stock, other, exhausted, retries = 0, 0, 0, 0, 0, 0, 0
  retried = ""
  first_other = ""
end

local function checkout(token)
  local headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
    ["Idempotency-Key"] = "bench-" .. token,
  }
  return wrk.format("POST", "/api/v1/store/carts/" .. token .. "/checkout", headers, BODY)
end

function request()
  if retry_token then
    local token = retry_token
    retry_token = nil
    return checkout(token)
  end
  next_cart = next_cart + 1
  if next_cart > #tokens then
    -- Out of carts: the run outlasted what was prepared (a checked-out cart answers 409).
    exhausted = exhausted + 1
    return checkout(tokens[((next_cart - 1) % #tokens) + 1])
  end
  local token = tokens[next_cart]
  if next_cart % RETRY_EVERY == 0 then
    retry_token = token
    retries = retries + 1
    retried = retried .. " " .. token
  end
  return checkout(token)
end

function response(status, headers, body)
  if status == 201 then
    if headers["Idempotent-Replayed"] == "true" then
      replayed = replayed + 1
    else
      created = created + 1
    end
    return
  end
  local code = status == 409 and body and string.match(body, '"code"%s*:%s*"([%w_]+)"')
  if code == "out_of_stock" then
    out_of_stock = out_of_stock + 1
  elseif code == "idempotency_request_in_progress" then
    in_progress = in_progress + 1
  else
    other = other + 1
    if first_other == "" then
      first_other = status .. " " .. string.sub(string.gsub(body or "", "%s+", " "), 1, 300)
    end
  end
end

done = function(summary, latency, requests)
  report(summary, latency, requests)
  local names = { "created", "replayed", "in_progress", "out_of_stock", "other", "exhausted", "retries" }
  local totals, tokens_retried, others = {}, {}, {}
  for _, name in ipairs(names) do
    totals[name] = 0
  end
  for _, thread in ipairs(threads) do
    for _, name in ipairs(names) do
      totals[name] = totals[name] + thread:get(name)
    end
    tokens_retried[#tokens_retried + 1] = thread:get("retried")
    local first = thread:get("first_other")
    if first ~= "" then
      others[#others + 1] = first
    end
  end
  local parts = {}
  for _, name in ipairs(names) do
    parts[#parts + 1] = name .. "=" .. totals[name]
  end
  io.write("CHECKOUT " .. table.concat(parts, " ") .. "\n")
  io.write("RETRIED" .. table.concat(tokens_retried, "") .. "\n")
  if #others > 0 then
    io.write("OTHER " .. others[1] .. "\n")
  end
end
