"""The README's "Deployment" section read as a shell would: its commands as words, and its
`docker run` line as options, image and arguments."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from tests.deploy.conftest import REPO

DOCKER_RUN_VALUED = {"--name", "--stop-timeout", "--group-add", "-v", "-p", "-e"}
DOCKER_RUN_FLAGS = {"-d"}


def section() -> str:
    text = (REPO / "README.md").read_text()
    start = text.index("## Deployment\n")
    return text[start:text.index("\n## ", start + 1)]


def shell_lines() -> list[list[str]]:
    """The section's shell block as commands (words), comments and line continuations gone;
    ``(a && b)`` gives two commands."""
    commands: list[list[str]] = []
    for line in shell_block().replace("\\\n", " ").splitlines():
        if line.startswith("("):  # a subshell: its commands, in order
            line = line[1:].replace(")", " ", 1)
        current: list[str] = []
        for word in shlex.split(line, comments=True) + ["&&"]:
            if word != "&&":
                current.append(word)
            elif current:
                commands.append(current)
                current = []
    return commands


def shell_block() -> str:
    return re.search(r"```sh\n(.*?)```", section(), re.S).group(1)


def command(*prefix: str) -> list[str]:
    found = [c for c in shell_lines() if c[:len(prefix)] == list(prefix)]
    assert len(found) == 1, f"expected one `{' '.join(prefix)}` line in the README's Deployment section"
    return found[0]


def raw_line(*prefix: str) -> str:
    """The shell line holding ``prefix``, exactly as written (comment and all)."""
    found = [line for line in shell_block().splitlines() if " ".join(prefix) in line]
    assert len(found) == 1, f"expected one line with `{' '.join(prefix)}`"
    return found[0]


@dataclass
class DockerRun:
    options: dict[str, list[str]] = field(default_factory=dict)
    image: str = ""
    args: list[str] = field(default_factory=list)

    def option(self, name: str) -> str:
        values = self.options.get(name, [])
        assert len(values) == 1, f"docker run: expected one {name}, found {values}"
        return values[0]

    def mounts(self) -> dict[str, str]:
        """Container path -> host path (or volume name) of every -v."""
        parsed = [v.split(":") for v in self.options.get("-v", [])]
        return {parts[1]: parts[0] for parts in parsed}


def docker_run() -> DockerRun:
    words = command("docker", "run")[2:]
    run = DockerRun()
    while words and words[0].startswith("-"):
        name = words.pop(0)
        assert name in DOCKER_RUN_VALUED | DOCKER_RUN_FLAGS, f"docker run {name}: not an option this test knows"
        run.options.setdefault(name, []).append(words.pop(0) if name in DOCKER_RUN_VALUED else "")
    run.image, run.args = words[0], words[1:]
    return run
