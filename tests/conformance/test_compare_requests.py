#!/usr/bin/env python3
# test_compare_requests.py - our client's requests against the official Python client's
# SPDX-License-Identifier: MIT
#
# usage: test_compare_requests.py [PATH/TO/wandb-mpi-server [PATH/TO/c_scenario]]
#        (defaults: $WANDB_TEST_BIN_DIR/src/server/wandb-mpi-server, .../tests/c_scenario)
#
# 1. Starts the real server (--port 0 --record-requests) and runs c_scenario: our public C API
#    with an in-process aggregator, the same logical runs as python_scenario.py.
# 2. The official side: when tests/conformance/.venv has `wandb`, a second server records a
#    live run of python_scenario.py (quiet, bounded, loopback-only environment of
#    docs/conformance-notes.md); the checked-in capture captures/python_sdk.jsonl is always
#    compared too. Without the venv only the capture is used (said so with a SKIP line).
# 3. Compares field by field (docs/conformance.md): GraphQL operations, their query text and
#    declared variable types, every variable present with the same JSON type (null allowed
#    where the official client sends null; a variable the official client only ever sends as
#    null is not typed), config wrapping {"k":{"value":v}}, `_wandb` keys we set and `_wandb.m`
#    for the same define_metric calls, history rows (keys and value types per step), summary
#    line (offset 0, one line, same keys and types), file_stream file names, contiguous
#    offsets, `uploaded`, `preempting`, heartbeat `{}`, final complete/exitcode, run files
#    (CreateRunFiles names, PUT without credentials), headers (Basic auth, JSON content type,
#    User-Agent wandb-mpi/<version>).
# 4. Proves that the comparison bites: mutated copies of our requests (a variable removed, a
#    type changed, a field missing) must fail it.
# Differences that remain are listed in ALLOWED below, each with its reason, and mirrored in
# docs/conformance.md. Exit: 0 passed, 1 failed, 77 skipped (no server, driver or official side).
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
VENV_PY = os.path.join(HERE, ".venv", "bin", "python")
CAPTURE = os.path.join(HERE, "captures", "python_sdk.jsonl")
CAPTURE_SUMMARY = os.path.join(HERE, "captures", "python_sdk.summary.json")
PROJECT = "conf"

# Differences that stay, with the reason (mirrored in docs/conformance.md).
ALLOWED = {
    ("operation", "Viewer"):
        "the official client asks only for its login message when not silent; the C library "
        "prints nothing",
    ("operation", "OrganizationCoreWeaveOrganizationID"):
        "sent only with system stats and metadata on; we collect neither",
    ("file", "output.log"):
        "no console capture: the C library never touches the process's stdout/stderr",
    ("file", "wandb-events.jsonl"): "no system metrics",
    ("upload", "output.log"): "no console capture (see file output.log)",
    ("upload", "requirements.txt"): "pip freeze of a Python environment: nothing like it in C",
    ("upload", "config.yaml"):
        "not uploaded yet: the config reaches the backend through UpsertBucket",
    ("upload", "wandb-summary.json"):
        "not uploaded yet: the summary reaches the backend through file_stream",
    ("_wandb", "cli_version"):
        "the version of the Python package wandb; the backend reads it as such, so a C client "
        "must not claim one (the User-Agent names our client)",
    ("_wandb", "python_version"): "not a Python process",
    ("_wandb.t", "3"): "Python SDK features imported (telemetry of the Python client)",
    ("_wandb.t", "4"): "Python version (telemetry)",
    ("_wandb.t", "5"): "wandb CLI version (telemetry; see _wandb cli_version)",
    ("_wandb.t", "12"): "wandb-core version (telemetry; we are not wandb-core)",
    ("header", "User-Agent"): "names our client, wandb-mpi/<version>, instead of wandb-core",
}

# Variables whose JSON numbers must be integers on both sides.
INT_FIELDS = {"waitDuration", "exitcode", "offset", "_step", "historyLineCount"}
UA_OURS = re.compile(r"^wandb-mpi/\d+\.\d+\.\d+")
FS_KEYS = {"files", "uploaded", "preempting", "complete", "exitcode", "dropped"}


