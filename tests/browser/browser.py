#!/usr/bin/env python3
# browser.py - shared code of the dashboard's browser tests (headless Chromium, stdlib only)
# SPDX-License-Identifier: MIT
#
#   chromium()                      the browser binary, or None (the tests then skip, 77)
#   dump(url, budget_ms)            the page's DOM after budget_ms of virtual time (--dump-dom)
#   screenshot(url, path)           a PNG of the page
#   login(srv, path)                the link that sets the key cookie and opens path
#   Dom(html)                       the parsed DOM: charts (window.__wandbCharts as mirrored into
#                                   <pre id="wandb-charts">), kv tables, text, every tag
#   upsert(srv, ...), stream(srv, ...)  write runs and rows with the server's own W&B protocol
#
# Each browser run has its own fresh profile directory (no cookie survives between runs) and a
# hard timeout. Only loopback addresses are opened.
import html.parser
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
import harness as h  # noqa: E402

BIN_DIR = os.environ.get("WANDB_TEST_BIN_DIR", "build")
SERVER = os.path.join(BIN_DIR, "bin", "wandb-mpi-server")


class Server(h.Server):
    """harness.Server without the request log (bulk writes would double the disk use)."""

    def __init__(self, workdir):
        import re
        os.makedirs(workdir, exist_ok=True)
        self.dir = os.path.join(workdir, "server")
        self.stderr_path = os.path.join(workdir, "server.stderr")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [SERVER, "--dir", self.dir, "--port", "0", "--host", "127.0.0.1", "--log-level",
             "info"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._err)
        line = self._read_line(10.0)
        m = re.match(r"wandb-mpi-server listening on (http://127\.0\.0\.1:\d+)$", line)
        if not m:
            self.stop()
            raise RuntimeError("server did not start: %r (stderr: %s)" % (line, self.stderr()))
        self.url = m.group(1)
        with open(os.path.join(self.dir, "api_key")) as f:
            self.key = f.read().strip()


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args, timeout=90):
    profile = tempfile.mkdtemp(prefix="wandb-ui-chromium-")
    try:
        cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
               "--user-data-dir=" + profile] + args
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return p.stdout.decode("utf-8", "replace")
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def dump(url, budget_ms=5000, size="1400,2000"):
    return _run(["--virtual-time-budget=%d" % budget_ms, "--window-size=" + size,
                 "--dump-dom", url])


def screenshot(url, path, budget_ms=5000, size="1300,1800"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _run(["--virtual-time-budget=%d" % budget_ms, "--window-size=" + size,
          "--hide-scrollbars", "--screenshot=" + path, url])
    return os.path.exists(path) and os.path.getsize(path) > 1000


def login(srv, path):
    return "%s/login?%s" % (srv.url, urllib.parse.urlencode({"key": srv.key, "next": path}))


def page_path(*parts):
    return "/" + "/".join(urllib.parse.quote(p, safe="") for p in parts)


class Dom(html.parser.HTMLParser):
    """Collects what the tests look at in a dumped page."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags = []          # (tag, attrs dict) of every start tag
        self.text = []          # every text node
        self.charts = {}        # window.__wandbCharts
        self.tables = {}        # kv table class -> {key: text}
        self.body = {}          # <body> attributes
        self._stack = []
        self._pre = None
        self._kv = None
        self._row = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "body":
            self.body = a
        if tag == "pre" and a.get("id") == "wandb-charts":
            self._pre = []
        if tag == "table" and "kv" in (a.get("class") or "").split():
            self._kv = [c for c in a["class"].split() if c != "kv"][0]
            self.tables[self._kv] = {}
        if tag == "tr" and self._kv:
            self._row = []
        if tag in ("th", "td") and self._kv:
            self._row.append("")
        self._stack.append(tag)

    def handle_endtag(self, tag):
        if tag == "pre" and self._pre is not None:
            self.charts = json.loads("".join(self._pre) or "{}")
            self._pre = None
        if tag == "tr" and self._kv and len(self._row) == 2:
            self.tables[self._kv][self._row[0]] = self._row[1]
        if tag == "table":
            self._kv = None
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        if self._pre is not None:
            self._pre.append(data)
        if self._kv and self._row and self._stack and self._stack[-1] in ("th", "td"):
            self._row[-1] += data

    def all_text(self):
        return "".join(self.text)


def graphql(srv, op, variables):
    body = json.dumps({"operationName": op, "variables": variables,
                       "query": "mutation %s { upsertBucket { bucket { id } } }" % op})
    status, data = srv.request("/graphql", method="POST", body=body.encode())
    if status != 200:
        raise RuntimeError("%s -> %d %s" % (op, status, data[:300]))
    return json.loads(data)


def upsert(srv, project, name, **fields):
    """Creates or updates a run (UpsertBucket); fields: displayName, groupName, jobType,
    notes, config (a dict, sent wrapped as W&B does), tags."""
    v = {"entity": "local", "project": project, "name": name}
    for k, val in fields.items():
        v[k] = json.dumps({ck: {"value": cv} for ck, cv in val.items()}) if k == "config" else val
    return graphql(srv, "UpsertBucket", v)


def stream(srv, project, name, rows, offset=0, complete=False, summary=None, file=None):
    """Posts history rows (dicts or JSON text) with file_stream; returns the next offset."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    body = {"files": {file or "wandb-history.jsonl": {"offset": offset, "content": lines}}}
    if summary is not None:
        body["files"]["wandb-summary.json"] = {"offset": 0, "content": [json.dumps(summary)]}
    if complete:
        body.update({"complete": True, "exitcode": 0})
    status, data = srv.request("/files/local/%s/%s/file_stream" % (project, name), method="POST",
                               body=json.dumps(body).encode())
    if status != 200:
        raise RuntimeError("file_stream -> %d %s" % (status, data[:300]))
    return offset + len(lines)
