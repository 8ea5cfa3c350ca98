#!/usr/bin/python3
"""A misbehaving HTTP server on 127.0.0.1 for the ingest tests.

usage: http_server.py ROOT PORTFILE — serves files under ROOT and writes its port to PORTFILE.
Paths: /img/F (the file), /status/N (that status), /flaky/F (503 once, then the file),
/hang/F (sleeps), /loop (redirects to itself), /cut/F (closes mid-body, always),
/robots/F (X-Robots-Tag: noai), /robots-other/F ("otherbot: noai"), /robots-ours/F
("jftest: noimageai"), /tar/F (Range support), /tarcut/F (first answer cut, then Range),
/tarnorange/F (first answer cut, then the whole body again with 200).
"""
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = sys.argv[1]
seen = {}
lock = threading.Lock()


def first_time(key):
    with lock:
        n = seen.get(key, 0)
        seen[key] = n + 1
        return n == 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self, name):
        with open(os.path.join(ROOT, os.path.basename(name)), "rb") as f:
            return f.read()

    def send(self, code, data, headers=()):
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def cut(self, data, headers=()):
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(2)

    def ranged(self, data):
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a)
            end = min(int(b), len(data) - 1) if b else len(data) - 1
            part = data[start:end + 1]
            self.send(206, part, [("Content-Range", f"bytes {start}-{end}/{len(data)}")])
        else:
            self.send(200, data, [("Accept-Ranges", "bytes")])

    def do_GET(self):
        parts = self.path.split("/", 2)
        kind = parts[1] if len(parts) > 1 else ""
        arg = parts[2] if len(parts) > 2 else ""
        try:
            if kind == "img":
                self.send(200, self.body(arg), [("Content-Type", "image/jpeg")])
            elif kind == "status":
                self.send(int(arg), b"error page")
            elif kind == "flaky":
                if first_time(self.path):
                    self.send(503, b"try later")
                else:
                    self.send(200, self.body(arg))
            elif kind == "hang":
                time.sleep(30)
                self.send(200, self.body(arg))
            elif kind == "loop":
                self.send(302, b"", [("Location", "/loop")])
            elif kind == "cut":
                self.cut(self.body(arg))
            elif kind == "robots":
                self.send(200, self.body(arg), [("X-Robots-Tag", "noai")])
            elif kind == "robots-other":
                self.send(200, self.body(arg), [("X-Robots-Tag", "otherbot: noai")])
            elif kind == "robots-ours":
                self.send(200, self.body(arg), [("X-Robots-Tag", "jftest: noimageai, nofollow")])
            elif kind == "tar":
                self.ranged(self.body(arg))
            elif kind == "tarcut":
                if first_time(self.path):
                    self.cut(self.body(arg), [("Accept-Ranges", "bytes")])
                else:
                    self.ranged(self.body(arg))
            elif kind == "tarnorange":
                if first_time(self.path):
                    self.cut(self.body(arg))
                else:
                    self.send(200, self.body(arg))
            else:
                self.send(404, b"no such path")
        except (BrokenPipeError, ConnectionResetError):
            pass
        except FileNotFoundError:
            self.send(404, b"no such file")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, sys.argv[2])
    server.serve_forever()


if __name__ == "__main__":
    main()
