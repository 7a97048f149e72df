-- wrk script: create a run (the calibration lockout checked in its transaction, its audit entry).
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"instrument_id":"' .. os.getenv("INSTRUMENT") .. '","sample_id":"' .. os.getenv("SAMPLE") .. '"}'
