"""Structured logs, and secrets that never leave: a canary in every credential field is grepped for
in every output, the metrics, the health answer and the state database."""

from __future__ import annotations

import io
import json
import logging
import signal

import pytest

from jobs import logs
from tests.cli.conftest import invoke, start_cli
from tests.cli.test_serve import free_port, get, wait_until

CANARY = "canary-5e1f0c7a9b"
"""The sandbox's real token: the runs succeed with it, so every code path that sees it is exercised."""
OTHER_CANARIES = (f"{CANARY}-client-secret", f"{CANARY}-refresh", f"{CANARY}-password", f"{CANARY}-sectoken",
                  f"{CANARY}-consumer")
WRONG_CANARY = "canary-wrong-77d3e1"


def canary_connection(crm, token: str = CANARY) -> str:
    """Every credential key of the provider holds a canary; the access token is the working one."""
    if crm.provider == "hubspot":
        return (f'[hubspot]\nbase_url = "{crm.endpoint.base_url}"\naccess_token = "{token}"\n'
                f'client_id = "afterclose-app"\nclient_secret = "{OTHER_CANARIES[0]}"\n'
                f'refresh_token = "{OTHER_CANARIES[1]}"\nsettle_seconds = 0\n')
    return (f'[salesforce]\ninstance_url = "{crm.endpoint.base_url}"\naccess_token = "{token}"\n'
            f'ca_bundle = "{crm.endpoint.ca_path}"\nusername = "integration@example.com"\n'
            f'password = "{OTHER_CANARIES[2]}"\nsecurity_token = "{OTHER_CANARIES[3]}"\n'
            f'consumer_key = "afterclose-app"\nconsumer_secret = "{OTHER_CANARIES[4]}"\n')


def assert_no_canary(text: str | bytes, where: str) -> None:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    for secret in (CANARY, WRONG_CANARY, *OTHER_CANARIES):
        assert secret not in text, f"{secret} leaked into {where}"


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_given_canary_in_every_credential_then_no_output_log_or_state_row_contains_it(open_crm, provider):
    crm = open_crm(provider, token=CANARY)
    config = crm.config(connection=canary_connection(crm))
    outputs = {}
    for args in (["setup"], ["check"], ["plan"], ["plan", "--format", "json"], ["run"], ["run"],
                 ["status"], ["status", "--format", "json"]):
        result = invoke(*args, "--config", config)
        assert result.exit_code in (0, 1), result.stderr
        outputs[" ".join(args)] = result.stdout + result.stderr
    assert "run_finished" in outputs["run"]  # the log events were there to be grepped

    crm.sandbox.controls.add_fault("server_error", endpoint="*", count=50)  # a failing run: exception text
    outputs["failed run"] = (failed := invoke("run", "--config", config)).stdout + failed.stderr
    assert failed.exit_code == 4
    crm.sandbox.controls.clear_faults()
    wrong = crm.config(connection=canary_connection(crm, WRONG_CANARY), name="wrong.toml")
    outputs["bad credentials"] = (refused := invoke("run", "--config", wrong)).stdout + refused.stderr
    assert refused.exit_code == 2

    for command, text in outputs.items():
        assert_no_canary(text, f"the output of `afterclose {command}`")
    for path in crm.tmp.glob("state.db*"):
        assert_no_canary(path.read_bytes(), f"the state database ({path.name})")


def test_given_canary_token_when_serving_then_metrics_health_and_logs_do_not_contain_it(open_crm):
    crm = open_crm("hubspot", token=CANARY)
    port = free_port()
    config = crm.config(f'[schedule]\nsync = "0 0 1 1 *"\n[server]\nport = {port}\n',
                        connection=canary_connection(crm))
    assert invoke("setup", "--config", config).exit_code == 0
    server = start_cli("serve", "--config", config, "--run-now")
    try:
        health = wait_until(lambda: (r := get(port, "/healthz")) is not None and r.json()["last_runs"] and r,
                            what="the first run")
        metrics = get(port, "/metrics").text
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
    assert "afterclose_api_calls_total" in metrics
    for text, where in ((metrics, "/metrics"), (health.text, "/healthz"), (out + err, "the serve output")):
        assert_no_canary(text, where)


def test_given_piped_run_then_log_is_json_with_one_event_per_run_and_per_rejected_record(hubspot):
    config = hubspot.config()
    invoke("setup", "--config", config)
    result = invoke("run", "--config", config)
    logged = [json.loads(line) for line in result.stderr.splitlines()]
    runs = [e for e in logged if e["event"] == "run_finished"]
    assert len(runs) == 1
    assert runs[0]["job"] == "sync" and runs[0]["outcome"] == "rejected" and runs[0]["api_calls"] > 0
    assert runs[0]["records"]["created"] > 100 and runs[0]["rejected"] == 9
    rejected = [e for e in logged if e["event"] == "record_rejected"]
    assert len(rejected) == 9 and all("correlation_id" in e and e["deal_id"] and e["key"] for e in rejected)
    assert all(e["level"] and e["timestamp"] for e in logged)
    assert "record_rejected" not in result.stdout  # logs never mix into the command's output


def test_given_secret_in_event_exception_and_library_record_then_each_is_masked():
    stream = io.StringIO()
    logs.configure("info", "json", stream=stream)
    logs.register_secrets(["s3cr3t-token-value"])
    try:
        raise RuntimeError("the CRM echoed s3cr3t-token-value back")
    except RuntimeError:
        logs.get_logger("afterclose").error("call_failed", detail={"auth": "Bearer s3cr3t-token-value"},
                                            exc_info=True)
    logging.getLogger("simple_salesforce").warning("retrying with s3cr3t-token-value")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["event"] for e in lines] == ["call_failed", "retrying with ***"]
    assert lines[0]["detail"] == {"auth": "Bearer ***"} and "Traceback" in lines[0]["exception"]
    assert "s3cr3t-token-value" not in stream.getvalue()


def test_given_a_terminal_then_log_lines_are_readable_not_json():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    logs.configure("info", "auto", stream=stream)
    logs.get_logger("afterclose").info("run_finished", job="sync")
    line = stream.getvalue().strip()
    assert "run_finished" in line and "job=sync" in line and not line.startswith("{")