# ------------------------------------------------------------------------------------------
# checks and output


class Checker:
    """Counts checks; prints one line per failure and per group, then the final line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, name, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL %s%s" % (name, (": " + detail) if detail else ""), flush=True)
        return ok

    def note(self, msg):
        print(msg, flush=True)


def jtype(v, key=None):
    """The JSON type of v: null, bool, number (int for INT_FIELDS), str, list, object."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int" if key in INT_FIELDS else "number"
    if isinstance(v, float):
        return "float" if key in INT_FIELDS else "number"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def type_shape(v, key=None, depth=0):
    """Types all the way down for objects (keys and their types), JSON type otherwise."""
    if isinstance(v, dict) and depth < 4:
        return {k: type_shape(x, k, depth + 1) for k, x in v.items()}
    return jtype(v, key)


# ------------------------------------------------------------------------------------------
# loading requests (our server's --record-requests lines and the capture format)


def load_requests(path):
    """Requests as dicts {method, path, headers, body, op, size}; both recorder formats."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            body = r.get("body")
            size = r.get("body_len")
            if isinstance(body, dict) and set(body) == {"bytes"} and r.get("method") == "PUT":
                size, body = body["bytes"], None  # our server records upload sizes only
            elif "body_text" in r or "body_b64" in r:
                body = None
            op = r.get("operationName")
            if not op and isinstance(body, dict) and r.get("path", "").startswith("/graphql"):
                op = body.get("operationName")
            out.append({"method": r.get("method"), "path": r.get("path", ""),
                        "headers": r.get("headers") or {}, "body": body, "op": op or None,
                        "size": size})
    return out


def header(req, name):
    """Header value by case-insensitive name, or None."""
    for k, v in req["headers"].items():
        if k.lower() == name.lower():
            return v
    return None


def kind(req):
    """graphql, file_stream, upload or other."""
    if req["method"] == "POST" and req["path"].split("?")[0] == "/graphql":
        return "graphql"
    if req["method"] == "POST" and req["path"].endswith("/file_stream"):
        return "file_stream"
    if req["method"] == "PUT":
        return "upload"
    return "other"


def fs_run(req):
    """The run id of a file_stream path /files/<entity>/<project>/<run>/file_stream."""
    parts = req["path"].split("?")[0].strip("/").split("/")
    return parts[3] if len(parts) >= 5 else None


def req_run(req):
    """The run a request is about (GraphQL variables or the file_stream path)."""
    if kind(req) == "file_stream":
        return fs_run(req)
    v = (req["body"] or {}).get("variables") or {}
    return v.get("name") or v.get("runName") or v.get("run")


class Side:
    """One client's requests for the two runs of the scenario."""

    def __init__(self, label, requests, run_ids):
        self.label = label
        self.run_ids = run_ids  # {"run1": id, "run2": id}
        # The official scenario's run 3 resumes run 1: its requests start at RunResumeStatus.
        cut = next((i for i, r in enumerate(requests) if r["op"] == "RunResumeStatus"),
                   len(requests))
        self.all = requests
        self.main = requests[:cut]

    def ops(self, part=None):
        return [r for r in (part or self.main) if kind(r) == "graphql"]

    def of_op(self, op):
        return [r for r in self.main if r["op"] == op]

    def fs(self, key):
        rid = self.run_ids[key]
        return [r for r in self.main if kind(r) == "file_stream" and fs_run(r) == rid]

    def upserts(self, key):
        rid = self.run_ids[key]
        return [r for r in self.of_op("UpsertBucket") if r["body"]["variables"].get("name") == rid]


# ------------------------------------------------------------------------------------------
# the comparison


