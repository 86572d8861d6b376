"""The ``afterclose`` command line."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="afterclose")
def cli() -> None:
    """AfterClose: keeps selling after the close, inside HubSpot or Salesforce."""


def main() -> None:
    cli()
