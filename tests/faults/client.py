#!/usr/bin/env python3
"""make test-faults: a write load that records every answer, and the check of the database against it.

  client.py load LIMS ANALYSIS TOKEN PREFIX SECONDS RECORD
      8 threads for SECONDS, each repeating: a sample (with its creation custody event), a run of it on
      the instrument with a valid calibration, the run started, a result, a batch of 3 SPC points on the
      thread's own chart, and every 4th time a file uploaded onto the sample and a notebook entry signed
      by its author after reading it (password again: $FAULTS_PASSWORD). Every answer goes to RECORD: kind, name, status,
      id, Retry-After, the problem's detail. Each write names itself (a sample's name, a run's or point's
      extra_metadata, a result's metric, an entry's title, a file's name: PREFIX-thread-n) so the check
      finds it whether or not its answer arrived.
  client.py check DSN PREFIX RECORD DATA_DIR [--server-killed]
      every acknowledged write of each kind is in the database whole (its rows and its audit event), none
      of PREFIX is there in part, no file row names bytes missing from DATA_DIR, a file refused because
      the store was full or the scanner away left nothing behind, and no temporary file is left (unless
      the server was killed mid-write)
  client.py outage RECORD
      no 5xx but 503 (and 507 for uploads), and every 503 says Retry-After
  client.py refused RECORD KIND STATUS TEXT
      at least one write of KIND was refused with STATUS whose detail contains TEXT (the fault bit), and
      none of KIND with another 5xx
  client.py hang LIMS TOKEN DSN SUPERUSER_DSN TIMEOUT_MS SECONDS
      samples locked from another connection for SECONDS: a create answers 503 within the statement
      timeout, the server's backends are cancelled at it, and the refused create never commits
Standard library only; answers are judged as a client would see them.
"""
import hashlib
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

KINDS = ["sample", "run", "start", "result", "series", "points", "attachment", "entry", "signature"]
POINTS_PER_BATCH = 3


