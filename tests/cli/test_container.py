"""The container image's settings: the image sets none of its own (the environment would override
the config file), and the container config it is documented with is valid and agrees with it."""

from __future__ import annotations

import os
import re
import tomllib

from jobs.config import Settings
from tests.cli.conftest import REPO

CONTAINER_CONFIG = REPO / "docs" / "kubernetes" / "base" / "afterclose.toml"


def test_given_the_image_and_its_container_config_then_the_config_decides_and_its_port_is_the_exposed_one(
        monkeypatch, tmp_path):
    text = (REPO / "Dockerfile").read_text()
    instructions = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    env = dict(re.findall(r"(AFTERCLOSE_[A-Z_]+)=(\S+)", instructions))
    # AFTERCLOSE_CONFIG names the file; any AFTERCLOSE_<SECTION>__<KEY> would silently win over it.
    assert env == {"AFTERCLOSE_CONFIG": "/etc/afterclose/config.toml"}
    for name in [n for n in os.environ if n.startswith("AFTERCLOSE_")]:
        monkeypatch.delenv(name)
    config = tomllib.loads(CONTAINER_CONFIG.read_text())
    token = tmp_path / "hubspot_token"
    token.write_text("pat-test-1\n")
    config["hubspot"]["access_token_file"] = str(token)
    settings = Settings.from_mapping(config)
    assert settings.server.host == "0.0.0.0" and f"EXPOSE {settings.server.port}" in instructions
    assert settings.hubspot.access_token.get_secret_value() == "pat-test-1"
    assert 'ENTRYPOINT ["afterclose"]' in text and 'CMD ["serve"]' in text
