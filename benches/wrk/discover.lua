-- GET /api/v1/users?q=... rotating through typical 1-2 word queries.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local queries = { "seed123", "user%204567", "physics", "seed99", "sed", "history", "seed%20user%20777", "bio" }
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/api/v1/users?q=" .. queries[(n % #queries) + 1])
end
