"""A stand-in Hugging Face Hub and an HTTP proxy on 127.0.0.1, started and stopped by the tests that use them.

`StandinHub` serves `/{repo_id}/resolve/{revision}/{filename}` (HEAD and GET) from files the test put in it, with the
headers huggingface_hub reads (`ETag`, `X-Repo-Commit`, `Content-Length`), and answers 404 with `X-Error-Code:
EntryNotFound` for a file it does not hold. `mode` makes it misbehave: 'error' answers 500, 'hang' never answers.
`Proxy` forwards plain-HTTP proxy requests (`GET http://host/... HTTP/1.1`) to the stand-in, whatever the host."""
import hashlib
import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

COMMIT = 'a' * 40


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class StandinHub:
    def __init__(self):
        self.files, self.requests, self.mode = {}, [], 'ok'
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'
            def log_message(self, *args): pass
            def do_HEAD(self): self._answer(body=False)
            def do_GET(self): self._answer(body=True)
            def _answer(self, body):
                hub.requests.append((self.command, self.path))
                if hub.mode == 'hang':
                    time.sleep(60)
                    return
                if hub.mode == 'error': return self._send(500, b'internal error', {}, body)
                parts = unquote(urlsplit(self.path).path).strip('/').split('/')
                if 'resolve' not in parts: return self._send(404, b'not found', {'X-Error-Code': 'RepoNotFound'}, body)
                i = parts.index('resolve')
                repo, filename = '/'.join(parts[:i]), '/'.join(parts[i + 2:])
                data = hub.files.get((repo, filename))
                if data is None: return self._send(404, b'entry not found', {'X-Error-Code': 'EntryNotFound'}, body)
                etag = '"' + hashlib.sha256(data).hexdigest() + '"'
                self._send(200, data, {'ETag': etag, 'X-Repo-Commit': COMMIT, 'Content-Type': 'application/octet-stream'}, body)
            def _send(self, code, data, headers, body):
                self.send_response(code)
                for k, v in headers.items(): self.send_header(k, v)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                if body: self.wfile.write(data)

        self.server = _Server(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_port}'
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, repo, filename, data): self.files[repo, filename] = data if isinstance(data, bytes) else data.read_bytes()
    def downloads(self, filename): return [p for c, p in self.requests if c == 'GET' and p.endswith('/' + filename)]
    def close(self): self.server.shutdown(); self.server.server_close()


class Proxy:
    "A forward proxy for plain HTTP: every request goes to `upstream` (host:port), and `seen` records the URLs asked for."
    def __init__(self, upstream):
        self.seen = []
        proxy = self
        host, port = upstream.rsplit(':', 1)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'
            def log_message(self, *args): pass
            def do_HEAD(self): self._forward()
            def do_GET(self): self._forward()
            def _forward(self):
                proxy.seen.append(self.path)
                u = urlsplit(self.path)
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
                conn.request(self.command, u.path + (f'?{u.query}' if u.query else ''),
                             headers={k: v for k, v in self.headers.items() if k.lower() not in ('proxy-connection', 'connection')})
                r = conn.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ('connection', 'transfer-encoding', 'content-length'): self.send_header(k, v)
                self.send_header('Content-Length', r.getheader('Content-Length', str(len(data))))
                self.end_headers()
                if self.command != 'HEAD': self.wfile.write(data)
                conn.close()

        self.server = _Server(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_port}'
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self): self.server.shutdown(); self.server.server_close()
