-- POST /api/v1/auth/login as one of the seeded users ($USERS of them, password bench-password).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local users = tonumber(os.getenv("USERS") or "100")
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"login":"seed' .. (n % users) .. '","password":"bench-password"}')
end
