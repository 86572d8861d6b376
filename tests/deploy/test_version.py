"""One version everywhere: the package, `afterclose --version`, the image label's default, the
image tag the manifests deploy and the changelog's newest release."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from jobs.cli import cli
from tests.cli.conftest import cli_env
from tests.deploy.conftest import K8S, REPO, dockerfile, package_version

CHANGELOG = REPO / "docs" / "CHANGELOG.md"


def test_given_version_option_then_the_command_prints_the_package_version():
    result = CliRunner().invoke(cli, ["--version"], prog_name="afterclose")
    assert result.exit_code == 0 and result.output.strip() == f"afterclose, version {package_version()}"
    module = subprocess.run([sys.executable, "-m", "jobs", "--version"], capture_output=True, text=True,
                            timeout=60, env=cli_env())
    assert module.returncode == 0 and module.stdout.strip().endswith(f", version {package_version()}")


def test_given_the_installed_console_script_then_it_prints_the_same_version():
    script = Path(sys.executable).parent / "afterclose"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"afterclose, version {package_version()}"


def test_given_the_image_and_the_manifests_then_they_carry_the_package_version():
    assert dockerfile().args["VERSION"] == package_version()
    for variant in ("base", "cronjob"):
        images = yaml.safe_load((K8S / variant / "kustomization.yaml").read_text())["images"]
        assert images == [{"name": "afterclose", "newTag": package_version()}], variant


def test_given_the_changelog_then_it_keeps_an_unreleased_section_over_the_package_version():
    text = CHANGELOG.read_text()
    versions = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.M)
    assert versions[0] == ("Unreleased", "")
    newest, date = versions[1]
    assert newest == package_version() and date, "the newest release is the package version, dated"
    assert "keepachangelog.com" in text
    for heading in re.findall(r"^### (.+)$", text, re.M):
        assert heading in {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}, heading