def declared_vars(query):
    """{name: GraphQL type} of the operation's variable declarations."""
    m = re.search(r"^\s*(?:query|mutation)\s+\w+\s*\(([^)]*)\)", query or "", re.S)
    if not m:
        return {}
    out = {}
    for part in m.group(1).split(","):
        d = re.match(r"\s*\$(\w+)\s*:\s*([^=]+?)\s*(?:=.*)?$", part.strip())
        if d:
            out[d.group(1)] = re.sub(r"\s+", "", d.group(2))
    return out


def norm_query(q):
    return re.sub(r"\s+", " ", q or "").strip()


def norm_metrics(m):
    """`_wandb.m` with each "5" (1-based index of the step metric's entry) replaced by that
    entry's name, sorted by name: wandb-core's list order varies from run to run."""
    if not isinstance(m, list):
        return m
    out = []
    for e in m:
        e = dict(e)
        if isinstance(e.get("5"), int) and 0 < e["5"] <= len(m):
            e["5"] = m[e["5"] - 1].get("1")
        out.append(e)
    return sorted(out, key=lambda e: str(e.get("1")))


def parse_config(text):
    try:
        v = json.loads(text)
    except (TypeError, ValueError):
        return None
    return v if isinstance(v, dict) else None


def compare(c, off, ours, tag):
    """Every check of ours against the official side off; names are prefixed with tag."""
    P = "[%s] " % tag

    # --- operations ------------------------------------------------------------------------
    off_ops = []
    for r in off.all:
        if kind(r) == "graphql" and r["op"] not in off_ops:
            off_ops.append(r["op"])
    our_ops = {r["op"] for r in ours.all if kind(r) == "graphql"}
    for op in off_ops:
        if op in our_ops:
            c.check(True, P + "operation " + op)
        elif ("operation", op) in ALLOWED:
            c.check(True, P + "operation %s (allowed difference)" % op)
        else:
            c.check(False, P + "operation " + op, "the official client sends it, we do not")
    for op in sorted(our_ops - set(off_ops)):
        c.check(op in ("CreateRunFiles",), P + "operation %s only ours" % op,
                "not sent by the official client in this scenario")

    for op in off_ops:
        offs = [r for r in off.main if r["op"] == op]
        mine = [r for r in ours.main if r["op"] == op]
        if not offs or not mine:
            continue
        # envelope keys (ServerFeaturesQuery has no "variables" at all)
        off_keys = set().union(*(set(r["body"]) for r in offs))
        for r in mine:
            keys = set(r["body"])
            c.check(keys == off_keys, P + "%s body keys" % op,
                    "ours %s, official %s" % (sorted(keys), sorted(off_keys)))
            c.check(r["body"].get("operationName") == op, P + "%s operationName" % op)
        # query text: the same operation, selections and declared variable types
        oq = offs[0]["body"].get("query")
        for r in mine:
            q = r["body"].get("query")
            dv_off, dv_ours = declared_vars(oq), declared_vars(q)
            for name, t in dv_off.items():
                c.check(dv_ours.get(name) == t, P + "%s declares $%s: %s" % (op, name, t),
                        "ours: %s" % dv_ours.get(name))
            c.check(norm_query(q) == norm_query(oq), P + "%s query text" % op,
                    "differs from the official text beyond whitespace")
        # variables: present, same JSON type (null allowed where the official sends null)
        types = {}
        for r in offs:
            for k, v in (r["body"].get("variables") or {}).items():
                types.setdefault(k, set()).add(jtype(v, k))
        for r in mine:
            vs = r["body"].get("variables") or {}
            for k, ts in types.items():
                if not c.check(k in vs, P + "%s variable %s present" % (op, k), "missing in ours"):
                    continue
                t = jtype(vs[k], k)
                ok = t in ts or ts == {"null"}
                c.check(ok, P + "%s variable %s type" % (op, k),
                        "ours %s, official %s" % (t, sorted(ts)))
            for k in sorted(set(vs) - set(types)):
                c.check(False, P + "%s variable %s" % (op, k), "only ours sends it")

    # --- UpsertBucket: run metadata, config wrapping, _wandb ------------------------------------
    for key in ("run1", "run2"):
        ou, mu = off.upserts(key), ours.upserts(key)
        if not c.check(ou and mu, P + "%s UpsertBucket sent" % key,
                       "official %d, ours %d" % (len(ou), len(mu))):
            continue
        of, mf = ou[0]["body"]["variables"], mu[0]["body"]["variables"]
        for k in ("project", "groupName", "displayName", "notes", "jobType", "tags", "entity",
                  "id"):
            c.check(of.get(k) == mf.get(k), P + "%s first UpsertBucket %s" % (key, k),
                    "ours %r, official %r" % (mf.get(k), of.get(k)))
        for r in mu:
            cfg = parse_config(r["body"]["variables"].get("config"))
            if not c.check(cfg is not None, P + "%s config is a JSON object text" % key):
                continue
            bad = [k for k, v in cfg.items() if not (isinstance(v, dict) and set(v) == {"value"})]
            c.check(not bad, P + "%s config wrapped {k:{value:v}}" % key, "not wrapped: %s" % bad)
        ocfg = parse_config(ou[-1]["body"]["variables"]["config"]) or {}
        mcfg = parse_config(mu[-1]["body"]["variables"]["config"]) or {}
        c.check(set(ocfg) == set(mcfg), P + "%s final config keys" % key,
                "ours %s, official %s" % (sorted(mcfg), sorted(ocfg)))
        for k in set(ocfg) & set(mcfg) - {"_wandb"}:
            c.check(type_shape(ocfg[k]) == type_shape(mcfg[k]),
                    P + "%s config %s shape" % (key, k),
                    "ours %s, official %s" % (type_shape(mcfg[k]), type_shape(ocfg[k])))
        ow = (ocfg.get("_wandb") or {}).get("value") or {}
        mw = (mcfg.get("_wandb") or {}).get("value") or {}
        for k, v in ow.items():
            if ("_wandb", k) in ALLOWED:
                c.check(True, P + "%s _wandb.%s (allowed difference)" % (key, k))
                continue
            if c.check(k in mw, P + "%s _wandb.%s present" % (key, k), "missing in ours"):
                c.check(jtype(mw[k]) == jtype(v), P + "%s _wandb.%s type" % (key, k),
                        "ours %s, official %s" % (jtype(mw[k]), jtype(v)))
        ot, mt = ow.get("t") or {}, mw.get("t") or {}
        for k, v in ot.items():
            if ("_wandb.t", k) in ALLOWED:
                continue
            if c.check(k in mt, P + "%s _wandb.t[%s] present" % (key, k), "missing in ours"):
                c.check(jtype(mt[k]) == jtype(v), P + "%s _wandb.t[%s] type" % (key, k))
        c.check(norm_metrics(ow.get("m")) == norm_metrics(mw.get("m")),
                P + "%s _wandb.m equal" % key,
                "ours %s, official %s" % (json.dumps(mw.get("m")), json.dumps(ow.get("m"))))
        for r in mu:  # every upsert carries the metric list, [] when none
            w = ((parse_config(r["body"]["variables"].get("config")) or {}).get("_wandb") or {})
            c.check(isinstance((w.get("value") or {}).get("m"), list),
                    P + "%s every config has _wandb.m" % key)

    # --- NotifyScriptableRunAlert values -----------------------------------------------------
    oa, ma = off.of_op("NotifyScriptableRunAlert"), ours.of_op("NotifyScriptableRunAlert")
    if oa and ma:
        ov, mv = oa[0]["body"]["variables"], ma[0]["body"]["variables"]
        for k in ("title", "severity", "waitDuration", "projectName"):
            c.check(ov.get(k) == mv.get(k), P + "alert %s" % k,
                    "ours %r, official %r" % (mv.get(k), ov.get(k)))
        c.check(mv.get("runName") == ours.run_ids["run1"], P + "alert runName is the run id")

    # --- run files: CreateRunFiles names, uploads, "uploaded" ---------------------------------
    def names_of(side, key):
        rid = side.run_ids[key]
        n = []
        for r in side.of_op("CreateRunFiles"):
            v = r["body"]["variables"]
            if v.get("run") == rid:
                n += v.get("files") or []
        return n

    for key in ("run1", "run2"):
        on, mn = set(names_of(off, key)), set(names_of(ours, key))
        for name in sorted(on):
            if name in mn:
                c.check(True, P + "%s CreateRunFiles %s" % (key, name))
            else:
                c.check(("upload", name) in ALLOWED, P + "%s CreateRunFiles %s" % (key, name),
                        "the official client uploads it, we do not")
        ou = set()
        mu = set()
        for r in off.fs(key):
            ou |= set(r["body"].get("uploaded") or [])
        for r in ours.fs(key):
            mu |= set(r["body"].get("uploaded") or [])
        for name in sorted(ou):
            c.check(name in mu or ("upload", name) in ALLOWED,
                    P + "%s uploaded reports %s" % (key, name), "missing in ours")
        c.check(mn <= mu, P + "%s every file asked for is reported uploaded" % key,
                "not reported: %s" % sorted(mn - mu))

    oput = [r for r in off.main if kind(r) == "upload"]
    mput = [r for r in ours.main if kind(r) == "upload"]
    if oput and c.check(bool(mput), P + "uploads (PUT) sent"):
        onames = {k.lower() for r in oput for k in r["headers"]}
        for r in mput:
            names = {k.lower() for k in r["headers"]}
            c.check(onames <= names | {"content-length"}, P + "upload headers",
                    "missing %s" % sorted(onames - names))
            c.check(header(r, "Authorization") is None, P + "upload has no Authorization")
            c.check(header(r, "Content-Type") is None, P + "upload has no Content-Type")
        # the last upload of each name carries the final bytes (live.txt changed)
        def last_sizes(puts):
            out = {}
            for r in puts:
                out[r["path"].rstrip("/").split("/")[-1]] = r["size"]
            return out
        os_, ms = last_sizes(oput), last_sizes(mput)
        for base in ("now.txt", "live.txt", "end.txt"):
            if base in os_ and os_[base] is not None:
                c.check(ms.get(base) == os_[base], P + "upload %s final size" % base,
                        "ours %r, official %r" % (ms.get(base), os_[base]))

    # --- file_stream ---------------------------------------------------------------------------
    for key, code in (("run1", 0), ("run2", 1)):
        ofs, mfs = off.fs(key), ours.fs(key)
        if not c.check(bool(mfs), P + "%s file_stream sent" % key):
            continue
        ofiles = set().union(*(set((r["body"].get("files") or {})) for r in ofs))
        mfiles = set().union(*(set((r["body"].get("files") or {})) for r in mfs))
        for name in sorted(ofiles):
            c.check(name in mfiles or ("file", name) in ALLOWED,
                    P + "%s file_stream file %s" % (key, name), "missing in ours")
        for side, reqs in (("official", ofs), ("ours", mfs)):
            nxt = 0
            contiguous = True
            for r in reqs:
                h = (r["body"].get("files") or {}).get("wandb-history.jsonl")
                if h:
                    contiguous &= h.get("offset") == nxt and jtype(h.get("offset"), "offset") == "int"
                    nxt = h.get("offset", 0) + len(h.get("content") or [])
            c.check(contiguous, P + "%s %s history offsets contiguous from 0" % (key, side))
            for r in reqs:
                s = (r["body"].get("files") or {}).get("wandb-summary.json")
                if s:
                    c.check(s.get("offset") == 0 and len(s.get("content") or []) == 1,
                            P + "%s %s summary is one line at offset 0" % (key, side))
                keys = set(r["body"])
                c.check(keys <= FS_KEYS, P + "%s %s file_stream keys" % (key, side),
                        "unexpected %s" % sorted(keys - FS_KEYS))
                if not (keys & {"files", "uploaded", "preempting", "complete"}):
                    c.check(r["body"] == {}, P + "%s %s heartbeat is {}" % (key, side))
        # top-level fields the official client sends at least once, with their types
        otop = {}
        for r in ofs:
            for k, v in r["body"].items():
                otop.setdefault(k, set()).add(jtype(v, k))
        mtop = {}
        for r in mfs:
            for k, v in r["body"].items():
                mtop.setdefault(k, set()).add(jtype(v, k))
        # "uploaded" is owed only when the official run uploads a file we upload too
        oup = set().union(*(set(r["body"].get("uploaded") or []) for r in ofs))
        if "uploaded" in otop and all(("upload", n) in ALLOWED for n in oup):
            c.check(True, P + "%s file_stream field uploaded (only allowed files)" % key)
            otop.pop("uploaded")
        for k, ts in otop.items():
            if c.check(k in mtop, P + "%s file_stream field %s" % (key, k), "never sent by us"):
                c.check(mtop[k] <= ts, P + "%s file_stream %s type" % (key, k),
                        "ours %s, official %s" % (sorted(mtop[k]), sorted(ts)))
        # the final request
        for side, reqs in (("official", ofs), ("ours", mfs)):
            last = reqs[-1]["body"] if reqs else {}
            c.check(last.get("complete") is True and jtype(last.get("exitcode"), "exitcode") == "int"
                    and last.get("exitcode") == code,
                    P + "%s %s final request complete:true exitcode:%d" % (key, side, code),
                    json.dumps({k: last.get(k) for k in ("complete", "exitcode")}))
            c.check(sum(1 for r in reqs if r["body"].get("complete")) == 1,
                    P + "%s %s complete sent once, last" % (key, side))
        # history rows: same steps, same keys, same value types
        def rows(reqs):
            out = {}
            for r in reqs:
                h = (r["body"].get("files") or {}).get("wandb-history.jsonl")
                for line in (h or {}).get("content") or []:
                    row = json.loads(line)
                    out[row.get("_step")] = row
            return out
        orows, mrows = rows(ofs), rows(mfs)
        c.check(sorted(orows, key=str) == sorted(mrows, key=str), P + "%s history steps" % key,
                "ours %s, official %s" % (sorted(mrows, key=str), sorted(orows, key=str)))
        for step in sorted(set(orows) & set(mrows), key=str):
            c.check(type_shape(orows[step]) == type_shape(mrows[step]),
                    P + "%s history row %s keys and types" % (key, step),
                    "ours %s, official %s" % (type_shape(mrows[step]), type_shape(orows[step])))

        # the last summary line: same keys and types (+ our own _wandb counters)
        def last_summary(reqs):
            s = None
            for r in reqs:
                f = (r["body"].get("files") or {}).get("wandb-summary.json")
                if f and f.get("content"):
                    s = json.loads(f["content"][-1])
            return s or {}
        osum, msum = last_summary(ofs), last_summary(mfs)
        ok = type_shape({k: v for k, v in osum.items() if k != "_wandb"})
        mk = type_shape({k: v for k, v in msum.items() if k != "_wandb"})
        c.check(ok == mk, P + "%s summary keys and types" % key, "ours %s, official %s" % (mk, ok))
        ow, mw = osum.get("_wandb") or {}, msum.get("_wandb") or {}
        for k, v in ow.items():
            c.check(k in mw and jtype(mw[k], "_step") == jtype(v, "_step"),
                    P + "%s summary _wandb.%s" % (key, k), "ours %r, official %r" % (mw, ow))
    pre = [r for r in ours.fs("run1") if r["body"].get("preempting") is True]
    c.check(bool(pre), P + "run1 preempting:true sent")

    # --- headers ---------------------------------------------------------------------------
    for kd in ("graphql", "file_stream"):
        oreqs = [r for r in off.main if kind(r) == kd]
        mreqs = [r for r in ours.main if kind(r) == kd]
        onames = {k.lower() for r in oreqs for k in r["headers"]}
        for r in mreqs:
            names = {k.lower() for k in r["headers"]}
            c.check(onames <= names, P + "%s headers present" % kd,
                    "missing %s" % sorted(onames - names))
            auth = header(r, "Authorization") or ""
            c.check(auth.startswith("Basic "), P + "%s Authorization Basic" % kd, auth[:12])
            c.check((header(r, "Content-Type") or "").startswith("application/json"),
                    P + "%s Content-Type application/json" % kd)
            c.check(UA_OURS.match(header(r, "User-Agent") or "") is not None,
                    P + "%s User-Agent names wandb-mpi/<version>" % kd,
                    repr(header(r, "User-Agent")))
        for r in oreqs:
            c.check((header(r, "Authorization") or "").startswith("Basic "),
                    P + "%s official Authorization Basic" % kd)


