-- post.lua — wrk sends one chat completion per request; BODY_FILE picks the body (default: a short one).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local path = os.getenv("BODY_FILE")
if path then
  local f = assert(io.open(path, "rb"))
  wrk.body = f:read("*a")
  f:close()
else
  wrk.body = '{"model":"gpt-4o","messages":[{"role":"user","content":"Say hello."}]}'
end
local config = os.getenv("PORTKEY_CONFIG")
if config then
  wrk.headers["x-portkey-config"] = config
end
