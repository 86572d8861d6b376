"""Run a sandbox on loopback in a background thread, optionally over TLS with a test CA.

Both sandboxes use this: a real server on 127.0.0.1 (ephemeral port unless one is asked for),
so the unmodified SDK clients talk real HTTP to it (connector/serving.py runs the server).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from connector.serving import serve_app


@dataclass(frozen=True, kw_only=True)
class TlsFiles:
    """A throw-away CA and a server certificate for 127.0.0.1 and localhost."""

    ca_path: Path
    cert_path: Path
    key_path: Path


def make_test_tls(directory: Path, identities: tuple[str, ...] = ("127.0.0.1", "localhost"), *,
                  not_before: dt.datetime | None = None, not_after: dt.datetime | None = None) -> TlsFiles:
    """A fresh CA and a server certificate for ``identities``; ``not_before``/``not_after`` make
    one that is not valid yet or has expired (the TLS tests' misconfigured servers)."""
    import trustme  # imported here: only the TLS sandbox needs it

    ca = trustme.CA()
    cert = ca.issue_cert(*identities, not_before=not_before, not_after=not_after)
    files = TlsFiles(
        ca_path=directory / "ca.pem", cert_path=directory / "server.pem", key_path=directory / "server.key"
    )
    ca.cert_pem.write_to_path(str(files.ca_path))
    cert.cert_chain_pems[0].write_to_path(str(files.cert_path))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(files.cert_path), append=True)
    cert.private_key_pem.write_to_path(str(files.key_path))
    return files


@dataclass(frozen=True, kw_only=True)
class RunningServer:
    host: str
    port: int
    scheme: str
    tls: TlsFiles | None

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


@contextlib.contextmanager
def serve_in_thread(app, *, host: str = "127.0.0.1", port: int = 0, tls: bool = False,
                    tls_dir: Path | None = None, tls_files: TlsFiles | None = None) -> Iterator[RunningServer]:
    """Serve ``app`` until the block ends. ``tls=True`` makes a fresh CA (see ``RunningServer.tls``);
    ``tls_files`` serves a certificate made beforehand instead."""
    with contextlib.ExitStack() as stack:
        files = tls_files
        if tls and files is None:
            directory = tls_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="afterclose-tls-")))
            files = make_test_tls(directory)
        port = stack.enter_context(serve_app(
            app, host=host, port=port, certfile=files.cert_path if files else None,
            keyfile=files.key_path if files else None, name="sandbox"))
        yield RunningServer(host=host, port=port, scheme="https" if files else "http", tls=files)