def self_test(c, off, ours):
    """The comparison must fail on broken copies of our requests."""
    def fails(mutate, what):
        broken = copy.deepcopy(ours)
        mutate(broken)
        probe = Checker()
        sink = open(os.devnull, "w")
        saved, sys.stdout = sys.stdout, sink
        try:
            compare(probe, off, broken, "self-test")
        finally:
            sys.stdout = saved
            sink.close()
        c.check(probe.failed > 0, "self-test: the comparison fails when " + what)

    def drop_var(b):
        for r in b.main:
            if r["op"] == "NotifyScriptableRunAlert":
                del r["body"]["variables"]["waitDuration"]

    def str_exitcode(b):
        for r in b.main:
            if kind(r) == "file_stream" and "exitcode" in r["body"]:
                r["body"]["exitcode"] = str(r["body"]["exitcode"])

    def drop_uploaded(b):
        for r in b.main:
            if kind(r) == "file_stream":
                r["body"].pop("uploaded", None)

    def unwrap_config(b):
        for r in b.main:
            if r["op"] == "UpsertBucket":
                cfg = json.loads(r["body"]["variables"]["config"])
                r["body"]["variables"]["config"] = json.dumps(
                    {k: v["value"] for k, v in cfg.items()})

    def tags_as_string(b):
        for r in b.main:
            if r["op"] == "UpsertBucket" and r["body"]["variables"].get("tags"):
                r["body"]["variables"]["tags"] = ",".join(r["body"]["variables"]["tags"])

    def no_ua(b):
        for r in b.main:
            r["headers"] = {k: v for k, v in r["headers"].items() if k.lower() != "user-agent"}

    fails(drop_var, "waitDuration is missing from the alert")
    fails(str_exitcode, "exitcode is a string")
    fails(drop_uploaded, "file_stream never says uploaded")
    fails(unwrap_config, "the config is not value-wrapped")
    fails(tags_as_string, "tags is a string, not a list")
    fails(no_ua, "the User-Agent is missing")


