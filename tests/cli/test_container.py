"""The container image's settings: what the Dockerfile sets must be settings AfterClose accepts."""

from __future__ import annotations

import re

from jobs.config import Settings
from tests.cli.conftest import REPO


def test_dockerfile_environment_is_valid_settings_and_its_ports_agree(monkeypatch):
    text = (REPO / "Dockerfile").read_text()
    instructions = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    env = dict(re.findall(r"(AFTERCLOSE_[A-Z_]+)=(\S+)", instructions))
    port = env["AFTERCLOSE_SERVER__PORT"]
    assert f"EXPOSE {port}" in text and f"127.0.0.1:{port}/healthz" in text
    assert "AFTERCLOSE_STATE__URL" not in env  # it would override a PostgreSQL URL in the config file
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_mapping({"crm": {"provider": "hubspot"}, "hubspot": {"access_token": "pat-test-1"}})
    assert settings.server.port == int(port) and settings.server.host == "0.0.0.0"
    assert 'ENTRYPOINT ["afterclose"]' in text and 'CMD ["serve"]' in text
