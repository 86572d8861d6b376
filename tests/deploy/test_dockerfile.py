"""The Dockerfile: clean by hadolint, labelled by the OCI conventions with the package's own facts,
no AfterClose setting of its own in the environment, and a HEALTHCHECK that, run exactly as
written, follows `serve` to its port and tells healthy from failing from gone."""

from __future__ import annotations

import http.server
import json
import re
import shlex
import signal
import subprocess
import sys
import threading
import tomllib

from tests.cli.conftest import cli_env, hubspot, open_crm, start_cli  # noqa: F401 - fixtures used below
from tests.cli.test_serve import free_port, get, wait_until
from tests.deploy.conftest import CONTAINER_CONFIG, REPO, dockerfile, final_stage, package_version, tool

OCI_LABELS = ("title", "description", "licenses", "version", "revision", "source")


def hadolint(path, *extra: str) -> subprocess.CompletedProcess:
    required = [arg for label in OCI_LABELS for arg in ("--require-label", f"org.opencontainers.image.{label}:text")]
    return subprocess.run([str(tool("hadolint")), "--no-color", "--strict-labels", *required, *extra, str(path)],
                          capture_output=True, text=True, timeout=60)


def test_given_the_dockerfile_then_hadolint_finds_nothing(tmp_path):
    result = hadolint(REPO / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_given_a_careless_dockerfile_then_hadolint_refuses_it(tmp_path):
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN apt-get install curl\nLABEL org.opencontainers.image.titel=x\n")
    result = hadolint(careless)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3008", "DL3014"):  # the latest tag; apt-get unpinned and asking questions
        assert rule in result.stdout
    assert "DL3049" in result.stdout and "org.opencontainers.image.version` is missing" in result.stdout
    assert "DL3050" in result.stdout  # the misspelled label is not one of the OCI ones


def test_given_no_build_args_then_the_labels_state_the_package_name_description_licence_and_version():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    labels = dockerfile().labels
    assert labels["org.opencontainers.image.title"] == "AfterClose"
    assert labels["org.opencontainers.image.description"] == project["description"]
    assert labels["org.opencontainers.image.licenses"] == project["license"]["text"]
    assert labels["org.opencontainers.image.version"] == project["version"] == package_version()


def test_given_build_args_then_version_revision_and_source_labels_follow_them():
    labels = dockerfile(VERSION="0.1.0+acme.3", REVISION="46b218d", SOURCE="https://git.example/afterclose").labels
    assert labels["org.opencontainers.image.version"] == "0.1.0+acme.3"
    assert labels["org.opencontainers.image.revision"] == "46b218d"
    assert labels["org.opencontainers.image.source"] == "https://git.example/afterclose"


def test_given_the_image_environment_then_it_sets_no_afterclose_setting_that_would_override_the_config():
    names = [name for name in dockerfile().envs if name.startswith("AFTERCLOSE_")]
    assert names == ["AFTERCLOSE_CONFIG"], "env wins over the config file: the image must set no setting"


def test_given_the_image_then_it_runs_serve_as_a_numeric_unprivileged_user_and_stops_on_sigterm():
    assert final_stage("USER") == ["10001:10001"]  # numeric: Kubernetes runAsNonRoot can check it
    assert json.loads(final_stage("ENTRYPOINT")[0]) == ["afterclose"]
    assert json.loads(final_stage("CMD")[0]) == ["serve"]
    assert final_stage("STOPSIGNAL") == ["SIGTERM"]


# ---------------------------------------------------------------------------------------------
# The HEALTHCHECK, run as written


def healthcheck() -> tuple[dict[str, str], list[str]]:
    """The HEALTHCHECK's options and its exec-form command."""
    (value,) = final_stage("HEALTHCHECK")
    options_text, _, command = value.partition(" CMD ")
    options = dict(word.removeprefix("--").split("=") for word in shlex.split(options_text))
    return options, json.loads(command)


def run_healthcheck(env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    _, command = healthcheck()
    assert command[0] == "python"
    return subprocess.run([sys.executable, *command[1:]], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=30)


def test_given_the_healthcheck_then_its_own_http_timeout_ends_before_docker_gives_up_on_it():
    options, command = healthcheck()
    inner = float(re.search(r"timeout=(\d+)\)", command[-1]).group(1))
    assert inner < float(options["timeout"].removesuffix("s"))


def container_env(crm, tmp_path, token: str, **overrides: str) -> dict[str, str]:
    """The container config as the image reads it, with what a deployment would pass by env."""
    token_file = tmp_path / "hubspot_token"
    token_file.write_text(token + "\n")
    return cli_env(AFTERCLOSE_CONFIG=str(CONTAINER_CONFIG),
                   AFTERCLOSE_HUBSPOT__ACCESS_TOKEN_FILE=str(token_file),
                   AFTERCLOSE_HUBSPOT__BASE_URL=crm.endpoint.base_url,
                   AFTERCLOSE_STATE__URL=f"sqlite:///{tmp_path / 'state.db'}",
                   AFTERCLOSE_SCHEDULE__SYNC="0 0 1 1 *",  # never during the test: --run-now makes the run
                   AFTERCLOSE_RETRY__ATTEMPTS="1",
                   **overrides)


def serving(env, tmp_path, port, *args, until):
    """`afterclose serve ARGS` until ``until(response)`` holds for /healthz; yields, then SIGTERM."""
    import contextlib

    @contextlib.contextmanager
    def running():
        server = start_cli("serve", *args, env=env, cwd=tmp_path)
        try:
            yield wait_until(lambda: (r := get(port, "/healthz")) is not None and until(r) and r,
                             what="/healthz to answer as expected")
            server.send_signal(signal.SIGTERM)
            server.communicate(timeout=30)
        finally:
            if server.poll() is None:
                server.kill()
        assert server.returncode == 0

    return running()


def test_given_serve_on_a_port_set_by_env_then_the_healthcheck_follows_it_passes_fails_on_503_and_when_gone(
        open_crm, tmp_path):
    crm = open_crm("hubspot")
    port = free_port()
    # The environment wins over the file's port 9108; the healthcheck must ask the same settings.
    env = container_env(crm, tmp_path, crm.endpoint.token, AFTERCLOSE_SERVER__HOST="127.0.0.1",
                        AFTERCLOSE_SERVER__PORT=str(port))
    with serving(env, tmp_path, port, until=lambda r: r.status_code == 200):
        healthy = run_healthcheck(env, tmp_path)
    gone = run_healthcheck(env, tmp_path)
    refused = container_env(crm, tmp_path, "pat-wrong-token", AFTERCLOSE_SERVER__HOST="127.0.0.1",
                            AFTERCLOSE_SERVER__PORT=str(port))
    with serving(refused, tmp_path, port, "--run-now", until=lambda r: r.status_code == 503) as failing:
        assert "last sync tick failed" in failing.json()["problems"][0]
        unhealthy = run_healthcheck(refused, tmp_path)
    assert healthy.returncode == 0, healthy.stderr
    assert unhealthy.returncode != 0 and "503" in unhealthy.stderr
    assert gone.returncode != 0 and "Connection refused" in gone.stderr


class _Healthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_given_the_container_config_listening_on_every_interface_then_the_healthcheck_probes_loopback(tmp_path):
    """host = "0.0.0.0" is where serve listens, not an address to connect to: the probe goes to
    127.0.0.1 on the config's port (a stand-in server there, so nothing listens beyond loopback)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Healthy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        token = tmp_path / "hubspot_token"
        token.write_text("pat-na1-x\n")
        env = cli_env(AFTERCLOSE_CONFIG=str(CONTAINER_CONFIG), AFTERCLOSE_HUBSPOT__ACCESS_TOKEN_FILE=str(token),
                      AFTERCLOSE_SERVER__PORT=str(server.server_address[1]))
        assert tomllib.loads(CONTAINER_CONFIG.read_text())["server"]["host"] == "0.0.0.0"
        result = run_healthcheck(env, tmp_path)
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
