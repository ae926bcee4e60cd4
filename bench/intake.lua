-- wrk script for B1/B1b: POST /asset_failure_type_predict with a body unique per request.
-- Usage: wrk ... -s bench/intake.lua URL -- TOKEN [REPLAY_PREFIX|0 [OFFSET]]
-- Each request varies source_sys_time (one second per request, a separate range per wrk
-- thread), so every body is a new job. With REPLAY_PREFIX each thread cycles through the
-- numbers listed in REPLAY_PREFIX<tid>.txt (B1b: bodies B1 stored). OFFSET shifts the range
-- (the warm-up run uses its own bodies).
local threads = {}
counter = 0 -- a global, so done() can read each thread's
tid = 0 -- set per thread by setup() (a global: thread:set writes globals)
local replay = {}
local offset = 0
local token = ""

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  token = args[1]
  local prefix = args[2] or "0"
  if prefix ~= "0" then
    for line in io.lines(prefix .. tid .. ".txt") do table.insert(replay, tonumber(line)) end
  end
  offset = tonumber(args[3] or "0")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Token " .. token
end

local BASE = 1577836800 -- 2020-01-01T00:00:00Z

function request()
  local n = counter
  counter = counter + 1
  if #replay > 0 then n = replay[(n % #replay) + 1] end
  n = n + offset
  local t = BASE + tid * 20000000 + n
  local body = '{"operation_id":["06fad7d5-1fc6-4bd6-b00d-da274663d88a"],'
    .. '"asset_id":"06fcd7d5-1fc6-4bc6-b00d-da274663d98d",'
    .. '"failure_type_id":"702ab05a-7427-4a36-a298-0331bd56510a",'
    .. '"failure_start_time":"2025-10-02T10:00:00",'
    .. '"maintenance_end_time":"2025-08-16T11:00:00",'
    .. '"source_sys_time":"' .. os.date("!%Y-%m-%dT%H:%M:%SZ", t) .. '",'
    .. '"default_reliability":[0.9]}'
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  -- The fewest bodies any thread generated: B1b replays below that per thread.
  local min_sent = -1
  for _, thread in ipairs(threads) do
    local sent = thread:get("counter")
    if min_sent < 0 or sent < min_sent then min_sent = sent end
  end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,'
      .. '"min_sent_per_thread":%d,'
      .. '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f}\n',
    summary.requests, summary.duration, non2xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    min_sent,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000))
end
