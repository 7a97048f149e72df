#!/usr/bin/env python3
"""make test-faults: a write load that records every answer, and the check of the database against it.

  client.py load  URL TOKEN PREFIX SECONDS RECORD   creates samples from 8 threads for SECONDS, writing
                                                    every answer (status, id, Retry-After) to RECORD
  client.py check DSN PREFIX RECORD                 every acknowledged sample is in the database whole
                                                    (its row, its creation custody event, its audit
                                                    event); no sample of PREFIX is there in part
  client.py outage RECORD                           no 5xx but 503, and every 503 says Retry-After
Standard library only; answers are judged as a client would see them.
"""
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request


def create(url, token, name):
    body = json.dumps({"name": name, "sample_type": "die", "location": "Fault bench"}).encode()
    req = urllib.request.Request(url + "/api/samples", data=body, method="POST",
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return {"status": res.status, "id": json.load(res).get("id")}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "retry_after": e.headers.get("Retry-After")}
    except Exception as e:  # refused, reset, timed out: no answer
        return {"status": 0, "error": type(e).__name__}


def load(url, token, prefix, seconds, record):
    answers, lock = [], threading.Lock()
    deadline = time.monotonic() + float(seconds)

    def worker(k):
        n = 0
        while time.monotonic() < deadline:
            name = f"{prefix}-{k}-{n}"
            n += 1
            a = create(url, token, name)
            a.update(name=name, t=time.monotonic())
            with lock:
                answers.append(a)
            if a["status"] == 0:
                time.sleep(0.05)  # no server: do not spin

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(record, "w") as f:
        json.dump(answers, f)
    statuses = {}
    for a in answers:
        statuses[a["status"]] = statuses.get(a["status"], 0) + 1
    print(f"  load: {len(answers)} requests, answers {dict(sorted(statuses.items()))}")


def psql(dsn, sql):
    out = subprocess.run(["psql", dsn, "-AtqX", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                         capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def check(dsn, prefix, record):
    answers = json.load(open(record))
    acked = {a["id"] for a in answers if a["status"] == 201}
    rows = psql(dsn, f"""
        SELECT s.id,
               (SELECT count(*) FROM custody_events c WHERE c.organization_id = s.organization_id
                   AND c.sample_id = s.id AND c.event_type = 'create'),
               (SELECT count(*) FROM audit_events a WHERE a.organization_id = s.organization_id
                   AND a.entity_id = s.id AND a.action = 'sample.create')
          FROM samples s WHERE s.name LIKE '{prefix}-%'""")
    found = {r[0]: (int(r[1]), int(r[2])) for r in rows}
    lost = sorted(acked - found.keys())
    partial = sorted(i for i, (custody, audit) in found.items() if custody != 1 or audit != 1)
    unanswered = len(found.keys() - acked)
    print(f"  check: {len(acked)} acknowledged, {len(acked & found.keys())} of them found, {len(lost)} lost, "
          f"{len(partial)} samples in part, {unanswered} committed whole without an answer the client saw")
    if lost or partial:
        print(f"  FAILED: lost {lost[:5]}, in part {partial[:5]}")
        sys.exit(1)


def outage(record):
    answers = json.load(open(record))
    bad = [a for a in answers if a["status"] >= 500 and a["status"] != 503]
    no_retry = [a for a in answers if a["status"] == 503 and not a.get("retry_after")]
    refused = sum(1 for a in answers if a["status"] == 503)
    print(f"  answers: {refused} were 503 ({len(no_retry)} of them without Retry-After), {len(bad)} other 5xx")
    if bad or no_retry:
        print(f"  FAILED: {bad[:3]} {no_retry[:3]}")
        sys.exit(1)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"load": load, "check": check, "outage": outage}[cmd](*args)
