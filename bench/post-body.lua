-- wrk script: POST the JSON body that the file BODY_FILE holds (a batch of results, of SPC points).
local f = assert(io.open(os.getenv("BODY_FILE"), "r"))
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = f:read("*a")
f:close()
