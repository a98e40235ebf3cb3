-- PATCH /api/v1/me with a different bio each time (each one is a durable, acknowledged write).
wrk.method = "PATCH"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"bio":"benchmark bio ' .. n .. '"}')
end
