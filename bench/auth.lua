-- wrk script: an authenticated request; the token comes from the environment.
local token = os.getenv("TOKEN")
wrk.headers["Authorization"] = "Bearer " .. token
