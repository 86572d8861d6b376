"""Exit codes: the one place they are defined (schedulers, scripts and the docs rely on them)."""

from __future__ import annotations

from enum import IntEnum

from connector.errors import AfterCloseError, AuthError, ConfigError, LockHeldError, TlsError
from jobs.state import StateStoreError


class ExitCode(IntEnum):
    OK = 0
    REJECTED = 1
    CONFIG = 2
    LOCKED = 3
    FAILED = 4
    INTERRUPTED = 130


MEANING = {
    ExitCode.OK: "everything written",
    ExitCode.REJECTED: "finished; some records rejected or NPS rows not usable (listed, kept, retried next run)",
    ExitCode.CONFIG: "config, mapping, credential or unreachable-CRM problem; nothing written",
    ExitCode.LOCKED: "another run holds the lock",
    ExitCode.FAILED: "stopped on a CRM outage, the quota or an internal failure; the next run resumes",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}
HELP = "\b\nExit codes:\n" + "\n".join(
    f"  {code.value}  {MEANING[code]}" for code in ExitCode if code is not ExitCode.INTERRUPTED)


class CommandFailed(AfterCloseError):
    """A failure already explained in the user's terms, with the exit code it deserves."""

    def __init__(self, message: str, exit_code: ExitCode):
        super().__init__(message)
        self.exit_code = exit_code


def exit_code_of(exc: BaseException) -> ExitCode:
    """2 and 3 are promises (nothing written / someone else is running); everything else that
    stops a command half-way is 4, never 1, which means "finished, some records rejected"."""
    if isinstance(exc, CommandFailed):
        return exc.exit_code if exc.exit_code in (ExitCode.CONFIG, ExitCode.LOCKED) else ExitCode.FAILED
    if isinstance(exc, LockHeldError):
        return ExitCode.LOCKED
    if isinstance(exc, ConfigError | AuthError | StateStoreError | TlsError):
        return ExitCode.CONFIG
    return ExitCode.FAILED
