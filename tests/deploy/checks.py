"""Checks the deployment tests apply to what a deployment names: CLI commands, environment
variables, secret files and ports. Each raises AssertionError naming what does not fit."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any
from unittest import mock

import click
import kubernetes_validate
from pydantic import BaseModel

from jobs.cli import cli
from jobs.config import Settings
from jobs.config_messages import ENV_DELIMITER, ENV_PREFIX
from tests.deploy.conftest import KUBERNETES_VERSION

EXIT_REJECTED, EXIT_CONFIG, EXIT_LOCKED, EXIT_FAILED = 1, 2, 3, 4
"""The exit codes `afterclose run` documents (docs/operations.md, jobs/cli.py): a contract with
schedulers, so the manifests are checked against the documented numbers."""


def parse_command(argv: list[str], *, config_env: str | None = None) -> dict[str, Any]:
    """The parameters `afterclose ARGV` would run with (with ``AFTERCLOSE_CONFIG`` set to
    ``config_env``, as the image sets it); fails on an unknown command, option or value."""
    assert argv, "no afterclose command given"
    root = click.Context(cli, info_name="afterclose")
    command = cli.get_command(root, argv[0])
    assert command is not None, f"`afterclose {argv[0]}` is not a command ({', '.join(cli.list_commands(root))})"
    environment = {"AFTERCLOSE_CONFIG": config_env} if config_env is not None else {}
    with mock.patch.dict(os.environ, environment):
        try:
            return command.make_context(argv[0], list(argv[1:]), parent=root).params
        except click.UsageError as exc:
            raise AssertionError(f"`afterclose {' '.join(argv)}`: {exc.format_message()}") from None


def setting_of_env(name: str) -> tuple[str, str]:
    """(section, key) an AFTERCLOSE_<SECTION>__<KEY> variable sets; fails when it sets nothing."""
    assert name.startswith(ENV_PREFIX), f"{name} is not an AfterClose setting"
    section, sep, key = name.removeprefix(ENV_PREFIX).lower().partition(ENV_DELIMITER)
    assert sep and section in Settings.model_fields, f"{name}: no settings section {section!r}"
    model = Settings.model_fields[section].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    assert key in model.model_fields, f"{name}: [{section}] has no key {key!r}"
    return section, key


def validate_schema(obj: dict[str, Any]) -> None:
    """Strict validation against the Kubernetes OpenAPI schema (unknown fields are errors)."""
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        raise AssertionError(f"{obj['kind']}/{obj['metadata'].get('name')}: {path}: {exc.message}") from None


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def the_container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, "AfterClose runs as the pod's only container"
    return containers[0]


def port_number(container: dict[str, Any], port: int | str) -> int:
    """A probe's or Service's port (a number or a container port's name) as a number."""
    if isinstance(port, int):
        return port
    named = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    assert named, f"no container port named {port!r}"
    return named[0]


def mounted_files(workload: dict[str, Any], secrets: dict[str, dict[str, Any]],
                  config_maps: dict[str, dict[str, Any]]) -> dict[str, bytes]:
    """Path -> content of every file the pod's Secret and ConfigMap volumes put in its container."""
    volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
    files: dict[str, bytes] = {}
    for mount in the_container(workload).get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "secret" in volume:
            data = {k: base64.b64decode(v) for k, v in secrets[volume["secret"]["secretName"]]["data"].items()}
        elif "configMap" in volume:
            data = {k: v.encode() for k, v in config_maps[volume["configMap"]["name"]]["data"].items()}
        else:
            continue
        for key, content in data.items():
            files[str(Path(mount["mountPath"]) / key)] = content
    return files