# ------------------------------------------------------------------------------------------
# processes


def clean_env(home):
    """Our environment minus WANDB_* and proxies, HOME in the temp dir (loopback only)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WANDB_") and k.lower() not in
           ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env["HOME"] = home
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


class Server:
    """wandb-mpi-server --port 0 --record-requests in its own dir; stop() is bounded."""

    def __init__(self, binary, tmp, name):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        ready = os.path.join(self.dir, "ready")
        self.log = open(os.path.join(tmp, name + ".log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--dir", self.dir, "--port", "0", "--ready-file", ready,
             "--record-requests"], stdout=subprocess.DEVNULL, stderr=self.log,
            env=clean_env(tmp))
        deadline = time.monotonic() + 20
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("server did not start (see %s.log)" % name)
            time.sleep(0.05)
        with open(ready) as f:
            self.url = f.read().strip()
        with open(os.path.join(self.dir, "api_key")) as f:
            self.key = f.read().strip()

    def requests(self):
        return load_requests(os.path.join(self.dir, "requests.jsonl"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


def last_json_line(text):
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in the driver's output")


def run_ours(server_bin, driver_bin, tmp):
    srv = Server(server_bin, tmp, "srv-c")
    try:
        work = os.path.join(tmp, "c-work")
        os.makedirs(work)
        p = subprocess.run([driver_bin, "--base-url", srv.url, "--api-key", srv.key, "--project",
                            PROJECT, "--workdir", work, "--flush-interval-ms", "1000"],
                           capture_output=True, text=True, timeout=120, env=clean_env(tmp))
        if p.returncode != 0:
            raise RuntimeError("c_scenario exited %d: %s" % (p.returncode, p.stderr[-2000:]))
        summary = last_json_line(p.stdout)
    finally:
        srv.stop()
    ids = {r["key"]: r["id"] for r in summary["runs"]}
    return Side("ours", srv.requests(), ids)


def run_live(server_bin, tmp):
    srv = Server(server_bin, tmp, "srv-py")
    try:
        work = os.path.join(tmp, "py-work")
        out = os.path.join(tmp, "py-summary.json")
        p = subprocess.run([VENV_PY, os.path.join(HERE, "python_scenario.py"), "--base-url",
                            srv.url, "--api-key", srv.key, "--project", PROJECT, "--workdir", work,
                            "--out", out, "--fast", "--save-wait", "7"],
                           capture_output=True, text=True, timeout=200, env=clean_env(tmp))
        if p.returncode != 0:
            raise RuntimeError("python_scenario exited %d: %s" % (p.returncode, p.stderr[-2000:]))
        with open(out) as f:
            summary = json.load(f)
    finally:
        srv.stop()
    ids = {r["key"]: r["id"] for r in summary["runs"] if r["key"] in ("run1", "run2")}
    return Side("official (live)", srv.requests(), ids)


def have_live_client():
    if not os.path.exists(VENV_PY):
        return False, "no tests/conformance/.venv (run tests/conformance/install.sh)"
    p = subprocess.run([VENV_PY, "-c", "import wandb"], capture_output=True, timeout=120)
    return p.returncode == 0, "the .venv has no importable wandb"


def main():
    bin_dir = os.environ.get("WANDB_TEST_BIN_DIR", "")
    server_bin = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        bin_dir, "src", "server", "wandb-mpi-server")
    driver_bin = sys.argv[2] if len(sys.argv) > 2 else os.path.join(bin_dir, "tests", "c_scenario")
    for b in (server_bin, driver_bin):
        if not os.access(b, os.X_OK):
            print("SKIP: %s is not built" % b, flush=True)
            return SKIP
    live_ok, why = have_live_client()
    have_capture = os.path.exists(CAPTURE) and os.path.exists(CAPTURE_SUMMARY)
    if not live_ok and not have_capture:
        print("SKIP: no official side: %s, and no capture %s" % (why, CAPTURE), flush=True)
        return SKIP
    c = Checker()
    tmp = tempfile.mkdtemp(prefix="wbconf-cmp-")
    try:
        ours = run_ours(server_bin, driver_bin, tmp)
        c.note("ours: %d requests (%s)" % (len(ours.all), ours.run_ids))
        sides = []
        if have_capture:
            with open(CAPTURE_SUMMARY) as f:
                summ = json.load(f)
            ids = {r["key"]: r["id"] for r in summ["runs"] if r["key"] in ("run1", "run2")}
            sides.append(("capture", Side("official (capture)", load_requests(CAPTURE), ids)))
        if live_ok:
            sides.append(("live", run_live(server_bin, tmp)))
        else:
            print("SKIP live official client: %s; comparing with the checked-in capture only"
                  % why, flush=True)
        for tag, off in sides:
            c.note("official (%s): %d requests (%s)" % (tag, len(off.all), off.run_ids))
            before = c.failed
            compare(c, off, ours, tag)
            c.note("%s: %s" % (tag, "no differences beyond ALLOWED" if c.failed == before
                               else "%d failed checks" % (c.failed - before)))
        self_test(c, sides[0][1], ours)
        for (what, name), reason in sorted(ALLOWED.items()):
            c.note("allowed difference %s %s: %s" % (what, name, reason))
    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError) as e:
        c.check(False, "scenario", str(e))
    finally:
        if c.failed == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("files kept in %s" % tmp, flush=True)
    print("%d passed, %d failed" % (c.passed, c.failed), flush=True)
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
