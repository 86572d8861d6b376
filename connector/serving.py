"""Run an ASGI app in a background thread of this process (uvicorn), stopped with the block.

Used by ``afterclose serve`` for /healthz and /metrics, and by the sandboxes for their loopback
CRMs (connector/sandbox/server.py adds the throw-away TLS they need).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn


class _QuietServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the host process owns its signals
        pass


@contextlib.contextmanager
def serve_app(app: Any, *, host: str, port: int, certfile: Path | None = None, keyfile: Path | None = None,
              name: str = "http") -> Iterator[int]:
    """Serve ``app`` until the block ends; yields the bound port (``port`` 0 picks a free one).
    ``RuntimeError`` when the server does not start (port taken, address not available)."""
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="off",
        ssl_certfile=str(certfile) if certfile else None, ssl_keyfile=str(keyfile) if keyfile else None,
        # A pooled client keeps idle keep-alive connections open; without a graceful-shutdown
        # limit, stopping the server waits for them until the thread join gives up.
        timeout_keep_alive=30, timeout_graceful_shutdown=1, loop="asyncio", http="h11",
    )
    server = _QuietServer(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True, name=name)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server failed to start on {host}:{port}")
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
