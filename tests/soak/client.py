#!/usr/bin/env python3
"""make soak: a mixed workload from several simulated labs against one server, and its verdict.

  client.py LIMS_URL ANALYSIS_URL SERVER_PID MINUTES --lab DOMAIN[:new] ... --password P [--record FILE]

Each lab (organization) is a process, and each of its five people a thread in it with a keep-alive
connection to each port (a process per lab, so that one interpreter's lock does not add its own
milliseconds to the latencies measured): an admin (users, audit trail, SPC alert triage), two engineers (samples created, edited and moved
through custody, runs created, notebook entries, uploads), a technician (runs started, results
recorded, runs completed with their raw files, SPC batches) and a viewer (reads, exports, sign-ins).
Everyone reads (sample pages, lists, instruments, runs, SPC charts), exports (the samples CSV of a
fixed set, labels as PNG and a PDF sheet, a notebook entry as .eln) and signs in again or refreshes
now and then. A seeded lab ("acme.com") uses its demo users and adds a second engineer through the
API; a new lab ("initech.test:new", whose organization and admin the caller created) gets every
person, an instrument with a valid calibration and a material through the API, all with password P.

Every answer is recorded as a client sees it: the route template ("GET /api/samples/{id}"), the
status, the latency (request sent to last byte read) and when. The expected status of each route is
its success status in the server's own OpenAPI documents (a template the server does not serve stops
the run before it starts). The server's RSS (VmRSS), threads and open descriptors (/proc/PID/fd) are
sampled every 10 s, each sample the least of five readings over a second (so that a sign-in's 19 MiB
Argon2 buffer, or a file being stored, in flight at that instant does not count as growth).

The verdict (exit 1 when any fails), over a run of T minutes, with W = min(5 min, T/4) and a warm-up
of min(2 min, T/10) (at 20 minutes: the first and last five minutes, two minutes of warm-up):
  - RSS at the end is less than 10 % above the RSS at the end of the warm-up;
  - open descriptors stay flat after the warm-up (max - min <= SOAK_FD_SLACK, 10);
  - each route's p99 in the last W is within 1.5 x its p99 in the first W (routes with at least 100
    answers in each window; the others are printed for information), or within SOAK_P99_SLACK_MS
    (5 ms; 0 is the ratio alone) of it: below a few milliseconds the p99 of a 2-core machine shared
    with PostgreSQL, this client and whatever else runs is its scheduler's, not the server's;
  - no answer is a 5xx, none is missing (connection refused, reset, timed out), and every answer
    has its route's expected status.
GET /.well-known/jwks.json (no database) is called as a control: when its p99 moves as well, the
machine was busier, not only the server. Standard library only.
"""
import argparse
import collections
import http.client
import json
import math
import multiprocessing
import os
import random
import sys
import threading
import time
import traceback
import urllib.parse
import uuid

CONTROL = "GET /.well-known/jwks.json"
FD_SLACK = int(os.environ.get("SOAK_FD_SLACK", "10"))
THINK = float(os.environ.get("SOAK_THINK_MS", "180")) / 1000.0
P99_RATIO = 1.5
P99_SLACK_MS = float(os.environ.get("SOAK_P99_SLACK_MS", "5"))
RSS_GROWTH = 0.10
MIN_SAMPLES = 100  # below 100 answers a p99 is the slowest one: one stall decides
ONLY = set(filter(None, os.environ.get("SOAK_OPS", "").split(",")))
SEEDED_PASSWORDS = {"admin": "admin123", "engineer": "eng123", "technician": "tech123", "viewer": "view123"}
LOCATIONS = ["Soak rack A", "Soak rack B", "Metrology bay", "Cleanroom bay 2", "Wafer stocker A"]


class Unexpected(Exception):
    """An answer the workload did not expect: the rest of the operation is skipped (it is recorded)."""


class Run:
    """What every worker shares: the URLs, the expected statuses, the clock and the record."""

    def __init__(self, lims, analysis, expected):
        self.urls = {"lims": urllib.parse.urlsplit(lims), "analysis": urllib.parse.urlsplit(analysis)}
        self.expected = expected  # "METHOD /template" -> {success statuses}
        self.t0 = None            # set when the load starts; answers before it are the setup's
        self.record = []          # (route, status, seconds, t, body bytes) of the load, by every thread
        self.unexpected = collections.Counter()  # (route, status) -> count
        self.examples = {}        # (route, status) -> first body seen
        self.client_errors = []   # tracebacks of the client's own bugs
        self.reconnects = 0
        self.server_gone = None   # when the server's process was found gone
        self.lock = threading.Lock()
        self.stop = threading.Event()


class Ring:
    """A bounded, shared set of recent ids of one kind, picked at random."""

    def __init__(self, size=400):
        self.items, self.size, self.lock = [], size, threading.Lock()

    def add(self, x):
        with self.lock:
            if len(self.items) >= self.size:
                self.items[random.randrange(len(self.items))] = x
            else:
                self.items.append(x)

    def pick(self):
        with self.lock:
            return random.choice(self.items) if self.items else None


class Lab:
    """One organization and what its people share."""

    def __init__(self, domain, new):
        self.domain, self.new = domain, new
        self.instruments, self.valid_instrument = [], None
        self.export_material, self.export_samples, self.series = None, [], []
        self.eln_export = None
        self.samples, self.runs, self.attachments, self.entries = Ring(), Ring(), Ring(), Ring()
        self.queued = collections.deque()
        self.queue_lock = threading.Lock()


