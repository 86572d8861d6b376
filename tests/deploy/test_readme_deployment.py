"""The README's "Deployment" section works when pasted as written, as far as a machine without a
Docker engine can tell: every path, setting, command and port it names is the one the Dockerfile,
the container config and the CLI have, and the files its shell lines create can be read by the
container's user with the group `--group-add` lends it (and not without)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from jobs.config import Settings
from jobs.serve.schedule import Health, health_app
from tests.deploy.checks import parse_command, setting_of_env
from tests.deploy.conftest import CONTAINER_CONFIG, REPO, container_config, dockerfile, final_stage
from tests.deploy.readme import command, docker_run, raw_line, section, shell_lines


def test_given_the_build_line_then_it_builds_this_dockerfile_with_build_args_it_declares():
    build = command("docker", "build")
    assert build[-1] == "." and (REPO / "Dockerfile").is_file()
    assert build[build.index("-t") + 1] == docker_run().image
    declared = {value.partition("=")[0] for value in final_stage("ARG")}
    for index, word in enumerate(build):
        if word == "--build-arg":
            assert build[index + 1].partition("=")[0] in declared, build[index + 1]


def host_folder() -> Path:
    """$PWD when `docker run` runs: the repository root, then every `cd` of the section."""
    folder = REPO
    for words in shell_lines():
        if words[0] == "cd":
            folder = folder / words[1]
    return folder


def host_path(source: str) -> Path:
    assert source.startswith("$PWD/"), f"-v {source}: a bind mount needs an absolute path"
    return host_folder() / source.removeprefix("$PWD/")


def test_given_the_run_line_then_the_mounts_land_where_the_image_and_the_config_look():
    run, config = docker_run(), container_config()
    mounts = run.mounts()
    assert host_path(mounts[dockerfile().envs["AFTERCLOSE_CONFIG"]]) == CONTAINER_CONFIG
    token = host_path(mounts[config["hubspot"]["access_token_file"]])
    assert token == host_folder() / command("cat")[-1]
    # The token file is created where git ignores it.
    assert token.name in (token.parent / ".gitignore").read_text().split()
    # The named volume is the working directory, where the default SQLite state lives.
    workdir = final_stage("WORKDIR")[-1]
    assert mounts[workdir] == "afterclose-state" and workdir in final_stage("VOLUME")[0]
    assert "state" not in config or "url" not in config["state"]
    assert all(v.endswith(":ro") for v in run.options["-v"] if not v.startswith("afterclose-state:"))


def test_given_the_run_line_then_the_published_port_is_the_one_serve_listens_on_and_curl_asks():
    run, server = docker_run(), container_config()["server"]
    host_ip, host_port, container_port = run.option("-p").split(":")
    assert host_ip == "127.0.0.1" and int(container_port) == server["port"] and server["host"] == "0.0.0.0"
    assert final_stage("EXPOSE") == [container_port]
    url = command("curl")[-1]
    assert url == f"http://127.0.0.1:{host_port}/healthz"
    paths = [route.path for route in health_app(Health(overdue_after={}, last_runs=dict)).routes]
    assert "/healthz" in paths and "/metrics" in paths


def test_given_the_run_and_exec_lines_then_they_run_real_afterclose_commands():
    run = docker_run()
    argv = run.args or json.loads(final_stage("CMD")[0])
    parse_command(argv)
    exec_line = command("docker", "exec")
    assert exec_line[2] == run.option("--name") and exec_line[3] == "afterclose"
    parse_command(exec_line[4:])
    for later in re.findall(r"then `(\w+)` and `(\w+)` the same way", section())[0]:
        parse_command([later])


def test_given_the_section_then_every_setting_and_path_it_names_exists():
    text = section()
    for name in set(re.findall(r"AFTERCLOSE_[A-Z_]+", text)) - {"AFTERCLOSE_CONFIG"}:
        setting_of_env(name)  # (the pattern AFTERCLOSE_<SECTION>__<KEY> names none)
    for path in set(re.findall(r"docs/[\w./-]+", text)):
        path = path.rstrip(".")
        secret = path.endswith(("hubspot_token", "state_url"))
        assert (REPO / path).exists() or (secret and (REPO / path).parent.is_dir()), path
    assert "[server] port = 9108" in text and container_config()["server"]["port"] == 9108


@pytest.fixture
def host_dir():
    """A folder uid 10001 may pass through, as a bind mount lets the container reach the file
    itself whatever the host folders' modes (pytest's own tmp_path is root's alone)."""
    with tempfile.TemporaryDirectory(prefix="afterclose-readme-") as folder:
        os.chmod(folder, 0o711)
        yield Path(folder)


def test_given_the_token_line_then_the_file_is_group_readable_only_so_group_add_is_what_lets_uid_10001_read_it(host_dir):
    """The README's file lines, run by a shell; then uid 10001 opens the files as the container's
    process would: with the group `--group-add "$(id -g)"` adds, and without it."""
    if os.geteuid() != 0:
        pytest.skip("switching to uid 10001 needs root (CI runs as root)")
    tmp_path = host_dir
    subprocess.run(["sh", "-c", raw_line("cat >")], cwd=tmp_path, input="pat-na1-from-stdin\n", text=True,
                   check=True)
    token = tmp_path / command("cat")[-1]
    assert oct(token.stat().st_mode & 0o777) == "0o640"
    uid = int(final_stage("USER")[0].partition(":")[0])
    group = token.stat().st_gid  # "$(id -g)" of the user who made the file
    assert read_as(uid, [group], token) == "pat-na1-from-stdin\n"
    assert read_as(uid, [], token) is None, "without --group-add the container must not read the token"
    # The config holds no secret, so it may be (and, as git checks it out, is) readable by anyone.
    config = tmp_path / "afterclose.toml"
    config.write_text(CONTAINER_CONFIG.read_text().replace("/run/secrets/afterclose/hubspot_token", str(token)))
    config.chmod(CONTAINER_CONFIG.stat().st_mode & 0o777)
    assert read_as(uid, [], config)
    settings = Settings.load(config)
    assert settings.hubspot.access_token.get_secret_value() == "pat-na1-from-stdin"
    assert settings.file_warnings() == []


def read_as(uid: int, groups: list[int], path: Path) -> str | None:
    """``path``'s text as read by a process of ``uid`` with supplementary ``groups``, or None
    when it may not. A forked child, so the test's own interpreter (under /root) is not needed."""
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(reader)
        code = 0
        try:
            os.setgroups(groups)
            os.setgid(uid)
            os.setuid(uid)
            os.write(writer, Path(path).read_bytes())
        except PermissionError:
            code = 13
        finally:
            os._exit(code)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        content = pipe.read()
    _, status = os.waitpid(child, 0)
    return None if os.waitstatus_to_exitcode(status) == 13 else content.decode()
