-- wrk script: replays the pre-signed Stripe webhooks written by
--   bench_webhook_intake --plugin stripe_byok --write-requests FILE --serve S
-- so the intake figure can be checked with an independent load generator:
--   IH_WRK_REQUESTS=FILE IH_WRK_THREADS=2 wrk -t2 -c64 -d30s --latency -s bench/wrk_webhooks.lua http://127.0.0.1:PORT
-- File format, per request: "<path>\n<Stripe-Signature>\n<body length>\n<body>\n". Thread k of n keeps the
-- requests k, k+n, k+2n, ... and sends them in order, starting over (then as duplicates) when it runs out.
-- The 1 % signed with a wrong secret are answered 400 and counted by wrk as "Non-2xx".
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local path = assert(os.getenv("IH_WRK_REQUESTS"), "set IH_WRK_REQUESTS to the file the bench wrote")
  local threads = tonumber(os.getenv("IH_WRK_THREADS") or "1")
  local file = assert(io.open(path, "rb"))
  requests = {}
  local i = 0
  while true do
    local target = file:read("*l")
    if not target then break end
    local signature = file:read("*l")
    local length = tonumber(file:read("*l"))
    local body = file:read(length)
    file:read(1)
    if i % threads == id then
      requests[#requests + 1] = wrk.format("POST", target, {
        ["Content-Type"] = "application/json; charset=utf-8",
        ["User-Agent"] = "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        ["Stripe-Signature"] = signature,
      }, body)
    end
    i = i + 1
  end
  file:close()
  sent = 0
end

function request()
  sent = sent + 1
  return requests[(sent - 1) % #requests + 1]
end
