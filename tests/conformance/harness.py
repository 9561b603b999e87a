#!/usr/bin/env python3
# harness.py - shared code of the conformance tests (official W&B clients vs wandb-mpi-server)
# SPDX-License-Identifier: MIT
#
# Standard library only, so the tests run with any python3 >= 3.8; the official clients run in
# their own interpreters (tests/conformance/.venv, node + tests/conformance/node_modules).
#
#   server = Server(bin_path, workdir)   starts wandb-mpi-server --port 0 --dir <tmp> and reads
#                                        its "listening on" line (bounded wait)
#   server.get(path)                     read API, parsed as extended JSON (NaN/Infinity ok)
#   server.stop()                        SIGTERM, bounded wait, SIGKILL as a last resort
#   Checker                              counts checks, prints "ok"/"FAIL" lines and the final
#                                        "N passed, M failed" line
#   same(a, b)                           deep equality where NaN == NaN and 1 == 1.0 (but
#                                        True != 1)
#   scan_lines(...)                      client output lines that mention errors, warnings,
#                                        failures or retries, minus an explicit allowlist
#
# Exit codes: 0 all checks passed, 1 a check failed, 77 skipped (client not installed).
import base64
import json
import math
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))


def server_binary():
    """Path of the server under test: argv[1], else $WANDB_TEST_BIN_DIR/src/server/..."""
    if len(sys.argv) > 1:
        return sys.argv[1]
    bin_dir = os.environ.get("WANDB_TEST_BIN_DIR")
    if not bin_dir:
        sys.exit("usage: %s [PATH/TO/wandb-mpi-server] (or set WANDB_TEST_BIN_DIR)" % sys.argv[0])
    return os.path.join(bin_dir, "src", "server", "wandb-mpi-server")


def skip(msg):
    """Prints why the test is skipped and exits with ctest's SKIP_RETURN_CODE."""
    print("SKIP: " + msg, flush=True)
    sys.exit(SKIP)


def client_env(home):
    """Environment for a client process: ours minus WANDB_* and proxies, HOME in the temp dir.

    No proxy variables, so every request goes straight to 127.0.0.1; HOME isolates ~/.netrc,
    ~/.config/wandb and npm's caches from the developer's own.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WANDB_") and k.lower() not in
           ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env["HOME"] = home
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Server:
    """One wandb-mpi-server process on an ephemeral loopback port with its own data dir."""

    def __init__(self, binary, workdir, heartbeat_timeout_s=300):
        os.makedirs(workdir, exist_ok=True)
        self.dir = os.path.join(workdir, "server")
        self.stderr_path = os.path.join(workdir, "server.stderr")
        if not os.access(binary, os.X_OK):
            raise RuntimeError("server binary not found or not executable: %s" % binary)
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [binary, "--dir", self.dir, "--port", "0", "--host", "127.0.0.1",
             "--record-requests", "--log-level", "info",
             "--heartbeat-timeout-s", str(heartbeat_timeout_s)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._err)
        line = self._read_line(10.0)
        m = re.match(r"wandb-mpi-server listening on (http://127\.0\.0\.1:\d+)$", line)
        if not m:
            self.stop()
            raise RuntimeError("server did not start: %r (stderr: %s)" % (line, self.stderr()))
        self.url = m.group(1)
        with open(os.path.join(self.dir, "api_key")) as f:
            self.key = f.read().strip()  # generated at first start: local- + 40 [a-z0-9]

    def _read_line(self, timeout):
        """Reads the first stdout line, waiting at most timeout seconds."""
        deadline = time.monotonic() + timeout
        data = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
        return data.split(b"\n")[0].decode("utf-8", "replace")

    def request(self, path, auth="basic", method="GET", body=None):
        """(status, bytes) of one request; auth is basic, bearer or none."""
        req = urllib.request.Request(self.url + path, method=method, data=body)
        if auth == "basic":
            token = base64.b64encode(("api:" + self.key).encode()).decode()
            req.add_header("Authorization", "Basic " + token)
        elif auth == "bearer":
            req.add_header("Authorization", "Bearer " + self.key)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=20) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get(self, path, auth="basic"):
        """GET path and parse the JSON answer (bare NaN/Infinity accepted)."""
        status, data = self.request(path, auth)
        if status != 200:
            raise RuntimeError("GET %s -> %d %s" % (path, status, data[:300]))
        return json.loads(data.decode("utf-8"))

    def recorded(self):
        """The requests the server recorded (DIR/requests.jsonl), in order."""
        path = os.path.join(self.dir, "requests.jsonl")
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def stderr(self):
        self._err.flush()
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        """SIGTERM, then wait up to 10 s (SIGKILL after that). Returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc.stdout.close()
        self._err.close()
        return self.proc.returncode


def run_client(argv, env, cwd, timeout, out_prefix):
    """Runs a client driver with a hard timeout; returns (rc, stdout, stderr) as text.

    The whole process group is killed on timeout (wandb-core is a child of the Python client).
    """
    with open(out_prefix + ".stdout", "wb") as so, open(out_prefix + ".stderr", "wb") as se:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=so,
                                stderr=se, start_new_session=True)
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
            rc = "timeout after %d s" % timeout
    with open(out_prefix + ".stdout", encoding="utf-8", errors="replace") as f:
        out = f.read()
    with open(out_prefix + ".stderr", encoding="utf-8", errors="replace") as f:
        err = f.read()
    return rc, out, err


# Words that make a client output line suspicious.
SUSPICIOUS = re.compile(r"(?i)(error|warn|fail|retry|retrying|giving up|traceback|exception|"
                        r"timed? ?out|refused|unauthori[sz]ed|forbidden)")


