"""A small forward proxy on loopback for the proxy tests: CONNECT tunnels for https targets and
absolute-form requests for http targets, as corporate proxies serve them; it counts what went
through it, by target, and can require proxy credentials (answering 407 without them)."""

from __future__ import annotations

import base64
import collections
import contextlib
import select
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

_HEAD_LIMIT = 64 * 1024


@dataclass
class ProxyLog:
    tunnels: collections.Counter = field(default_factory=collections.Counter)
    """CONNECT tunnels opened, by ``host:port``."""
    forwarded: collections.Counter = field(default_factory=collections.Counter)
    """Plain-HTTP requests forwarded, by ``host:port``."""
    refused: int = 0
    """Requests answered 407 (no or wrong credentials)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def through(self, target: str) -> int:
        with self.lock:
            return self.tunnels[target] + self.forwarded[target]

    def total(self) -> int:
        with self.lock:
            return sum(self.tunnels.values()) + sum(self.forwarded.values())


@dataclass(frozen=True)
class RunningProxy:
    url: str
    log: ProxyLog


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk or len(data) > _HEAD_LIMIT:
            raise ConnectionError("incomplete request head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _relay(a: socket.socket, b: socket.socket) -> None:
    sockets = [a, b]
    while True:
        readable, _, broken = select.select(sockets, [], sockets, 30)
        if broken or not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (b if source is a else a).sendall(data)


def _handler(log: ProxyLog, credentials: str | None) -> type[socketserver.BaseRequestHandler]:
    expected = "Basic " + base64.b64encode(credentials.encode()).decode() if credentials else None

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            client: socket.socket = self.request
            try:
                head, rest = _read_head(client)
            except (ConnectionError, OSError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            headers = [line for line in lines[1:] if line]
            given = next((line.split(":", 1)[1].strip() for line in headers
                          if line.lower().startswith("proxy-authorization:")), None)
            if expected and given != expected:
                with log.lock:
                    log.refused += 1
                client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                               b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
                return
            if method == "CONNECT":
                self._tunnel(client, target, rest)
            else:
                self._forward(client, method, target, version, headers, rest)

        def _tunnel(self, client: socket.socket, target: str, rest: bytes) -> None:
            host, _, port = target.rpartition(":")
            with socket.create_connection((host, int(port)), timeout=30) as upstream:
                with log.lock:
                    log.tunnels[target] += 1
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    upstream.sendall(rest)
                _relay(client, upstream)

        def _forward(self, client: socket.socket, method: str, url: str, version: str, headers: list[str],
                     rest: bytes) -> None:
            assert url.startswith("http://"), url
            netloc, _, path = url[len("http://"):].partition("/")
            host, _, port = netloc.rpartition(":") if ":" in netloc else (netloc, "", "80")
            kept = [h for h in headers if not h.lower().startswith(("proxy-", "connection:"))]
            request = "\r\n".join([f"{method} /{path} {version}", *kept, "Connection: close", "", ""])
            with socket.create_connection((host, int(port)), timeout=30) as upstream:
                with log.lock:
                    log.forwarded[f"{host}:{port}"] += 1
                upstream.sendall(request.encode("latin-1") + rest)
                _relay(client, upstream)

    return Handler


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextlib.contextmanager
def forward_proxy(*, credentials: str | None = None) -> Iterator[RunningProxy]:
    """A proxy on 127.0.0.1 (a free port) until the block ends; ``credentials`` ("user:password")
    makes it require them."""
    log = ProxyLog()
    server = _Server(("127.0.0.1", 0), _handler(log, credentials))
    thread = threading.Thread(target=server.serve_forever, name="test-proxy", daemon=True)
    thread.start()
    try:
        auth = f"{credentials}@" if credentials else ""
        yield RunningProxy(url=f"http://{auth}127.0.0.1:{server.server_address[1]}", log=log)
    finally:
        server.shutdown()
        server.server_close()
