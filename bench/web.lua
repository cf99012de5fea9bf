-- What wrk asks of the console for bench/web.py (one phase per run of wrk).
--
-- BENCH_MODE   get: GET BENCH_PATH; page: GET /posts/N for the posts listed; approve: POST the
--              approve form of each listed post once (its revision hash and the CSRF token)
-- BENCH_COOKIE the logged-in session's Cookie header; BENCH_CSRF its CSRF token
-- BENCH_POSTS  a file of "id hash" lines; BENCH_THREADS wrk's -t (each thread takes every
--              BENCH_THREADS-th line, so no post is approved twice)
--
-- Every answer is checked (200 for a page; for an approve, the redirect to the post's page,
-- not to the login); done() prints one JSON line: the answers counted and the time between
-- the first request and the last answer (taken here, so a thread that ran out of posts to
-- approve does not dilute the rate), wrong answers, socket errors and latency percentiles.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1

local function now()
   local t = ffi.new("bench_timespec")
   ffi.C.clock_gettime(CLOCK_MONOTONIC, t)
   return tonumber(t.tv_sec) + tonumber(t.tv_nsec) / 1e9
end

local mode = os.getenv("BENCH_MODE") or "get"
local stride = tonumber(os.getenv("BENCH_THREADS") or "1")
local threads, made = {}, 0

function setup(thread)
   thread:set("slot", made)
   made = made + 1
   table.insert(threads, thread)
end

local function urlencode(s)
   return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
   posts, next_post, answers, wrong, first, last, ran_out = {}, slot + 1, 0, 0, nil, nil, 0
   local file = os.getenv("BENCH_POSTS")
   if file ~= nil and file ~= "" then
      for line in io.lines(file) do
         local id, hash = line:match("^(%d+) (%x+)$")
         table.insert(posts, { id = id, hash = hash })
      end
   end
   wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
   token = urlencode(os.getenv("BENCH_CSRF") or "")
end

function request()
   if first == nil then first = now() end
   if mode == "get" then
      return wrk.format("GET", os.getenv("BENCH_PATH"))
   end
   local post = posts[next_post]
   if post == nil then
      if mode == "page" and #posts > 0 then
         next_post = slot + 1
         post = posts[next_post]
      else
         ran_out = 1
         wrk.thread:stop()
         return wrk.format("GET", "/ping")
      end
   end
   next_post = next_post + stride
   if mode == "page" then
      return wrk.format("GET", "/posts/" .. post.id)
   end
   -- Headers given here replace wrk.headers: the session's cookie goes with them.
   return wrk.format("POST", "/posts/" .. post.id .. "/act",
      { ["Content-Type"] = "application/x-www-form-urlencoded",
        ["Cookie"] = wrk.headers["Cookie"] },
      "action=approve&revision=" .. post.hash .. "&csrf_token=" .. token)
end

function response(status, headers, body)
   last = now()
   answers = answers + 1
   if mode == "approve" then
      local location = headers["Location"] or ""
      if status ~= 302 or not location:find("/posts/", 1, true) then wrong = wrong + 1 end
   elseif status ~= 200 then
      wrong = wrong + 1
   end
end

function done(summary, latency, requests)
   local answered, wrongs, out, started, ended = 0, 0, 0, nil, nil
   for _, thread in ipairs(threads) do
      answered = answered + thread:get("answers")
      wrongs = wrongs + thread:get("wrong")
      out = out + thread:get("ran_out")
      local f, l = thread:get("first"), thread:get("last")
      if f ~= nil and (started == nil or f < started) then started = f end
      if l ~= nil and (ended == nil or l > ended) then ended = l end
   end
   local e = summary.errors
   io.write(string.format(
      '{"answers": %d, "seconds": %.6f, "wrong": %d, "ran_out": %d, "socket_errors": %d, ' ..
      '"p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
      answered, (ended or 0) - (started or 0), wrongs, out,
      e.connect + e.read + e.write + e.timeout,
      latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
