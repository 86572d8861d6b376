"""The screenshots in docs/console.md: `python -m tests.console.screenshots` (needs Chromium).

Runs the demo's story on a HubSpot sandbox (two runs, a refused owner), opens the console on it as
`afterclose demo --console` does, and photographs each page into docs/console/."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import tempfile
from pathlib import Path

from connector.mapping import builtin_mapping, load_mapping
from connector.sandbox.demo import demo_dataset
from connector.serving import serve_app
from jobs.cli.demo import write_demo_config
from jobs.config import Settings
from jobs.console.app import console_app
from jobs.console.auth import Gate
from jobs.console.context import ConsoleContext
from jobs.playbooks import build_playbooks
from jobs.scopes import resolve_scope
from jobs.state import open_store
from jobs.sync import SyncJob, run_sync
from jobs.wiring import address_of, wiring
from tests.console.test_browser import chromium_path

OUT = Path(__file__).resolve().parents[2] / "docs" / "console"
TOKEN = "screenshot-token-0123456789"


def _relative(config: Path) -> Path:
    """The demo config with its mapping and playbook files named relative to its folder."""
    text = config.read_text(encoding="utf-8").replace(f"{config.parent}{os.sep}", "")
    config.write_text(text, encoding="utf-8")
    return Path(config.name)


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.chdir(folder)  # the pages then name the files as an admin's own folder would: hubspot.toml
        sandbox = wiring("hubspot").new_sandbox("sandbox-token")
        sandbox.load(demo_dataset())
        with sandbox.serve() as endpoint:
            config = _relative(write_demo_config(endpoint, folder))
            settings = Settings.load(config)
            fieldmap = load_mapping(builtin_mapping("hubspot"))
            adapter = wiring("hubspot").build_adapter(settings, fieldmap)
            if hasattr(adapter, "setup"):
                adapter.setup()
            with open_store(settings.state.url) as store:
                scope = resolve_scope(store, adapter, provider="hubspot", address=address_of(settings))
                job = SyncJob(scope=scope, adapter=adapter, store=store, fieldmap=fieldmap,
                              playbook=build_playbooks(settings, fieldmap).set, clock=lambda: dt.datetime.now(dt.UTC))
                run_sync(job)
                store.reset_cursor(scope, "sync")  # the preview then has every deal to show
                ctx = ConsoleContext(config_path=config, store=store, gate=Gate.of(settings.console, TOKEN))
                with serve_app(console_app(ctx), host="127.0.0.1", port=0) as port, sync_playwright() as pw:
                    browser = pw.chromium.launch(executable_path=chromium_path())
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    url = f"http://127.0.0.1:{port}"
                    page.goto(f"{url}/signin")
                    page.screenshot(path=str(OUT / "signin.png"))
                    page.fill("input[name=name]", "Ada Admin")
                    page.fill("input[name=token]", TOKEN)
                    page.click("button[type=submit]")
                    picker = page.get_by_label("CRM field for fields.renewal_date")
                    picker.fill("dealname")
                    picker.dispatch_event("change")
                    page.locator("#verdict-fields-renewal_date [data-verdict]").wait_for()
                    page.screenshot(path=str(OUT / "mappings.png"), full_page=False)
                    for name, path in (("playbooks", "/playbooks"), ("preview", "/preview?q=Oceanic Air - Expansion"),
                                       ("runs", "/runs"), ("scorecard", "/scorecard")):
                        page.goto(url + path)
                        page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)
                    browser.close()
            adapter.close()
    print(f"screenshots in {OUT}")
    return 0


if __name__ == "__main__":
    if shutil.which("chromium") is None and chromium_path() is None:
        sys.exit("no Chromium: apt-get install chromium")
    sys.exit(main())
