-- GET /api/v1/store/carts/<token>: each request reads the next prepared cart, as the
-- storefront does before checkout (the cart loaded, priced and answered as JSON). The
-- checkout bench measures it as the part of a checkout's work that comes before any write.
--
-- The carts: wrk_carts.lua (it starts over when a thread reaches its last).
dofile("bench/wrk_report.lua")
dofile("bench/wrk_carts.lua")

function init(_args)
  tokens = this_threads_carts()
  next_cart = 0
end

function request()
  next_cart = next_cart + 1
  local token = tokens[((next_cart - 1) % #tokens) + 1]
  return wrk.format("GET", "/api/v1/store/carts/" .. token, { ["Accept"] = "application/json" })
end
