-- wrk script: an audited write (a user's name, with its audit event); token and path from the environment.
wrk.method = "PATCH"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"full_name":"Vic Viewer"}'
