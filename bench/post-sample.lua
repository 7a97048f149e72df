-- wrk script: create a sample (its barcode generated, its first custody event, its audit event).
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"bench die","sample_type":"die","location":"Bench rack"}'
