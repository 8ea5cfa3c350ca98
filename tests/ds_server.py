#!/usr/bin/python3
"""A static server for a dataset folder on 127.0.0.1, good and bad, for the remote-dataset tests.

usage: ds_server.py ROOT PORTFILE LOGFILE [CERT KEY] — serves ROOT (over HTTPS with CERT and KEY);
writes its port to PORTFILE and one line per request ("MODE PATH RANGE STATUS") to LOGFILE. The
first path part picks the behaviour:
  /ok/P       Range supported (206 with Content-Range), ETag and Last-Modified; folders listed as
              python's http.server lists them
  /nolist/P   as /ok/, but folders answer 403 (an object store without listing)
  /stray/P    as /ok/, but the listing of a shards folder also links a file the index lacks
  /cut/P      every second answer is cut after half its body (the connection closed)
  /norange/P  Range ignored: 200 with the whole file
  /html/P     index and .jfr requests answered 200 text/html with an error page
  /htmljfr/P  only .jfr requests answered so (the index is served)
  /lie/P      .jfr ranges answered with a Content-Range whose total is wrong
  /flip/P     .jfr ranges answered with one byte of the body changed
"""
import email.utils
import html
import os
import ssl
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = sys.argv[1]
LOG = open(sys.argv[3], "a", buffering=1)
lock = threading.Lock()
count = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, body, headers=(), cut=False):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if cut:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def do_GET(self):
        parts = self.path.split("/", 2)
        mode, rel = (parts[1], parts[2]) if len(parts) == 3 else ("", "")
        path = os.path.normpath(os.path.join(ROOT, rel))
        rng = self.headers.get("Range")
        if path.startswith(os.path.abspath(ROOT)) and os.path.isdir(path) and rel.endswith("/"):
            if mode == "nolist":
                LOG.write(f"{mode} {rel} {rng} 403\n")
                return self.answer(403, b"<Error><Code>AccessDenied</Code></Error>", [("Content-Type", "application/xml")])
            names = sorted(os.listdir(path))
            if mode == "stray" and rel.endswith("shards/"):
                names.append("00009999.jfr")
            links = "".join(f'<li><a href="{urllib.parse.quote(n)}">{html.escape(n)}</a></li>\n' for n in names)
            page = f"<!DOCTYPE HTML>\n<html><head><title>Directory listing for /{rel}</title></head>\n<body>\n" \
                   f"<h1>Directory listing for /{rel}</h1>\n<hr>\n<ul>\n{links}</ul>\n<hr>\n</body></html>\n"
            LOG.write(f"{mode} {rel} {rng} 200\n")
            return self.answer(200, page.encode(), [("Content-Type", "text/html; charset=utf-8")])
        if not path.startswith(os.path.abspath(ROOT)) or not os.path.isfile(path):
            LOG.write(f"{mode} {rel} {rng} 404\n")
            return self.answer(404, b"not found", [("Content-Type", "text/plain")])
        data = open(path, "rb").read()
        st = os.stat(path)
        meta = [("ETag", f'"{st.st_size:x}-{int(st.st_mtime_ns):x}"'),
                ("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True)), ("Accept-Ranges", "bytes")]
        jfr = rel.endswith(".jfr") or rel.endswith("index.sqlite")
        if (mode == "html" and jfr) or (mode == "htmljfr" and rel.endswith(".jfr")):
            LOG.write(f"{mode} {rel} {rng} 200\n")
            return self.answer(200, b"<html><body><h1>Service Unavailable</h1></body></html>", [("Content-Type", "text/html")])
        if mode == "norange" or not rng or not rng.startswith("bytes="):
            LOG.write(f"{mode} {rel} {rng} 200\n")
            return self.answer(200, data, meta)
        a, b = rng[6:].split("-")
        a = int(a)
        b = int(b) if b else len(data) - 1
        if a >= len(data):
            LOG.write(f"{mode} {rel} {rng} 416\n")
            return self.answer(416, b"", [("Content-Range", f"bytes */{len(data)}")])
        b = min(b, len(data) - 1)
        body = data[a:b + 1]
        total = len(data)
        if mode == "lie" and rel.endswith(".jfr"):
            total += 1000
        if mode == "flip" and rel.endswith(".jfr") and len(body) > 100:
            body = body[:50] + bytes([body[50] ^ 0x40]) + body[51:]
        cut = False
        if mode == "cut":
            with lock:
                count[rel] = count.get(rel, 0) + 1
                cut = count[rel] % 2 == 1 and len(body) > 64
        LOG.write(f"{mode} {rel} {rng} 206{' cut' if cut else ''}\n")
        self.answer(206, body, meta + [("Content-Range", f"bytes {a}-{b}/{total}")], cut=cut)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up on a cut answer are expected here


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    if len(sys.argv) > 5:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    srv.serve_forever()


if __name__ == "__main__":
    main()