def scan_lines(text, allow):
    """Lines of text that look like an error/warning/retry and match no allowlist regex."""
    bad = []
    for line in text.splitlines():
        if SUSPICIOUS.search(line) and not any(re.search(a, line) for a in allow):
            bad.append(line)
    return bad


def same(a, b):
    """Deep equality for JSON values: NaN equals NaN, 1 equals 1.0, True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) and math.isnan(a):
            return isinstance(b, float) and math.isnan(b)
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def user_keys(d):
    """The keys of a history row or summary that the user logged (no _step/_runtime/...)."""
    return {k: v for k, v in d.items() if not k.startswith("_")}


def check_history(ck, srv, tag, path, got, want):
    """Compares the history the server returns at path with the run's expected rows:
    the count, then each row's _step and user values, and numeric _runtime/_timestamp."""
    rows = srv.get(path)["rows"]
    ck.equal(tag + ": history_count", got["history_count"], want["history_count"])
    ck.equal(tag + ": history rows returned", len(rows), len(want["history"]))
    for i, (row, exp) in enumerate(zip(rows, want["history"])):
        ck.equal("%s: history[%d]._step" % (tag, i), row.get("_step"), exp["_step"])
        ck.equal("%s: history[%d] values" % (tag, i), user_keys(row), user_keys(exp))
        ck.check("%s: history[%d] has numeric _runtime and _timestamp" % (tag, i),
                 isinstance(row.get("_runtime"), (int, float)) and
                 isinstance(row.get("_timestamp"), (int, float)), show(row))


def show(v):
    """Short JSON text of a value for messages."""
    s = json.dumps(v, sort_keys=True, allow_nan=True)
    return s if len(s) <= 400 else s[:400] + "..."


class Checker:
    """Counts checks and prints one line per failure (and per pass with -v)."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.verbose = bool(os.environ.get("CONFORMANCE_VERBOSE"))

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
            if self.verbose:
                print("ok   - " + what, flush=True)
        else:
            self.failed += 1
            print("FAIL - %s%s" % (what, (": " + detail) if detail else ""), flush=True)
        return ok

    def equal(self, what, got, want):
        return self.check(what, same(got, want), "got %s, want %s" % (show(got), show(want)))

    def run(self, fn, *args):
        """Calls fn(*args); an exception counts as one failed check (with its traceback)."""
        try:
            return fn(*args)
        except Exception:  # noqa: BLE001 - any error is a test failure, reported
            import traceback
            self.check("no exception in %s" % fn.__name__, False, traceback.format_exc())
            return None

    def finish(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed), flush=True)
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        return 0 if self.failed == 0 else 1


def server_log_problems(text):
    """Server stderr lines at WARN or ERR level (the server logs 4xx at INFO, 5xx at WARN)."""
    return [line for line in text.splitlines() if re.search(r"Z (WARN|ERR)\b", line)]


def check_server_side(ck, server, ops_expected):
    """Checks shared by both tests: every recorded request was answered 2xx (none refused,
    none unknown), the operations the client needs were all seen, and the server log has no
    warning or error."""
    recs = server.recorded()
    client_recs = [r for r in recs if not r["path"].startswith("/api/v1/")]
    ck.check("the client sent requests", len(client_recs) > 0)
    bad = ["%s %s %s -> %d" % (r["method"], r["path"], r.get("operationName") or "", r["status"])
           for r in client_recs if not 200 <= r["status"] < 300]
    ck.check("every client request was answered 2xx", not bad, "; ".join(bad[:10]))
    ops = {}
    for r in client_recs:
        if r["path"] == "/graphql":
            ops[r.get("operationName")] = ops.get(r.get("operationName"), 0) + 1
    for op in ops_expected:
        ck.check("GraphQL %s was sent and answered" % op, ops.get(op, 0) > 0, "ops seen: %s" %
                 show(ops))
    known = {"ServerFeaturesQuery", "Viewer", "UpsertBucket", "RunResumeStatus",
             "CreateRunFiles", "RunUploadUrls", "NotifyScriptableRunAlert", "RunState",
             "RunStoppedStatus"}
    unknown = sorted(op for op in ops if op not in known)
    ck.check("no operation the server does not implement", not unknown, show(unknown))
    auth = [r["path"] for r in client_recs if r["path"] != "/graphql" and
            not r["path"].startswith("/upload/") and not r["path"].startswith("/files/")]
    ck.check("only /graphql, /files/.../file_stream and /upload/ were used", not auth, show(auth))
    uploads_with_auth = [r["path"] for r in client_recs if r["path"].startswith("/upload/") and
                         any(k.lower() == "authorization" for k in r.get("headers", {}))]
    ck.check("uploads carried no credentials (URLs self-authorize)", not uploads_with_auth,
             show(uploads_with_auth))
    stats = server.get("/api/v1/stats")
    ck.equal("no request was refused (401/403)", stats["requests"]["unauthorized"], 0)
    problems = server_log_problems(server.stderr())
    ck.check("server log has no WARN/ERR line", not problems, "\n    " + "\n    ".join(problems))
    return recs


def make_tmp(prefix):
    """A temp dir that is removed at the end unless CONFORMANCE_KEEP is set."""
    d = tempfile.mkdtemp(prefix=prefix)
    return d


def cleanup(d, ok):
    if os.environ.get("CONFORMANCE_KEEP"):
        print("kept %s" % d, flush=True)
        return
    if not ok:
        print("(set CONFORMANCE_KEEP=1 to keep %s)" % d, flush=True)
    shutil.rmtree(d, ignore_errors=True)