class Person:
    """One simulated person: a keep-alive connection to each port, their tokens, their record."""

    def __init__(self, run, lab, email, password, role):
        self.run, self.lab, self.email, self.password, self.role = run, lab, email, password, role
        self.conns = {}
        self.access = self.refresh = None
        self.token_time = 0.0
        self.own = {}  # sample id -> {"location", "status", "moves"}: the samples this person moves
        self.n = 0

    # --- HTTP ---------------------------------------------------------------------------------
    def _conn(self, port):
        c = self.conns.get(port)
        if c is None:
            u = self.run.urls[port]
            c = self.conns[port] = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        return c

    def request(self, port, method, route, path, body=None, ctype=None, headers=None, auth=True, label=None):
        """Sends one request, records its answer under `label` (default: the route template, whose success
        statuses are the expected ones); returns (status, headers, body bytes)."""
        h = {"Accept": "application/json"}
        if body is not None and not isinstance(body, (bytes, str)):
            body, ctype = json.dumps(body), "application/json"
        if isinstance(body, str):
            body = body.encode()
        if ctype:
            h["Content-Type"] = ctype
        if auth and self.access:
            h["Authorization"] = "Bearer " + self.access
        if headers:
            h.update(headers)
        status, rh, data = 0, {}, b""
        start = time.monotonic()
        for attempt in (1, 2):
            conn = self._conn(port)
            reused = conn.sock is not None
            try:
                conn.request(method, path, body=body, headers=h)
                res = conn.getresponse()
                data = res.read()
                status, rh = res.status, {k.lower(): v for k, v in res.getheaders()}
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                conn.close()
                if reused and attempt == 1:
                    # A keep-alive connection the server had closed: a client retries on a new one.
                    with self.run.lock:
                        self.run.reconnects += 1
                    start = time.monotonic()
                    continue
                data = repr(e).encode()
                break
            except (OSError, http.client.HTTPException) as e:  # refused, timed out, garbled: no answer
                conn.close()
                data = repr(e).encode()
                break
        elapsed = time.monotonic() - start
        ok = status in self.run.expected[route]
        run = self.run
        route = label or route
        if run.t0 is not None:
            run.record.append((route, status, elapsed, start - run.t0, len(data)))
            if not ok:
                with run.lock:
                    run.unexpected[(route, status)] += 1
                    run.examples.setdefault((route, status), data[:300].decode("utf-8", "replace"))
        if not ok:
            if run.t0 is None:
                raise SystemExit(f"{self.email}: {route} ({path}) answered {status}: "
                                 f"{data[:500].decode('utf-8', 'replace')}")
            raise Unexpected(f"{route} {status}")
        return status, rh, data

    def call(self, port, method, route, path=None, body=None, **kw):
        """A JSON request; answers the parsed JSON (or None for an empty body)."""
        status, h, data = self.request(port, method, route, path or route.split(" ", 1)[1], body, **kw)
        return json.loads(data) if data and h.get("content-type", "").startswith(("application/json", "application/problem")) else None

    def lims(self, method, template, path=None, body=None, **kw):
        return self.call("lims", method, f"{method} {template}", path or template, body, **kw)

    def analysis(self, method, template, path=None, body=None, **kw):
        return self.call("analysis", method, f"{method} {template}", path or template, body, **kw)

    # --- sessions -----------------------------------------------------------------------------
    def sign_in(self):
        old = self.refresh
        r = self.lims("POST", "/api/auth/login", body={"email": self.email, "password": self.password}, auth=False)
        self.access, self.refresh, self.token_time = r["access_token"], r["refresh_token"], time.monotonic()
        if old:  # the previous session ends, as when someone signs out on another machine
            self.lims("POST", "/api/auth/logout", body={"refresh_token": old})

    def renew(self):
        r = self.lims("POST", "/api/auth/refresh", body={"refresh_token": self.refresh}, auth=False)
        self.access, self.refresh, self.token_time = r["access_token"], r["refresh_token"], time.monotonic()

    def close(self):
        for c in self.conns.values():
            c.close()


