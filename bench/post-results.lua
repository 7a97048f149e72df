-- wrk script: record a batch of results (the body is the file RESULTS_FILE names).
local f = assert(io.open(os.getenv("RESULTS_FILE"), "r"))
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = f:read("*a")
f:close()
