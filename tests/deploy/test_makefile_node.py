"""`make test` gets Node.js and npm for the jsforce suite before `npm ci` needs them.

The Makefile's ``node`` step is run for real, with PATH narrowed to a directory of stand-ins
(``node``, ``npm``, ``apt-get``, ``sudo``, ``id``) that record how they were called: nothing happens
when both are there; otherwise Debian's ``nodejs`` and ``npm`` are installed with apt-get as root,
else through sudo; with neither, it says how to get them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def _make() -> str:
    make = shutil.which("make")
    if make is None:
        pytest.fail("`make` is not on PATH: the project's two commands (`make demo`, `make test`) need it")
    return make


def _stand_ins(tmp_path: Path, *, present: tuple[str, ...], uid: int = 1000) -> tuple[Path, Path]:
    """A bin directory holding only ``present`` (each logging its arguments) plus ``id``."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    for name in present:
        script = bin_dir / name
        # sudo runs what it is given, taking VAR=value words first as the real one does.
        body = ('while case "$1" in *=*) export "$1";; *) false;; esac; do shift; done\n"$@"'
                if name == "sudo" else ":")
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n{body}\n')
        script.chmod(0o755)
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (bin_dir / "id").chmod(0o755)
    return bin_dir, log


def _node_step(bin_dir: Path) -> subprocess.CompletedProcess:
    env = {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([_make(), "--no-print-directory", "-C", str(ROOT), "node"], env=env,
                          capture_output=True, text=True, timeout=60)


def _calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_given_node_and_npm_then_the_step_does_nothing_and_says_nothing(tmp_path):
    bin_dir, log = _stand_ins(tmp_path, present=("node", "npm", "apt-get", "sudo"))
    done = _node_step(bin_dir)
    assert done.returncode == 0, done.stderr
    assert (done.stdout, _calls(log)) == ("", [])


def test_given_no_node_as_root_then_apt_get_installs_debians_nodejs_and_npm(tmp_path):
    bin_dir, log = _stand_ins(tmp_path, present=("apt-get",), uid=0)
    done = _node_step(bin_dir)
    assert done.returncode == 0, done.stderr
    assert _calls(log) == ["apt-get update -qq", "apt-get install -y -qq nodejs npm"]


def test_given_no_node_and_not_root_then_installed_through_sudo(tmp_path):
    bin_dir, log = _stand_ins(tmp_path, present=("apt-get", "sudo"))
    done = _node_step(bin_dir)
    assert done.returncode == 0, done.stderr
    assert _calls(log) == ["sudo apt-get update -qq", "apt-get update -qq",
                           "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm",
                           "apt-get install -y -qq nodejs npm"]


def test_given_no_node_and_no_apt_get_then_it_says_what_the_jsforce_suite_needs(tmp_path):
    bin_dir, log = _stand_ins(tmp_path, present=())
    done = _node_step(bin_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "note: no Node.js/npm and no apt-get; the jsforce suite needs Node.js 18+ and npm"


def test_given_no_node_no_root_and_no_sudo_then_it_names_the_debian_packages(tmp_path):
    bin_dir, log = _stand_ins(tmp_path, present=("apt-get",))
    done = _node_step(bin_dir)
    assert done.returncode == 0, done.stderr
    assert _calls(log) == []
    assert "install Debian's nodejs and npm packages" in done.stdout


def test_given_make_test_then_node_is_there_before_npm_ci_and_the_suite():
    plan = subprocess.run([_make(), "--no-print-directory", "-C", str(ROOT), "-n", "-B", "test"],
                          capture_output=True, text=True, timeout=60).stdout
    node, npm_ci, suite = plan.find("command -v node"), plan.find("npm ci"), plan.find("-m pytest")
    assert -1 < node < npm_ci < suite, plan