# --- setup ------------------------------------------------------------------------------------------
def setup_lab(run, lab, password):
    """The lab's people and the fixed things the workload reads and exports."""
    admin_pw = password if lab.new else SEEDED_PASSWORDS["admin"]
    admin = Person(run, lab, f"admin@{lab.domain}", admin_pw, "admin")
    admin.sign_in()
    people = [admin]
    wanted = [("eng2.soak", "engineer", "Sam Soak")]
    if lab.new:
        wanted = [("engineer", "engineer", "Eve Engineer"), ("tech", "technician", "Tom Technician"),
                  ("viewer", "viewer", "Val Viewer")] + wanted
    for local, role, name in wanted:
        admin.lims("POST", "/api/users", body={"email": f"{local}@{lab.domain}", "full_name": name, "role": role,
                                                "password": password})
    for local, role in [("engineer", "engineer"), ("eng2.soak", "engineer"), ("tech", "technician"), ("viewer", "viewer")]:
        pw = password if lab.new or local == "eng2.soak" else SEEDED_PASSWORDS[role]
        p = Person(run, lab, f"{local}@{lab.domain}", pw, role)
        p.sign_in()
        people.append(p)
    eng = people[1]

    items = eng.analysis("GET", "/api/v1/instruments", "/api/v1/instruments?limit=50")["items"]
    if not items:
        for name, serial in [("Ellipsometer E9", "SOAK-ELL-9"), ("Profilometer P9", "SOAK-PRF-9")]:
            items.append(eng.analysis("POST", "/api/v1/instruments", body={
                "name": name, "vendor": "Soak Instruments", "model": "S-1", "serial_number": serial,
                "location": "Cleanroom bay 2", "calibration_interval_days": 365}))
        now = time.time()
        eng.analysis("POST", "/api/v1/calibrations", body={
            "instrument_id": items[0]["id"], "certificate_number": "SOAK-CAL-1", "provider": "Soak Metrology",
            "calibrated_at": iso(now - 30 * 86400), "expires_at": iso(now + 335 * 86400)})
        items = eng.analysis("GET", "/api/v1/instruments", "/api/v1/instruments?limit=50")["items"]
    lab.instruments = [i["id"] for i in items]
    valid = [i["id"] for i in items if (i.get("calibration") or {}).get("is_valid")]
    if not valid:
        raise SystemExit(f"{lab.domain} has no instrument with a valid calibration")
    lab.valid_instrument = valid[0]

    # A fixed set of 100 samples (imported as CSV) that nobody moves: what the exports export.
    m = eng.lims("POST", "/api/materials", body={"name": "Soak export set", "category": "semiconductor"})
    lab.export_material = m["id"]
    rows = "".join(f"Export wafer {k},wafer,{m['id']},Soak archive\n" for k in range(100))
    imp = eng.lims("POST", "/api/samples/import", body="name,sample_type,material_id,location\n" + rows, ctype="text/csv")
    lab.export_samples = imp["ids"]
    for s in lab.export_samples:
        lab.samples.add(s)

    lab.series = [
        (eng.analysis("POST", "/api/v1/spc/series", body={
            "name": "Soak oxide thickness", "metric": "thickness_nm", "unit": "nm", "chart_type": "I-MR",
            "lsl": 94, "usl": 106, "target": 100, "center_line": 100, "ucl": 103, "lcl": 97})["id"], 100.0, 1.0),
        (eng.analysis("POST", "/api/v1/spc/series", body={
            "name": "Soak sheet resistance", "metric": "rs_ohm_sq", "unit": "ohm/sq", "chart_type": "XBAR-R",
            "subgroup_size": 5, "baseline_points": 100, "lsl": 40, "usl": 60})["id"], 50.0, 2.0),
    ]
    # The notebook entry that is exported: two files, never changed afterwards.
    entry = eng.lims("POST", "/api/eln", body={
        "title": "Soak: oxide lot summary", "tags": ["soak"], "sample_ids": lab.export_samples[:3],
        "body_markdown": "## Summary\n\nThickness by ellipsometry, **five** sites per wafer.\n\n| site | nm |\n|---|---|\n| 1 | 100.2 |\n"})
    lab.eln_export = entry["id"]
    lab.entries.add(entry["id"])
    for k in range(2):
        upload(eng, f"eln_entry_id={entry['id']}", f"lot-summary-{k}.csv", record_ring=False)
    return people


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def csv_file(rows):
    lines = ["site,x_mm,y_mm,thickness_nm"]
    for k in range(rows):
        lines.append(f"{k},{random.uniform(-70, 70):.3f},{random.uniform(-70, 70):.3f},{random.gauss(100, 1):.4f}")
    return ("\n".join(lines) + "\n").encode()


def upload(p, target, filename, record_ring=True):
    """A multipart upload of a small CSV (unique bytes, so that every file is stored anew)."""
    boundary = "soak" + uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: text/csv\r\n\r\n").encode() + csv_file(random.randint(20, 200)) + f"\r\n--{boundary}--\r\n".encode()
    a = p.analysis("POST", "/api/v1/attachments", "/api/v1/attachments?" + target, body=body,
                   ctype=f"multipart/form-data; boundary={boundary}")
    if record_ring:
        p.lab.attachments.add(a["id"])
    return a


# --- operations: each is one thing a person does, one or more requests -----------------------------
def op_sample_page(p):
    s = p.lab.samples.pick()
    p.lims("GET", "/api/samples/{id}", f"/api/samples/{s}")
    p.lims("GET", "/api/samples/{id}/custody", f"/api/samples/{s}/custody")
    p.analysis("GET", "/api/v1/attachments", f"/api/v1/attachments?sample_id={s}&limit=20")
    p.analysis("GET", "/api/v1/runs", f"/api/v1/runs?sample_id={s}&limit=20")


def op_list_samples(p):
    q = random.choice(["limit=50", "limit=20&status=available", "limit=50&sample_type=wafer", "limit=20&q=soak"])
    page = p.lims("GET", "/api/samples", f"/api/samples?{q}")
    if page.get("next_cursor") and random.random() < 0.3:
        p.lims("GET", "/api/samples", f"/api/samples?{q}&cursor={urllib.parse.quote(page['next_cursor'])}")


def op_scan(p):
    s = p.lims("GET", "/api/samples/{id}", f"/api/samples/{p.lab.samples.pick()}")
    p.lims("GET", "/api/samples", f"/api/samples?barcode={urllib.parse.quote(s['barcode'])}")


def op_reference(p):
    r = random.random()
    if r < 0.2:
        p.lims("GET", "/api/materials", "/api/materials?limit=50")
    elif r < 0.4:
        p.lims("GET", "/api/recipes", "/api/recipes?limit=20")
    elif r < 0.6:
        p.lims("GET", "/api/sops", "/api/sops?limit=20")
    elif r < 0.8:
        p.lims("GET", "/api/organization")
    else:
        p.lims("GET", "/api/auth/me")


