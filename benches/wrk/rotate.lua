-- GET rotating through the space-separated paths in $PATHS, each request signed in as the next of
-- the space-separated bearer tokens in $TOKENS (so visibility differs between requests).
local paths, tokens = {}, {}
for p in string.gmatch(os.getenv("PATHS"), "%S+") do paths[#paths + 1] = p end
for t in string.gmatch(os.getenv("TOKENS"), "%S+") do tokens[#tokens + 1] = t end
local n = 0
request = function()
  n = n + 1
  local headers = { ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1] }
  return wrk.format("GET", paths[(n % #paths) + 1], headers)
end