def call(method, url, token, body=None, content_type="application/json"):
    """One request: {"status", "body"} or, with no answer at all, {"status": 0, "error"}."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    headers = {"Authorization": "Bearer " + token}
    if data is not None:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return {"status": res.status, "body": json.loads(res.read() or b"null")}
    except urllib.error.HTTPError as e:
        a = {"status": e.code, "retry_after": e.headers.get("Retry-After")}
        try:
            a["detail"] = json.loads(e.read()).get("detail")
        except Exception:
            pass
        return a
    except Exception as e:  # refused, reset, timed out, cut mid-answer: no answer
        return {"status": 0, "error": type(e).__name__}


class Load:
    def __init__(self, lims, analysis, token, prefix, seconds):
        self.lims, self.analysis, self.token, self.prefix = lims, analysis, token, prefix
        self.deadline = time.monotonic() + float(seconds)
        self.password = os.environ.get("FAULTS_PASSWORD", "")
        self.answers, self.lock = [], threading.Lock()
        self.broken = []  # a worker's own failure (not the server's): fails the load
        # The instrument a run may use now (a valid calibration), and its approved recipe if any.
        for _ in range(25):  # the previous scenario's fault may still be ending
            got = call("GET", analysis + "/api/v1/instruments?limit=100", token)
            if got["status"] == 200:
                break
            time.sleep(0.2)
        usable = [i for i in (got.get("body") or {}).get("items", []) if (i.get("calibration") or {}).get("is_valid")]
        if not usable:
            sys.exit(f"client: no instrument with a valid calibration ({got})")
        self.instrument = usable[0]["id"]
        recipes = call("GET", lims + "/api/recipes?limit=100", token).get("body") or {}
        self.recipe = next((r["id"] for r in recipes.get("items", [])
                            if r.get("status") == "APPROVED" and r.get("instrument_id") == self.instrument), None)

    def write(self, kind, name, method, url, body=None, content_type="application/json", **extra):
        a = call(method, url, self.token, body, content_type)
        res = a.pop("body", None)
        if isinstance(res, dict) and "id" in res:
            a["id"] = res["id"]
        a.update(kind=kind, name=name, t=time.monotonic(), **extra)
        with self.lock:
            self.answers.append(a)
        if a["status"] == 0:
            time.sleep(0.05)  # no server: do not spin
        return a, res if a["status"] in (200, 201) else None

    def worker(self, k):
        try:
            self.work(k)
        except Exception as e:
            self.broken.append(f"thread {k}: {type(e).__name__}: {e}")

    def work(self, k):
        lims, analysis = self.lims, self.analysis
        series = None
        n = 0
        while time.monotonic() < self.deadline:
            name = f"{self.prefix}-{k}-{n}"
            if series is None:  # the thread's own chart (fixed limits: some points violate a rule)
                a, _ = self.write("series", f"{self.prefix}-series-{k}-{n}", "POST", analysis + "/api/v1/spc/series",
                                  {"name": f"{self.prefix}-series-{k}-{n}", "metric": "fault_thickness",
                                   "unit": "nm", "chart_type": "I-MR", "center_line": 10, "ucl": 13, "lcl": 7})
                if a["status"] == 201:
                    series = a["id"]
            sample, _ = self.write("sample", name, "POST", lims + "/api/samples",
                                   {"name": name, "sample_type": "die", "location": "Fault bench"})
            run = None
            if sample["status"] == 201:
                body = {"instrument_id": self.instrument, "sample_id": sample["id"], "extra_metadata": {"fault": name}}
                if self.recipe:
                    body["recipe_id"] = self.recipe
                a, _ = self.write("run", name, "POST", analysis + "/api/v1/runs", body)
                if a["status"] == 201:
                    run = a["id"]
            if run:
                a, _ = self.write("start", name, "PATCH", f"{analysis}/api/v1/runs/{run}/status", {"status": "RUNNING"},
                                  run_id=run)
                if a["status"] == 200:
                    self.write("result", name, "POST", f"{analysis}/api/v1/runs/{run}/results",
                               {"metric": name, "value": round(random.gauss(100, 2), 3), "unit": "nm"}, run_id=run)
            if series:
                points = [{"value": round(random.gauss(10, 1.2), 3), "extra_metadata": {"fault": name, "i": i}}
                          for i in range(POINTS_PER_BATCH)]
                if run:
                    for p in points:
                        p["run_id"] = run
                self.write("points", name, "POST", f"{analysis}/api/v1/spc/series/{series}/points?answer=summary",
                           {"points": points}, series_id=series)
            if n % 4 == 1 and sample["status"] == 201:
                content = f"{name}: thickness map, fault lane {time.time_ns()}\n".encode()
                q = urllib.parse.urlencode({"sample_id": sample["id"], "filename": name + ".txt"})
                self.write("attachment", name + ".txt", "POST", f"{analysis}/api/v1/attachments?{q}", content,
                           "text/plain", sha256=hashlib.sha256(content).hexdigest())
            if n % 4 == 3:
                a, entry = self.write("entry", name, "POST", lims + "/api/eln",
                                      {"title": name, "body_markdown": f"Measured **{name}** under a fault.",
                                       "tags": ["fault"]})
                # The signer reads the entry first: the signature binds the content_sha256 read.
                read = call("GET", f"{lims}/api/eln/{entry['id']}", self.token) if entry else {}
                if read.get("status") == 200:
                    self.write("signature", name, "POST", f"{lims}/api/eln/{entry['id']}/sign",
                               {"password": self.password, "meaning": "author",
                                "content_sha256": read["body"]["content_sha256"]}, entry_id=entry["id"])
            n += 1

    def run(self, record):
        started = time.time()
        threads = [threading.Thread(target=self.worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with open(record, "w") as f:
            json.dump({"started": started, "answers": self.answers}, f)
        statuses = {}
        for a in self.answers:
            statuses[a["status"]] = statuses.get(a["status"], 0) + 1
        print(f"  load: {len(self.answers)} writes, answers {dict(sorted(statuses.items()))}")
        if self.broken:
            print(f"  FAILED: the load itself broke: {self.broken[:3]}")
            sys.exit(1)


def load(lims, analysis, token, prefix, seconds, record):
    Load(lims, analysis, token, prefix, seconds).run(record)


def psql(dsn, sql):
    out = subprocess.run(["psql", dsn, "-AtqX", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                         capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def audits(action, entity_type, entity, extra=""):
    """How many audit events of `action` name the row (alias `x`) as `entity`."""
    return (f"(SELECT count(*) FROM audit_events a WHERE a.organization_id = x.organization_id"
            f" AND a.entity_type = '{entity_type}' AND a.entity_id = {entity} AND a.action = '{action}'{extra})")


def stored(dsn, prefix):
    """Per kind: name → (id, whole) for every write of PREFIX found in the database."""
    like = f"LIKE '{prefix}-%'"
    found = {k: {} for k in KINDS}
    for name, i, custody, audit in psql(dsn, f"""
            SELECT x.name, x.id,
                   (SELECT count(*) FROM custody_events c WHERE c.organization_id = x.organization_id
                       AND c.sample_id = x.id AND c.event_type = 'create'),
                   {audits('sample.create', 'sample', 'x.id')}
              FROM samples x WHERE x.name {like}"""):
        found["sample"][name] = (i, custody == "1" and audit == "1")
    for name, i, audit, started, start_audit in psql(dsn, f"""
            SELECT x.extra_metadata->>'fault', x.id, {audits('run.create', 'run', 'x.id')},
                   x.started_at IS NOT NULL AND x.status = 'RUNNING', {audits('run.start', 'run', 'x.id')}
              FROM runs x WHERE x.extra_metadata->>'fault' {like}"""):
        found["run"][name] = (i, audit == "1")
        # A start is there when the run moved or its audit event says so: then both must be.
        if started == "t" or start_audit != "0":
            found["start"][name] = (i, started == "t" and start_audit == "1")
    # A batch of results has one audit event naming its run (the client records one result per run, its
    # metric the run's name).
    for name, i, audit in psql(dsn, f"""
            SELECT x.metric, x.id, {audits('result.record', 'run', 'x.run_id')}
              FROM results x WHERE x.metric {like}"""):
        found["result"][name] = (i, audit == "1")
    # An audit event of results whose rows are missing: a result in part.
    for (name,) in psql(dsn, f"""
            SELECT r.extra_metadata->>'fault' FROM runs r JOIN audit_events a ON a.organization_id = r.organization_id
               AND a.entity_type = 'run' AND a.entity_id = r.id AND a.action = 'result.record'
             WHERE r.extra_metadata->>'fault' {like}
               AND NOT EXISTS (SELECT 1 FROM results x WHERE x.organization_id = r.organization_id AND x.run_id = r.id)"""):
        found["result"].setdefault(name, (None, False))
    for name, i, audit in psql(dsn, f"""
            SELECT x.name, x.id, {audits('spc_series.create', 'spc_series', 'x.id')}
              FROM spc_series x WHERE x.name {like}"""):
        found["series"][name] = (i, audit == "1")
    # A batch of points is whole when all its points are there, each inside the seq range of exactly
    # one audit event of its series that counts the whole batch.
    batches = {}
    for name, seq, audit in psql(dsn, f"""
            SELECT x.extra_metadata->>'fault', x.seq,
                   {audits('spc_points.add', 'spc_series', 'x.series_id',
                           " AND (a.after->>'first_seq')::bigint <= x.seq AND x.seq <= (a.after->>'last_seq')::bigint"
                           f" AND (a.after->>'count')::int = {POINTS_PER_BATCH}")}
              FROM spc_datapoints x WHERE x.extra_metadata->>'fault' {like}"""):
        batches.setdefault(name, []).append(audit == "1")
    for name, audited in batches.items():
        found["points"][name] = (None, len(audited) == POINTS_PER_BATCH and all(audited))
    for name, i, audit, signatures, signed, sign_audit in psql(dsn, f"""
            SELECT x.title, x.id, {audits('eln.create', 'eln_entry', 'x.id')},
                   (SELECT count(*) FROM signatures s WHERE s.organization_id = x.organization_id AND s.entry_id = x.id),
                   x.signed AND x.locked_at IS NOT NULL, {audits('eln.sign', 'eln_entry', 'x.id')}
              FROM eln_entries x WHERE x.title {like}"""):
        found["entry"][name] = (i, audit == "1")
        if signatures != "0" or signed == "t" or sign_audit != "0":
            found["signature"][name] = (i, signatures == "1" and signed == "t" and sign_audit == "1")
    files = {}
    for name, i, sha, links, audit in psql(dsn, f"""
            SELECT x.filename, x.id, encode(x.sha256, 'hex'),
                   (SELECT count(*) FROM attachment_links l WHERE l.organization_id = x.organization_id
                       AND l.attachment_id = x.id),
                   {audits('attachment.create', 'attachment', 'x.id')}
              FROM attachments x WHERE x.filename {like}"""):
        found["attachment"][name] = (i, links == "1" and audit == "1")
        files[name] = sha
    return found, files


def on_disk(data_dir, sha):
    """Whether the store holds the bytes of `sha` (their digest checked)."""
    path = os.path.join(data_dir, sha[:2], sha[2:4], sha)
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest() == sha
    except FileNotFoundError:
        return False


def check(dsn, prefix, record, data_dir, *flags):
    rec = json.load(open(record))
    answers = rec["answers"]
    found, files = stored(dsn, prefix)
    ok_status = {"start": 200}
    failed = False
    for kind in KINDS:
        acked = {a["name"] for a in answers if a["kind"] == kind and a["status"] == ok_status.get(kind, 201)}
        there = found[kind]
        lost = sorted(n for n in acked if n not in there)
        partial = sorted(n for n, (_, whole) in there.items() if not whole)
        unseen = sorted(n for n, (_, whole) in there.items() if whole and n not in acked)
        print(f"  {kind:10} {len(acked):5} acknowledged, {len(acked) - len(lost):5} found, {len(lost)} lost, "
              f"{len(partial)} in part, {len(unseen)} whole without an answer the client saw")
        if lost or partial:
            print(f"  FAILED: {kind}: lost {lost[:5]}, in part {partial[:5]}")
            failed = True
    # The store: every file row's bytes on disk; a file refused for the store or the scanner left
    # neither row nor bytes; no temporary file of this scenario left behind.
    missing = sorted(n for n, sha in files.items() if not on_disk(data_dir, sha))
    refused = [a for a in answers if a["kind"] == "attachment" and a["status"] in (503, 507)
               and any(w in (a.get("detail") or "") for w in ("file store is full", "malware scanner"))]
    left = sorted(a["name"] for a in refused if a["name"] in files or on_disk(data_dir, a["sha256"]))
    temps = []
    for folder, _, names in os.walk(data_dir):
        for f in names:
            p = os.path.join(folder, f)
            if f.startswith(".tmp-") and os.path.getmtime(p) >= rec["started"]:
                temps.append(p)
    print(f"  store: {len(files)} file rows, {len(missing)} naming bytes not on disk; {len(refused)} uploads "
          f"refused by the store or the scanner, {len(left)} of them left something; {len(temps)} temporary files left")
    if missing or left or (temps and "--server-killed" not in flags):
        print(f"  FAILED: missing {missing[:5]}, left behind {left[:5]}, temporary {temps[:5]}")
        failed = True
    if failed:
        sys.exit(1)


def outage(record):
    answers = json.load(open(record))["answers"]
    bad = [a for a in answers if a["status"] >= 500 and a["status"] != 503
           and not (a["status"] == 507 and a["kind"] == "attachment")]
    no_retry = [a for a in answers if a["status"] == 503 and not a.get("retry_after")]
    refused = sum(1 for a in answers if a["status"] == 503)
    others = {}  # any other refusal, by status and kind
    for a in answers:
        if a["status"] >= 400 and a["status"] != 503:
            key = f"{a['status']} {a['kind']}"
            others[key] = others.get(key, 0) + 1
    print(f"  answers: {refused} were 503 ({len(no_retry)} of them without Retry-After), {len(bad)} other 5xx"
          + "".join(f"; {n} {key}" for key, n in sorted(others.items())))
    if bad or no_retry:
        print(f"  FAILED: {bad[:3]} {no_retry[:3]}")
        sys.exit(1)


def refused(record, kind, status, text):
    answers = json.load(open(record))["answers"]
    hits = [a for a in answers if a["kind"] == kind and a["status"] == int(status) and text in (a.get("detail") or "")]
    other = sorted({f"{a['status']} {a.get('detail')}" for a in answers
                    if a["kind"] == kind and a["status"] >= 500 and a["status"] != int(status)})
    said = sorted({f"{a['status']} {a.get('detail')}" for a in hits})
    print(f"  refused: {len(hits)} {kind} writes: {'; '.join(said) or '-'}")
    if not hits or other:
        print(f"  FAILED: no {kind} write was refused with {status} \"{text}\" (the fault did not bite), or"
              f" others were: {other[:3]}")
        sys.exit(1)


def hang(url, token, owner_dsn, super_dsn, deadline_ms, hold_seconds):
    """Another connection holds samples locked for HOLD_SECONDS: a sample create answers 503 with
    Retry-After within the statement timeout (plus 1.5 s); no backend of the server's waits on the lock
    longer than the timeout (plus 0.5 s), so each was cancelled, not abandoned; and the create answered
    503 is not committed once the lock is free."""
    deadline, failed = int(deadline_ms) / 1000, False
    holder = subprocess.Popen(["psql", owner_dsn, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c",
                               "BEGIN; LOCK TABLE samples IN ACCESS EXCLUSIVE MODE;"
                               f" SELECT pg_sleep({float(hold_seconds)}); COMMIT"], stdout=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if psql(owner_dsn, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                               " WHERE c.relname = 'samples' AND l.mode = 'AccessExclusiveLock' AND l.granted") == [["1"]]:
                break
            time.sleep(0.1)
        else:
            print("  FAILED: the lock on samples was not granted within 5 s")
            sys.exit(1)
        print(f"  samples locked by another connection for {hold_seconds} s (statement timeout {deadline_ms} ms)")
        waits = []  # (backends waiting on a lock, the longest wait) as seen every 0.2 s while the lock is held

        def watch():
            while holder.poll() is None:
                (n, longest), = psql(super_dsn, """
                    SELECT count(*), coalesce(max(extract(epoch FROM clock_timestamp() - query_start)), 0)::numeric(8,2)
                      FROM pg_stat_activity WHERE usename = 'spectra_app' AND wait_event_type = 'Lock'""")
                waits.append((int(n), float(longest)))
                time.sleep(0.2)

        watcher = threading.Thread(target=watch)
        watcher.start()
        t0 = time.monotonic()
        a = call("POST", url + "/api/samples", token, {"name": "under the lock", "sample_type": "die"})
        took = time.monotonic() - t0
        if a["status"] == 503 and a.get("retry_after") and took <= deadline + 1.5:
            print(f"  a create under the lock: 503 with Retry-After: {a['retry_after']} in {took:.2f} s "
                  f"(limit {deadline + 1.5:.1f} s)")
        else:
            print(f"  FAILED: a create under the lock answered {a['status']} (Retry-After: {a.get('retry_after')}) "
                  f"in {took:.2f} s (limit {deadline + 1.5:.1f} s)")
            failed = True
        watcher.join()
        most, longest = max(n for n, _ in waits), max(w for _, w in waits)
        if longest <= deadline + 0.5 and most > 0:
            print(f"  the server's backends on the lock: up to {most} at once, none waiting longer than {longest:.2f} s "
                  f"(limit {deadline + 0.5:.1f} s): each cancelled at the deadline")
        else:
            print(f"  FAILED: the server's backends on the lock: up to {most} at once, the longest wait {longest:.2f} s "
                  f"(limit {deadline + 0.5:.1f} s)")
            failed = True
        time.sleep(0.5)  # a statement abandoned but not cancelled would go on now that the lock is free
        if psql(owner_dsn, "SELECT count(*) FROM samples WHERE name = 'under the lock'") != [["0"]]:
            print("  FAILED: the create answered 503 under the lock was committed once the lock was free")
            failed = True
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"load": load, "check": check, "outage": outage, "refused": refused, "hang": hang}[cmd](*args)