def op_instruments(p):
    p.analysis("GET", "/api/v1/instruments", "/api/v1/instruments?limit=50")
    i = random.choice(p.lab.instruments)
    p.analysis("GET", "/api/v1/instruments/{id}", f"/api/v1/instruments/{i}")
    p.analysis("GET", "/api/v1/calibrations/status/check", f"/api/v1/calibrations/status/check?instrument_id={i}")


def op_runs(p):
    p.analysis("GET", "/api/v1/runs", "/api/v1/runs?limit=20" + random.choice(["", "&status=COMPLETED", "&status=QUEUED"]))
    r = p.lab.runs.pick()
    if r:
        p.analysis("GET", "/api/v1/runs/{id}", f"/api/v1/runs/{r}")
        p.analysis("GET", "/api/v1/runs/{id}/results", f"/api/v1/runs/{r}/results?limit=50")


def op_spc_chart(p):
    sid = random.choice(p.lab.series)[0]
    p.analysis("GET", "/api/v1/spc/series/{id}", f"/api/v1/spc/series/{sid}")
    p.analysis("GET", "/api/v1/spc/series/{id}/points", f"/api/v1/spc/series/{sid}/points?limit=100")
    p.analysis("GET", "/api/v1/spc/alerts", f"/api/v1/spc/alerts?series_id={sid}&limit=20")


def op_eln_read(p):
    p.lims("GET", "/api/eln", "/api/eln?limit=20")
    e = p.lab.entries.pick()
    p.lims("GET", "/api/eln/{id}", f"/api/eln/{e}")


def op_download(p):
    a = p.lab.attachments.pick()
    if a:
        p.analysis("GET", "/api/v1/attachments/{id}/content", f"/api/v1/attachments/{a}/content", headers={"Accept": "*/*"})


def op_export_csv(p):
    _, _, data = p.request("lims", "GET", "GET /api/samples", f"/api/samples?format=csv&material_id={p.lab.export_material}",
                           headers={"Accept": "text/csv"}, label="GET /api/samples?format=csv")
    lines = data.decode("utf-8", "replace").splitlines()
    if len(lines) != 101 or not lines[0].startswith("id,"):
        with p.run.lock:
            p.run.unexpected[("GET /api/samples (csv export)", f"{len(lines)} lines")] += 1
            p.run.examples.setdefault(("GET /api/samples (csv export)", f"{len(lines)} lines"), "\n".join(lines[:3]))


def op_export_label(p):
    s = random.choice(p.lab.export_samples)
    p.request("lims", "GET", "GET /api/samples/{id}/label", f"/api/samples/{s}/label?format=png", headers={"Accept": "image/png"})


def op_export_sheet(p):
    ids = random.sample(p.lab.export_samples, 12)
    p.request("lims", "POST", "POST /api/samples/labels", "/api/samples/labels", json.dumps({"sample_ids": ids, "format": "pdf"}),
              ctype="application/json", headers={"Accept": "application/pdf"})


def op_export_eln(p):
    p.request("lims", "GET", "GET /api/eln/{id}/export", f"/api/eln/{p.lab.eln_export}/export", headers={"Accept": "*/*"})


def op_login(p):
    p.sign_in()


def op_refresh(p):
    p.renew()


def op_control(p):
    p.request("analysis", "GET", CONTROL, "/.well-known/jwks.json", auth=False)


def op_create_sample(p):
    p.n += 1
    s = p.lims("POST", "/api/samples", body={
        "name": f"Soak {p.email.split('@')[0]} {p.n}", "sample_type": random.choice(["wafer", "die", "film", "powder"]),
        "location": LOCATIONS[0], "extra_metadata": {"soak": True, "n": p.n}})
    p.lab.samples.add(s["id"])
    if len(p.own) < 12:
        p.own[s["id"]] = {"location": LOCATIONS[0], "status": "available", "moves": 0}


def op_edit_sample(p):
    if not p.own:
        return op_create_sample(p)
    s = random.choice(list(p.own))
    p.lims("PATCH", "/api/samples/{id}", f"/api/samples/{s}", body={"extra_metadata": {"soak": True, "edited": time.time()}})


def op_custody(p):
    """Moves one of this person's samples: transfers and check-outs, returns, and after eight moves, consumed."""
    if not p.own:
        return op_create_sample(p)
    s = random.choice(list(p.own))
    st = p.own[s]
    if st["status"] == "checked_out":
        body = {"event_type": "return"}
    elif st["moves"] >= 8:
        body = {"event_type": "consume", "notes": "used up by the soak"}
    elif random.random() < 0.3:
        body = {"event_type": "check_out", "notes": "to the bench"}
    else:
        body = {"event_type": "transfer", "to_location": random.choice([x for x in LOCATIONS if x != st["location"]])}
    try:
        p.lims("POST", "/api/samples/{id}/custody", f"/api/samples/{s}/custody", body=body)
    except Unexpected:
        del p.own[s]  # its state is no longer known: leave it alone
        raise
    st["moves"] += 1
    if body["event_type"] == "transfer":
        st["location"] = body["to_location"]
    st["status"] = {"check_out": "checked_out", "return": "available"}.get(body["event_type"], st["status"])
    if body["event_type"] == "consume":
        del p.own[s]
    if random.random() < 0.3:
        p.lims("GET", "/api/samples/{id}/custody", f"/api/samples/{s}/custody")


