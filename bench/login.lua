-- wrk script: POST /api/auth/login (Argon2id on the blocking pool), cycling through the ten demo
-- accounts so that no one account has many attempts in flight (the throttle counts those).
local accounts = {
  {"admin@acme.com", "admin123"}, {"pi@acme.com", "pi123"}, {"engineer@acme.com", "eng123"},
  {"tech@acme.com", "tech123"}, {"viewer@acme.com", "view123"}, {"admin@globex.com", "admin123"},
  {"pi@globex.com", "pi123"}, {"engineer@globex.com", "eng123"}, {"tech@globex.com", "tech123"},
  {"viewer@globex.com", "view123"},
}
local i = 0
request = function()
  i = i + 1
  local a = accounts[(i % #accounts) + 1]
  local body = string.format('{"email":"%s","password":"%s"}', a[1], a[2])
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
