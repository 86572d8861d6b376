"""`afterclose setup`: create AfterClose's own CRM fields and grant access to them where the API
and the integration user's permissions allow, or write them as a package an admin deploys; then
describe the CRM again and list what is still missing (exit 2 while anything is)."""

from __future__ import annotations

from pathlib import Path

import click

from connector.mapping import FieldMap
from connector.port import CrmAdapter, SupportsPermissions, SupportsSetup, SupportsSetupPackage
from jobs.cli.exits import CommandFailed, ExitCode
from jobs.cli.output import echo, echo_err
from jobs.cli.run import JOBS
from jobs.cli.runtime import load_runtime
from jobs.schema_fit import JobFit, fit


def setup_command(config_path: Path, package_dir: Path | None = None) -> int:
    runtime = load_runtime(config_path)
    if package_dir is not None and package_dir.exists() and not package_dir.is_dir():
        raise CommandFailed(f"--write-package {package_dir}: is a file; name a directory (it is created if "
                            "missing)", ExitCode.CONFIG)
    with runtime.crm() as session:
        adapter = session.adapter
        if package_dir is not None:
            if not isinstance(adapter, SupportsSetupPackage):
                raise CommandFailed(f"--write-package is for Salesforce; on {runtime.provider.value} `afterclose "
                                    "setup` creates the fields itself", ExitCode.CONFIG)
            try:
                lines = adapter.write_setup_package(package_dir)
            except OSError as error:
                raise CommandFailed(f"--write-package {package_dir}: cannot write there ({error.strerror or error}); "
                                    "name a directory this user may write", ExitCode.CONFIG) from None
        elif isinstance(adapter, SupportsSetup):
            lines = adapter.setup()
        else:
            raise CommandFailed(f"the {runtime.provider.value} adapter cannot set up fields", ExitCode.CONFIG)
        session.reached = True
        missing, notes, adapter_fits = still_missing(adapter, runtime.fieldmap)
    for line in lines:
        echo(line)
    for line in notes:
        echo(line)
    if missing:
        click.echo(f"Still missing in the {runtime.provider.value} CRM (described again after setup); AfterClose "
                   "will not run until each is fixed:", err=True)
        for line in missing:
            echo_err(f"  {line}")
        return ExitCode.CONFIG
    skipped = optional_missing(adapter_fits)
    if skipped:
        # Said as it is: the jobs can run, but not every field the mapping names is there.
        jobs = sorted({job for _, job in skipped})
        echo(f"ok: every field the jobs need exists and is usable; {len(skipped)} optional target(s) missing: "
             f"{', '.join(target for target, _ in skipped)} (the {' and '.join(jobs)} job skips them); "
             "`afterclose check` checks the rest")
        return ExitCode.OK
    echo(f"ok: every field the mapping {runtime.fieldmap.source} names exists and is usable; "
         "`afterclose check` checks the rest")
    return ExitCode.OK


def optional_missing(fits: list[JobFit]) -> list[tuple[str, str]]:
    """The optional targets the runs will skip, as (CRM field, job), each field once."""
    seen: dict[str, str] = {}
    for job_fit in fits:
        for skipped in job_fit.skipped:
            seen.setdefault(skipped.crm_field, job_fit.job)
    return list(seen.items())


def still_missing(adapter: CrmAdapter, fieldmap: FieldMap) -> tuple[list[str], list[str], list[JobFit]]:
    """What the mapping needs and the CRM, described afresh, does not have: every problem that
    blocks a job (AfterClose's own fields and the admin's alike, for every job, configured or
    not) and every missing permission; and, not blocking, the compatible pairs that differ and
    the optional targets the runs will skip (jobs/schema_fit.py, one code path with `check`)."""
    found = adapter.check_schema()
    fits = [fit(found, fieldmap, job) for job in JOBS]
    problems = list(dict.fromkeys(p for job_fit in fits for p in job_fit.blocking))
    lines = [f"mapping key {p.mapping_key} -> CRM field {p.crm_field}: {p.problem}" for p in problems]
    skipped = dict.fromkeys(f"optional target {s} (the {job_fit.job} job skips it and reports it)"
                            for job_fit in fits for s in job_fit.skipped)
    notes = [*skipped, *dict.fromkeys(f"note: mapping key {p.mapping_key} -> CRM field {p.crm_field}: {p.problem}"
                                      for job_fit in fits for p in job_fit.notes)]
    if isinstance(adapter, SupportsPermissions):
        # A field that is missing altogether is named once, above, not again as "read" missing.
        named = {p.crm_field for p in problems}
        lines += [f"missing permission: {p}" for p in adapter.missing_permissions() if p.split(":")[0] not in named]
    return lines, notes, fits