def op_create_run(p):
    r = p.analysis("POST", "/api/v1/runs", body={
        "instrument_id": p.lab.valid_instrument, "sample_id": p.lab.samples.pick(), "kind": "measurement",
        "parameters": {"wavelength_nm": 633, "angle_deg": 70}})
    if r["status"] != "QUEUED":
        with p.run.lock:
            p.run.unexpected[("POST /api/v1/runs (status)", r["status"])] += 1
        return
    with p.lab.queue_lock:
        full = len(p.lab.queued) >= 30
        if not full:
            p.lab.queued.append(r["id"])
    if full:  # the technicians are behind: the engineer withdraws it
        p.analysis("PATCH", "/api/v1/runs/{id}/status", f"/api/v1/runs/{r['id']}/status",
                   body={"status": "CANCELLED", "note": "queue full"})


def op_eln_write(p):
    if getattr(p, "my_entry", None) and random.random() < 0.5:
        p.lims("PATCH", "/api/eln/{id}", f"/api/eln/{p.my_entry}", body={
            "body_markdown": f"## Notes\n\nUpdated at {iso(time.time())}.\n\n- sample {p.lab.samples.pick()}\n"})
        return
    e = p.lims("POST", "/api/eln", body={
        "title": f"Soak notes {p.n}", "tags": ["soak", random.choice(["oxide", "etch", "litho"])],
        "sample_ids": [p.lab.samples.pick()],
        "body_markdown": "## Goal\n\nCheck the *oxide* thickness.\n\n1. Load\n2. Measure\n\n<script>alert(1)</script>\n"})
    p.my_entry = e["id"]
    p.lab.entries.add(e["id"])


def op_upload_sample(p):
    s = random.choice(list(p.own)) if p.own else p.lab.samples.pick()
    upload(p, f"sample_id={s}", f"scan-{p.n}.csv")


def op_run_step(p):
    """A queued run, started, its results recorded (and its raw file now and then), completed."""
    with p.lab.queue_lock:
        rid = p.lab.queued.popleft() if p.lab.queued else None
    if rid is None:
        return op_runs(p)
    p.analysis("PATCH", "/api/v1/runs/{id}/status", f"/api/v1/runs/{rid}/status", body={"status": "RUNNING"})
    results = [{"metric": "thickness_nm", "value": round(random.gauss(100, 1), 4), "unit": "nm",
                "data": {"site": k}} for k in range(random.randint(5, 20))]
    p.analysis("POST", "/api/v1/runs/{id}/results", f"/api/v1/runs/{rid}/results", body={"results": results})
    if random.random() < 0.3:
        upload(p, f"run_id={rid}", f"run-{rid[:8]}.csv")
    p.analysis("PATCH", "/api/v1/runs/{id}/status", f"/api/v1/runs/{rid}/status", body={"status": "COMPLETED"})
    p.lab.runs.add(rid)


def op_spc_batch(p):
    sid, center, sigma = random.choice(p.lab.series)
    points = [{"value": round(random.gauss(center, sigma), 4)} for _ in range(random.randint(5, 25))]
    p.analysis("POST", "/api/v1/spc/series/{id}/points", f"/api/v1/spc/series/{sid}/points", body={"points": points})


def op_admin(p):
    r = random.random()
    if r < 0.3:
        p.lims("GET", "/api/users", "/api/users?limit=50")
    elif r < 0.6:
        p.lims("GET", "/api/audit", "/api/audit?limit=50" + random.choice(["", "&entity_type=sample", "&action=run.complete"]))
    elif r < 0.75:
        p.lims("GET", "/api/organization")
    else:
        p.lims("GET", "/api/audit/checkpoint")


def op_alerts(p):
    """Triage: acknowledge the newest open alert, resolve the newest acknowledged one."""
    status, to, note = random.choice([("OPEN", "ACKNOWLEDGED", None), ("ACKNOWLEDGED", "RESOLVED", "Checked: tool drift, re-zeroed")])
    page = p.analysis("GET", "/api/v1/spc/alerts", f"/api/v1/spc/alerts?status={status}&limit=5")
    if page["items"]:
        a = page["items"][0]["id"]
        body = {"status": to}
        if note:
            body["note"] = note
        p.analysis("PATCH", "/api/v1/spc/alerts/{id}", f"/api/v1/spc/alerts/{a}", body=body)


READS = [(op_sample_page, 10), (op_list_samples, 6), (op_scan, 2), (op_reference, 3), (op_instruments, 4),
         (op_runs, 4), (op_spc_chart, 4), (op_eln_read, 3), (op_download, 2), (op_control, 2)]
EXPORTS = [(op_export_csv, 2), (op_export_label, 1.5), (op_export_sheet, 1), (op_export_eln, 1)]
SESSIONS = [(op_login, 0.6), (op_refresh, 1)]
MIX = {
    "admin": READS + EXPORTS + SESSIONS + [(op_admin, 12), (op_alerts, 4)],
    "engineer": READS + EXPORTS + SESSIONS + [(op_create_sample, 6), (op_edit_sample, 2), (op_custody, 8),
                                              (op_create_run, 4), (op_eln_write, 3), (op_upload_sample, 2.5)],
    "technician": READS + SESSIONS + [(op_run_step, 8), (op_spc_batch, 10), (op_upload_sample, 2)],
    "viewer": READS + EXPORTS + [(op_login, 1.5), (op_refresh, 1.5)],
}


