#!/usr/bin/env python3
# cdp.py - a headless Chromium driven over the DevTools protocol (stdlib only)
# SPDX-License-Identifier: MIT
#
#   with Browser() as br:
#       br.navigate(url)                       Page.navigate
#       br.wait_for(js, timeout)               polls a JS expression until it is truthy
#       br.eval(js)                            Runtime.evaluate, the value
#       br.dialogs                             alert/confirm/prompt dialogs the page opened
#
# Unlike --dump-dom with a virtual-time budget, the page runs in real time here, so
# performance.now() figures are wall-clock (the dashboard's time-to-first-chart) and the
# live refresh really polls. One page; Chromium on loopback only; every wait is bounded.
import base64
import json
import os
import re
import select
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import browser as b


class Browser:
    def __init__(self, size="1400,2000"):
        self.profile = tempfile.mkdtemp(prefix="wandb-ui-cdp-")
        self.proc = subprocess.Popen(
            [b.chromium(), "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             "--window-size=" + size, "--user-data-dir=" + self.profile, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port = self._devtools_port(30)
        self.sock = None
        self.dialogs = []
        self._id = 0
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                        "http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
                    pages = [t for t in json.loads(r.read()) if t.get("type") == "page"]
                if pages:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("no page target in Chromium")
            time.sleep(0.1)
        self._connect(pages[0]["webSocketDebuggerUrl"])
        self.call("Page.enable")
        self.call("Runtime.enable")

    def _devtools_port(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stderr.fileno()
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buf += chunk
                m = re.search(rb"DevTools listening on ws://127\.0\.0\.1:(\d+)/", buf)
                if m:
                    return int(m.group(1))
        raise RuntimeError("Chromium did not open its DevTools port: %r" % buf[-500:])

    def _connect(self, ws_url):
        m = re.match(r"ws://([^/:]+):(\d+)(/.*)", ws_url)
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n" % (m.group(3), m.group(1),
                                                                 m.group(2), key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise RuntimeError("websocket handshake closed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("websocket handshake refused: %r" % head[:200])

    def _send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        hdr = bytes([0x81])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            hdr += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        self.sock.sendall(hdr + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(data)))

    def _recv_exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise RuntimeError("websocket closed")
            out += chunk
        return out

    def _recv(self):
        text = b""
        while True:
            h0, h1 = self._recv_exact(2)
            n = h1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._recv_exact(2), "big")
            elif n == 127:
                n = int.from_bytes(self._recv_exact(8), "big")
            payload = self._recv_exact(n)
            op = h0 & 0x0F
            if op == 8:
                raise RuntimeError("websocket closed by Chromium")
            if op in (0, 1):
                text += payload
                if h0 & 0x80:
                    return json.loads(text)

    def call(self, method, params=None, timeout=30):
        self._id += 1
        my = self._id
        self._send(json.dumps({"id": my, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self._recv()
            if msg.get("method") == "Page.javascriptDialogOpening":
                self.dialogs.append(msg["params"].get("message"))
                self._send(json.dumps({"id": 0, "method": "Page.handleJavaScriptDialog",
                                       "params": {"accept": True}}))
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
        raise RuntimeError("%s: no answer in %d s" % (method, timeout))

    def navigate(self, url):
        return self.call("Page.navigate", {"url": url})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        return r.get("result", {}).get("value")

    def wait_for(self, expr, timeout=30, every=0.02):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = self.eval(expr)
            if v:
                return v
            time.sleep(every)
        return None

    def close(self):
        try:
            if self.sock:
                self.sock.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc.stderr.close()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
