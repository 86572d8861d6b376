"""What the deployment tests share: the Dockerfile as the image builder reads it, the container
config, and the Kubernetes manifests rendered by the real kustomize (the one built into kubectl,
installed by the `test` extra) into plain objects.

The linters and kubectl come as binary wheels; on a platform without a wheel their tests skip and
say so, except under CI=true, where a missing tool fails the run (CI must never go green by not
checking)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "docs" / "kubernetes"
CONTAINER_CONFIG = K8S / "base" / "afterclose.toml"
VARIANTS = ("base", "cronjob", "postgres")
KUBERNETES_VERSION = "1.33"
"""The oldest Kubernetes the manifests are validated against: CronJob timeZone and Job
podFailurePolicy are stable (GA) there, and it is still within the project's support window."""

SECRET_FILES = {"base/hubspot_token": "pat-na1-deploy-test\n",
                "postgres/state_url": "postgresql+psycopg://afterclose:pw@db.internal:5432/afterclose\n"}
"""What a user creates next to the kustomizations before `kubectl apply -k` (never committed)."""


def package_version() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def dockerfile(**build_args: str) -> DockerfileParser:
    """The Dockerfile as `docker build` reads it; ``build_args`` as ``--build-arg``."""
    parser = DockerfileParser(str(REPO / "Dockerfile"), cache_content=True, build_args=build_args or None)
    return parser


def instructions(name: str) -> list[str]:
    """The values of every ``name`` instruction (e.g. "EXPOSE"), in order, over all stages."""
    return [item["value"] for item in dockerfile().structure if item["instruction"] == name.upper()]


def final_stage(name: str) -> list[str]:
    """The values of ``name`` instructions in the last stage (the image that runs)."""
    structure = dockerfile().structure
    last_from = max(i for i, item in enumerate(structure) if item["instruction"] == "FROM")
    return [item["value"] for item in structure[last_from:] if item["instruction"] == name.upper()]


def container_config() -> dict[str, Any]:
    return tomllib.loads(CONTAINER_CONFIG.read_text())


def tool(name: str) -> Path:
    """A binary the `test` extra installs next to this Python (hadolint, kubectl)."""
    found = Path(sys.executable).parent / name
    if found.is_file():
        return found
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    message = (f"{name} is not installed: the `test` extra installs it from a binary wheel, which "
               f"exists for Linux x86_64/aarch64 and macOS; run `make test` on one of those")
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true requires {name}: {message}", pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class Rendered:
    """One kustomization as `kubectl apply -k` would send it."""

    variant: str
    objects: list[dict[str, Any]]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [o for o in self.objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
        assert len(found) == 1, f"{self.variant}: expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def kinds(self) -> list[str]:
        return sorted(o["kind"] for o in self.objects)


def copy_with_secrets(destination: Path, *, secrets: bool = True) -> Path:
    """docs/kubernetes copied to ``destination``, with the secret files a user would create."""
    tree = destination / "kubernetes"
    shutil.copytree(K8S, tree)
    if secrets:
        for relative, content in SECRET_FILES.items():
            (tree / relative).write_text(content)
    return tree


def kustomize(directory: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(tool("kubectl")), "kustomize", str(directory)], capture_output=True, text=True,
                          timeout=60, env={"PATH": os.environ.get("PATH", ""), "HOME": str(directory)})


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> dict[str, Rendered]:
    tree = copy_with_secrets(tmp_path_factory.mktemp("k8s"))
    result = {}
    for variant in VARIANTS:
        built = kustomize(tree / variant)
        assert built.returncode == 0, f"kubectl kustomize {variant} failed:\n{built.stderr}"
        result[variant] = Rendered(variant, [doc for doc in yaml.safe_load_all(built.stdout) if doc])
    return result