def worker(p, deadline):
    mix = MIX[p.role]
    if ONLY:  # SOAK_OPS: only these operations (and sign-ins to keep the token), to find what a growth follows
        mix = [(op, w) for op, w in mix if op.__name__[3:] in ONLY] or [(op_refresh, 1)]
    ops, weights = zip(*mix)
    errors = 0
    while time.monotonic() < deadline and not p.run.stop.is_set():
        if time.monotonic() - p.token_time > 600:  # well before the access token's 15 minutes
            op = op_refresh
        else:
            op = random.choices(ops, weights)[0]
        try:
            op(p)
        except Unexpected:
            pass
        except Exception:
            errors += 1
            with p.run.lock:
                p.run.client_errors.append(f"{p.email} {op.__name__}: {traceback.format_exc()}")
            if errors > 20:
                return
        time.sleep(random.uniform(0.5, 1.5) * THINK)


# --- the server's process -----------------------------------------------------------------------------
def process_sample(pid):
    """The server's RSS, threads and open descriptors; None once it has exited."""
    try:
        status = open(f"/proc/{pid}/status").read()
        stat = open(f"/proc/{pid}/stat").read()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except FileNotFoundError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    ticks = stat.rsplit(")", 1)[1].split()  # fields from the state on: utime and stime are 12 and 13
    kb = lambda name: int(fields.get(name, "0 kB").split()[0])
    return {"rss_kb": kb("VmRSS"), "anon_kb": kb("RssAnon"), "file_kb": kb("RssFile") + kb("RssShmem"),
            "threads": int(fields["Threads"]), "fds": fds,
            "gone": "zombie" in fields.get("State", ""), "load": os.getloadavg()[0],
            "cpu": (int(ticks[11]) + int(ticks[12])) / os.sysconf("SC_CLK_TCK")}


def settled_sample(pid):
    """Five readings over a second: the least RSS and descriptor count (what stays; a sign-in's 19 MiB
    Argon2 buffer or an upload's file in flight does not) and the most (in flight)."""
    readings = []
    for k in range(5):
        r = process_sample(pid)
        if r is None or r["gone"]:
            return None
        readings.append(r)
        if k < 4:
            time.sleep(0.2)
    s = dict(readings[-1])
    least = min(readings, key=lambda r: r["rss_kb"])
    s["rss_kb"], s["anon_kb"], s["file_kb"] = least["rss_kb"], least["anon_kb"], least["file_kb"]
    s["fds"] = min(r["fds"] for r in readings)
    s["rss_peak_kb"] = max(r["rss_kb"] for r in readings)
    s["fds_peak"] = max(r["fds"] for r in readings)
    return s


def sampler(run, pid, samples, deadline):
    while True:
        s = settled_sample(pid)
        if s is None:
            run.server_gone = time.monotonic() - run.t0
            return
        s["t"] = time.monotonic() - run.t0
        samples.append(s)
        if time.monotonic() >= deadline or run.stop.wait(min(10.0, max(0.0, deadline - time.monotonic()))):
            break


# --- the verdict --------------------------------------------------------------------------------------
def percentile(xs, q):
    """The nearest-rank percentile."""
    xs = sorted(xs)
    return xs[max(0, math.ceil(q * len(xs)) - 1)]


def p99(xs):
    return percentile(xs, 0.99)


def p50(xs):
    return percentile(xs, 0.50)


