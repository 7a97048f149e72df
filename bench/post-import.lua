-- wrk script: POST a multipart import (profile PROFILE, the CSV in BODY_FILE) whose first data row
-- carries a number of its own in each request, so that every request is a new file (the same bytes
-- again would answer 200 with the first import and add nothing).
local f = assert(io.open(os.getenv("BODY_FILE"), "r"))
local csv = f:read("*a")
f:close()
local header, rest = csv:match("^([^\n]*\n)(.*)$")
local boundary = "benchimport"
local profile = os.getenv("PROFILE")
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("thread_id", thread_id)
end

function request()
  counter = counter + 1
  local first = "unique," .. thread_id .. "." .. counter .. ",nm\n"
  local body = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"profile_id\"\r\n\r\n" .. profile .. "\r\n" ..
               "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench.csv\"\r\n" ..
               "Content-Type: text/csv\r\n\r\n" .. header .. first .. rest .. "\r\n--" .. boundary .. "--\r\n"
  return wrk.format("POST", nil, {["Authorization"] = "Bearer " .. os.getenv("TOKEN"),
                                  ["Content-Type"] = "multipart/form-data; boundary=" .. boundary}, body)
end
