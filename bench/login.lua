-- wrk script: POST /api/auth/login (Argon2id on the blocking pool).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"viewer@acme.com","password":"view123"}'