def verdict(run, samples, seconds, window, warmup, lab_count, people):
    failures = []
    if run.server_gone is not None:
        failures.append(f"the server exited {run.server_gone:.0f} s into the run")
    if not samples:
        samples.append({"t": 0, "rss_kb": 1, "anon_kb": 0, "file_kb": 0, "fds": 0, "threads": 0, "cpu": 0, "load": 0,
                        "rss_peak_kb": 1, "fds_peak": 0})
    rec = run.record
    first = collections.defaultdict(list)
    last = collections.defaultdict(list)
    total = collections.Counter()
    statuses = collections.Counter()
    size_first, size_last = collections.Counter(), collections.Counter()
    for route, status, lat, t, size in rec:
        total[route] += 1
        statuses[status] += 1
        if status == 0 or status >= 500:
            continue
        if t < window:
            first[route].append(lat)
            size_first[route] += size
        if t >= seconds - window:
            last[route].append(lat)
            size_last[route] += size
    print(f"\nrequests: {len(rec)} in {seconds / 60:.1f} min ({len(rec) / seconds:.1f}/s) from {people} people in "
          f"{lab_count} labs; answers {dict(sorted(statuses.items()))}")
    print(f"latency by route (ms), first {window / 60:.2g} min against last {window / 60:.2g} min: a verdict where both "
          f"windows have >= {MIN_SAMPLES} answers, failed when the p99 grew more than {P99_RATIO} x and by more than "
          f"{P99_SLACK_MS:g} ms (SOAK_P99_SLACK_MS)")
    print(f"  {'route':<42} {'all':>7} | {'first':>6} {'p50':>6} {'p99':>7} | {'last':>6} {'p50':>6} {'p99':>7} | "
          f"{'p99 x':>5} {'size x':>6}  verdict    (size x: the answers' mean size, last against first)")
    slow, control_moved = [], False
    for route in sorted(total, key=lambda r: r.split(" ", 1)[1] + r):
        f, l = first[route], last[route]
        pf, pl = (p99(f) * 1000 if f else None), (p99(l) * 1000 if l else None)
        ratio = pl / pf if pf and pl else None
        if len(f) >= MIN_SAMPLES and len(l) >= MIN_SAMPLES:
            ok = ratio <= P99_RATIO or pl - pf <= P99_SLACK_MS
            v = ("ok" if ratio <= P99_RATIO else f"ok (within {P99_SLACK_MS:g} ms)") if ok else "FAILED"
            if route == CONTROL:
                control_moved = ratio > P99_RATIO
                v = "control: " + ("the machine was busier at the end" if control_moved else "steady")
            elif not ok:
                slow.append(f"{route} {pf:.1f} -> {pl:.1f} ms ({ratio:.2f} x)")
        else:
            v = "info (too few)"
        fmt = lambda x, w: f"{x:{w}.1f}" if x is not None else f"{'-':>{w}}"
        p50f = p50(f) * 1000 if f else None
        p50l = p50(l) * 1000 if l else None
        grew = (size_last[route] / len(l)) / (size_first[route] / len(f)) if f and l and size_first[route] else None
        print(f"  {route:<42} {total[route]:>7} | {len(f):>6} {fmt(p50f, 6)} {fmt(pf, 7)} | {len(l):>6} {fmt(p50l, 6)} "
              f"{fmt(pl, 7)} | {(f'{ratio:5.2f}' if ratio else '    -')} {(f'{grew:6.2f}' if grew else '     -')}  {v}")
    if slow:
        failures.append(f"p99 grew more than {P99_RATIO} x (and {P99_SLACK_MS:g} ms): " + "; ".join(slow)
                        + (" (the control route's p99 moved too: the machine was busier)" if control_moved else ""))

    after = [s for s in samples if s["t"] >= warmup]
    base = after[0] if after else samples[-1]
    end = samples[-1]
    growth = (end["rss_kb"] - base["rss_kb"]) / base["rss_kb"]
    print(f"RSS (the least of five readings over a second): {samples[0]['rss_kb'] / 1024:.1f} MiB at the start, "
          f"{base['rss_kb'] / 1024:.1f} MiB after the warm-up ({base['t']:.0f} s), "
          f"{max(s['rss_kb'] for s in after or samples) / 1024:.1f} MiB at most, {end['rss_kb'] / 1024:.1f} MiB at the end: "
          f"{growth * 100:+.1f} % (limit +{RSS_GROWTH * 100:.0f} %); the highest single reading "
          f"{max(s['rss_peak_kb'] for s in samples) / 1024:.1f} MiB (sign-ins' Argon2 buffers in flight)")
    print(f"  of which anonymous (the heap) {base['anon_kb'] / 1024:.1f} -> {end['anon_kb'] / 1024:.1f} MiB, "
          f"file-backed (code and libraries paged in) {base['file_kb'] / 1024:.1f} -> {end['file_kb'] / 1024:.1f} MiB")
    if growth >= RSS_GROWTH:
        failures.append(f"RSS grew {growth * 100:.1f} % after the warm-up")
    fds = [s["fds"] for s in after or samples]
    print(f"open descriptors after the warm-up (the least of five readings): {min(fds)} to {max(fds)} (at the warm-up "
          f"{base['fds']}, at the end {end['fds']}; flat within {FD_SLACK}; the highest single reading "
          f"{max(s['fds_peak'] for s in after or samples)}); threads {min(s['threads'] for s in samples)} to "
          f"{max(s['threads'] for s in samples)}; {len(samples)} samples every 10 s")
    if max(fds) - min(fds) > FD_SLACK:
        failures.append(f"open descriptors moved from {min(fds)} to {max(fds)}")
    step = max(1, len(samples) // 12)
    trail = " ".join(f"{s['t'] / 60:.1f}m:{s['rss_kb'] / 1024:.1f}M/{s['fds']}" for s in samples[::step] + samples[-1:])
    print(f"  trail (minute:RSS/descriptors): {trail}")
    if len(samples) > 1 and samples[-1]["t"] > samples[0]["t"]:
        busy = (samples[-1]["cpu"] - samples[0]["cpu"]) / (samples[-1]["t"] - samples[0]["t"])
        loads = " ".join(f"{s['load']:.1f}" for s in samples[::step] + samples[-1:])
        print(f"  the server used {busy * 100:.0f} % of a core on average; the machine's load average "
              f"({os.cpu_count()} cores) along the run: {loads}")

    five = sum(n for s, n in statuses.items() if s >= 500)
    none = statuses.get(0, 0)
    odd = sum(run.unexpected.values())
    print(f"5xx answers: {five}; requests without an answer: {none}; answers not as expected: {odd}; "
          f"keep-alive reconnects: {run.reconnects}")
    for (route, status), n in sorted(run.unexpected.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {n:>6} x {route} -> {status}: {run.examples.get((route, status), '')[:200]!r}")
    if five:
        failures.append(f"{five} answers were 5xx")
    if none:
        failures.append(f"{none} requests had no answer")
    if odd - five - none > 0:
        failures.append(f"{odd - five - none} answers were not the expected status")
    if run.client_errors:
        print(f"client errors: {len(run.client_errors)}; the first:\n{run.client_errors[0]}")
        failures.append(f"{len(run.client_errors)} errors in the client itself")
    return failures


def lab_process(spec, a, expected, seconds, ready, results, go, done, t0):
    """One lab: its setup, then its people until the deadline; answers its record through `results`."""
    sys.setswitchinterval(0.0005)
    random.seed()
    run = Run(a.lims, a.analysis, expected)
    lab = Lab(spec.split(":")[0], spec.endswith(":new"))
    try:
        people = setup_lab(run, lab, a.password)
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which stops
        ready.put((False, f"soak: setup of {lab.domain} failed: {e}"))
        return
    ready.put((True, f"  lab {lab.domain}: {'set up through the API' if lab.new else 'seeded'}, "
                     f"{len(lab.instruments)} instruments, 100 export samples, 2 SPC series, {len(people)} people"))
    go.wait()
    run.t0 = t0.value
    threads = [threading.Thread(target=worker, args=(p, run.t0 + seconds)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put({"record": run.record, "unexpected": run.unexpected, "examples": run.examples,
                 "client_errors": run.client_errors, "reconnects": run.reconnects, "people": len(people)})
    done.wait(120)  # the connections stay open until the server's last sample is taken
    for p in people:
        p.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("lims")
    ap.add_argument("analysis")
    ap.add_argument("pid", type=int)
    ap.add_argument("minutes", type=float)
    ap.add_argument("--lab", action="append", required=True, help="DOMAIN, or DOMAIN:new for a lab set up through the API")
    ap.add_argument("--password", required=True, help="the password of every user the soak creates")
    ap.add_argument("--record", help="write every answer (route, status, seconds, t) as CSV")
    a = ap.parse_args()

    expected = {}
    for port, url in (("lims", a.lims), ("analysis", a.analysis)):
        u = urllib.parse.urlsplit(url)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        c.request("GET", "/openapi.json")
        doc = json.loads(c.getresponse().read())
        c.close()
        for path, ops in doc["paths"].items():
            for method, o in ops.items():
                if isinstance(o, dict) and "responses" in o:
                    expected[f"{method.upper()} {path}"] = {int(s) for s in o["responses"] if s.startswith("2")}
    used = {r for ops in MIX.values() for op, _ in ops for r in routes_of(op)}
    missing = sorted(r for r in used if r not in expected)
    if missing:
        raise SystemExit(f"soak: the server serves no route {missing}: the workload must follow the API")
    seconds = a.minutes * 60
    window, warmup = min(300.0, seconds / 4), min(120.0, seconds / 10)
    if a.minutes < 20:
        print(f"soak: {a.minutes:g} minutes (< 20): windows scaled to the first and last quarter "
              f"({window:.0f} s each), warm-up 10 % ({warmup:.0f} s)")

    # A process per lab (a thread per person in it): a single interpreter's lock would add its own
    # milliseconds to every latency measured.
    ctx = multiprocessing.get_context("fork")
    ready, results, go, done, t0 = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Event(), ctx.Value("d", 0.0)
    procs = [ctx.Process(target=lab_process, args=(spec, a, expected, seconds, ready, results, go, done, t0), daemon=True)
             for spec in a.lab]
    for pr in procs:
        pr.start()
    for _ in procs:
        ok, line = ready.get(timeout=600)
        print(line, flush=True)
        if not ok:
            for pr in procs:
                pr.terminate()
            sys.exit(1)

    run = Run(a.lims, a.analysis, expected)
    samples = []
    run.t0 = t0.value = time.monotonic()
    go.set()
    deadline = run.t0 + seconds
    watch = threading.Thread(target=sampler, args=(run, a.pid, samples, deadline), daemon=True)
    watch.start()
    people = 0
    for _ in procs:
        r = results.get(timeout=seconds + 600)
        run.record += r["record"]
        run.unexpected.update(r["unexpected"])
        for k, v in r["examples"].items():
            run.examples.setdefault(k, v)
        run.client_errors += r["client_errors"]
        run.reconnects += r["reconnects"]
        people += r["people"]
    watch.join()  # its last sample is taken at the deadline, with every connection still open
    done.set()
    for pr in procs:
        pr.join()
    run.record.sort(key=lambda r: r[3])

    if a.record:
        with open(a.record, "w") as f:
            f.write("route,status,seconds,t,bytes\n")
            for route, status, lat, t, size in run.record:
                f.write(f"\"{route}\",{status},{lat:.6f},{t:.3f},{size}\n")
    failures = verdict(run, samples, seconds, window, warmup, len(a.lab), people)
    if failures:
        print("soak: FAILED\n  - " + "\n  - ".join(failures))
        sys.exit(1)
    print("soak: passed")


def routes_of(op):
    """The route templates an operation calls, read from its code (checked against the OpenAPI documents)."""
    import inspect
    import re
    src = inspect.getsource(op)
    found = set()
    for m in re.finditer(r'\.(lims|analysis)\("(GET|POST|PATCH|DELETE)", "([^"]+)"', src):
        found.add(f"{m.group(2)} {m.group(3)}")
    for m in re.finditer(r'request\("(?:lims|analysis)", "(?:GET|POST|PATCH|DELETE)", ("[A-Z]+ [^"]+"|CONTROL)', src):
        found.add(CONTROL if m.group(1) == "CONTROL" else m.group(1).strip('"'))
    for method in re.findall(r"\bp\.(sign_in|renew)\(", src):
        found |= routes_of(getattr(Person, method))
    for callee in re.findall(r"\b(op_\w+|upload)\(p", src):
        if callee != op.__name__:
            found |= routes_of(globals()[callee])
    return found


if __name__ == "__main__":
    main()
