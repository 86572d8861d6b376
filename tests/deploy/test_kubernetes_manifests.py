"""docs/kubernetes: every kustomization renders with the real kustomize, every object is valid by the
Kubernetes schema, and what the objects say about AfterClose is true: the config is valid settings,
the secret files it names are mounted, the command exists, the probes hit the port it serves on, the
hardening leaves it the places it writes to, and the CronJob's failure policy fits its exit codes."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest
import yaml

from jobs.config import Settings
from tests.deploy.checks import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_REJECTED,
    mounted_files,
    parse_command,
    pod_spec,
    port_number,
    setting_of_env,
    the_container,
    validate_schema,
)
from tests.deploy.conftest import (
    K8S,
    VARIANTS,
    container_config,
    copy_with_secrets,
    dockerfile,
    final_stage,
    kustomize,
    package_version,
)
from tests.deploy.readme import docker_run

WORKLOADS = {"base": ("Deployment", "afterclose"), "cronjob": ("CronJob", "afterclose"),
             "postgres": ("Deployment", "afterclose")}


def kustomization(variant: str) -> dict[str, Any]:
    return yaml.safe_load((K8S / variant / "kustomization.yaml").read_text())


def workload(rendered, variant: str) -> dict[str, Any]:
    return rendered[variant].one(*WORKLOADS[variant])


def by_name(rendered, variant: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in rendered[variant].objects if o["kind"] == kind}


def dockerfile_env() -> dict[str, str]:
    return dockerfile().envs


# ---------------------------------------------------------------------------------------------
# The files and the schema


@pytest.mark.parametrize("variant", VARIANTS)
def test_given_a_kustomization_then_every_file_it_names_exists_and_every_resource_file_is_schema_valid(variant):
    spec = kustomization(variant)
    folder = K8S / variant
    for entry in spec.get("resources", []):
        target = folder / entry
        assert target.exists(), f"{variant}/kustomization.yaml: resources: {entry} does not exist"
        if target.is_dir():
            assert (target / "kustomization.yaml").is_file(), f"{entry} is a folder without a kustomization.yaml"
            continue
        for document in yaml.safe_load_all(target.read_text()):
            validate_schema(document)
    for patch in spec.get("patches", []):
        if "path" in patch:
            assert (folder / patch["path"]).is_file(), f"{variant}: patch {patch['path']} does not exist"
    ignored = (folder / ".gitignore").read_text().split() if (folder / ".gitignore").exists() else []
    for generator in spec.get("configMapGenerator", []) + spec.get("secretGenerator", []):
        for entry in generator.get("files", []):
            source = entry.partition("=")[2] or entry
            if generator in spec.get("secretGenerator", []):
                # The user creates secret files; the folder's .gitignore keeps them out of git.
                assert source in ignored, f"{variant}: secret file {source} is not in {variant}/.gitignore"
            else:
                assert (folder / source).is_file(), f"{variant}: {source} does not exist"


@pytest.mark.parametrize("variant", VARIANTS)
def test_given_a_kustomization_when_rendered_then_every_object_is_valid_by_the_kubernetes_schema(rendered, variant):
    assert rendered[variant].objects
    for obj in rendered[variant].objects:
        validate_schema(obj)


def test_given_a_misspelled_field_then_the_schema_check_refuses_it(rendered):
    deployment = workload(rendered, "base")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 1}}
    with pytest.raises(AssertionError, match="replica"):
        validate_schema(broken)


def test_given_no_token_file_when_rendering_then_kustomize_refuses_so_no_placeholder_reaches_the_cluster(tmp_path):
    tree = copy_with_secrets(tmp_path, secrets=False)
    result = kustomize(tree / "base")
    assert result.returncode != 0 and "hubspot_token" in result.stderr


def test_given_the_variants_then_each_renders_the_objects_it_promises(rendered):
    assert rendered["base"].kinds() == ["ConfigMap", "Deployment", "PersistentVolumeClaim", "Secret", "Service"]
    assert rendered["cronjob"].kinds() == ["ConfigMap", "CronJob", "PersistentVolumeClaim", "Secret"]
    assert rendered["postgres"].kinds() == ["ConfigMap", "Deployment", "Secret", "Service"]


# ---------------------------------------------------------------------------------------------
# What the pod runs


@pytest.mark.parametrize("variant", VARIANTS)
def test_given_the_pod_then_its_command_is_a_real_afterclose_command_reading_the_mounted_config(rendered, variant):
    container = the_container(workload(rendered, variant))
    assert container["command"] == json.loads(final_stage("ENTRYPOINT")[0])
    config_path = dockerfile_env()["AFTERCLOSE_CONFIG"]
    params = parse_command(container["args"], config_env=config_path)
    assert str(params["config_path"]) == config_path
    expected = {"base": ["serve"], "postgres": ["serve"], "cronjob": ["run", "--job", "all", "--rejected-ok"]}[variant]
    assert container["args"] == expected


@pytest.mark.parametrize("variant", VARIANTS)
def test_given_the_pod_then_the_config_it_mounts_is_valid_settings_with_the_mounted_secrets(
        rendered, variant, tmp_path, monkeypatch):
    pod = workload(rendered, variant)
    container = the_container(pod)
    files = mounted_files(pod, by_name(rendered, variant, "Secret"), by_name(rendered, variant, "ConfigMap"))
    config_path = dockerfile_env()["AFTERCLOSE_CONFIG"]
    assert config_path in files, f"nothing mounted at {config_path} (AFTERCLOSE_CONFIG)"
    config = tomllib.loads(files[config_path].decode())
    env = {e["name"]: e["value"] for e in container.get("env", [])}
    for name in env:
        setting_of_env(name)
    named = [path for section in config.values() if isinstance(section, dict)
             for key, path in section.items() if key.endswith("_file")]
    named += [value for name, value in env.items() if name.endswith("_FILE")]
    for path in named:
        assert path in files, f"{variant}: the settings name {path}, which the pod does not mount"
    # The pod's files laid out under tmp_path, and every path in the settings pointed there.
    for path, content in files.items():
        (tmp_path / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path.lstrip("/")).write_bytes(content)
    relocated = {name: {k: str(tmp_path / v.lstrip("/")) if k.endswith("_file") else v for k, v in section.items()}
                 if isinstance(section, dict) else section for name, section in config.items()}
    for name, value in env.items():
        monkeypatch.setenv(name, str(tmp_path / value.lstrip("/")) if name.endswith("_FILE") else value)
    settings = Settings.from_mapping(relocated, source=f"{variant} ConfigMap")
    assert settings.hubspot.access_token.get_secret_value() == "pat-na1-deploy-test"
    if variant == "postgres":
        assert settings.state.url.get_secret_value().startswith("postgresql+psycopg://")
    else:
        assert settings.state.url.get_secret_value().startswith("sqlite:///")


@pytest.mark.parametrize("variant", ["base", "postgres"])
def test_given_serve_then_its_probes_and_service_hit_the_port_the_config_serves_on(rendered, variant):
    pod = workload(rendered, variant)
    container = the_container(pod)
    server = container_config()["server"]
    assert server["host"] == "0.0.0.0", "probes and the Service reach the pod's IP, not its loopback"
    readiness, liveness = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
    assert readiness["path"] == "/healthz" and port_number(container, readiness["port"]) == server["port"]
    # /metrics answers while the process serves at all; /healthz would restart the pod on a CRM outage.
    assert liveness["path"] == "/metrics" and port_number(container, liveness["port"]) == server["port"]
    assert f"EXPOSE {server['port']}" in [f"EXPOSE {v}" for v in final_stage("EXPOSE")]
    service = rendered[variant].one("Service", "afterclose")
    assert all(service["spec"]["selector"][k] == v for k, v in pod["spec"]["template"]["metadata"]["labels"].items()
               if k in service["spec"]["selector"])
    assert port_number(container, service["spec"]["ports"][0]["targetPort"]) == server["port"]
    assert service["metadata"]["annotations"]["prometheus.io/port"] == str(server["port"])
    assert service["spec"]["publishNotReadyAddresses"] is True


@pytest.mark.parametrize("variant", VARIANTS)
def test_given_the_pod_then_it_is_hardened_and_writes_only_to_its_volumes(rendered, variant):
    pod = workload(rendered, variant)
    spec, container = pod_spec(pod), the_container(pod)
    uid = int(final_stage("USER")[0].partition(":")[0])
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
                                       "fsGroupChangePolicy": "OnRootMismatch",
                                       "seccompProfile": {"type": "RuntimeDefault"}}
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert spec["automountServiceAccountToken"] is False and spec["enableServiceLinks"] is False
    volumes = {v["name"]: v for v in spec["volumes"]}
    writable = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"] if not m.get("readOnly")}
    # The only writable place is the state volume (test_read_only_root.py runs AfterClose so).
    workdir = final_stage("WORKDIR")[-1]
    if variant == "postgres":
        assert writable == {}, "PostgreSQL needs no state volume"
    else:
        # The default SQLite file, .afterclose/state.db, is relative to the working directory.
        assert list(writable) == [workdir]
        assert writable[workdir]["persistentVolumeClaim"]["claimName"] == "afterclose-state"
    for volume in volumes.values():
        if "secret" in volume:
            assert volume["secret"]["defaultMode"] == 0o440, "owner and fsGroup may read the secret, nobody else"
    assert container["resources"]["limits"]["memory"] and container["resources"]["requests"]["memory"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_given_the_pod_then_it_runs_the_package_version_of_the_image(rendered, variant):
    assert the_container(workload(rendered, variant))["image"] == f"afterclose:{package_version()}"


# ---------------------------------------------------------------------------------------------
# Stopping, replicas, and the CronJob's failure policy


@pytest.mark.parametrize("variant", VARIANTS)
def test_given_sigterm_finishes_the_current_page_then_every_pod_waits_as_long_as_docker_is_told_to(rendered, variant):
    grace = pod_spec(workload(rendered, variant))["terminationGracePeriodSeconds"]
    assert grace == int(docker_run().option("--stop-timeout")) == 60


def test_given_sqlite_state_then_serve_is_one_pod_replaced_by_recreate(rendered):
    deployment = workload(rendered, "base")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_given_postgresql_state_then_two_replicas_roll_and_no_volume_claim_is_left(rendered):
    deployment = workload(rendered, "postgres")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    claims = [v for v in pod_spec(deployment)["volumes"] if "persistentVolumeClaim" in v]
    assert claims == []


def failure_action(job_spec: dict[str, Any], *, exit_code: int | None = None, condition: str | None = None,
                   container: str = "afterclose") -> str:
    """What the Job controller does with a failed pod: the first matching rule, else Count."""
    for rule in job_spec["podFailurePolicy"]["rules"]:
        on_exit = rule.get("onExitCodes")
        ours = on_exit and exit_code is not None and on_exit.get("containerName", container) == container
        if ours and (exit_code in on_exit["values"]) == (on_exit["operator"] == "In"):
            return rule["action"]
        if condition and any(p["type"] == condition for p in rule.get("onPodConditions", [])):
            return rule["action"]
    return "Count"


def test_given_the_cronjob_then_runs_never_overlap_and_exit_codes_get_the_handling_they_need(rendered):
    cronjob = workload(rendered, "cronjob")
    job = cronjob["spec"]["jobTemplate"]["spec"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert pod_spec(cronjob)["restartPolicy"] == "Never", "a pod failure policy requires restartPolicy Never"
    # Ignore would start a replacement pod at once (the API's definition of Ignore); for these the
    # replacement meets the same config or lock: the Job ends instead.
    for code in (EXIT_CONFIG, EXIT_LOCKED):
        assert failure_action(job, exit_code=code) == "FailJob", code
    # A run whose only problem is records the CRM refused is no failed Job: it exits 0.
    assert "--rejected-ok" in the_container(cronjob)["args"]
    assert EXIT_REJECTED not in job["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"]
    assert failure_action(job, exit_code=EXIT_FAILED) == "Count" and job["backoffLimit"] >= 1
    assert failure_action(job, exit_code=137) == "Count"  # killed (out of memory)
    assert failure_action(job, condition="DisruptionTarget") == "Ignore"
    assert job["activeDeadlineSeconds"] > 0
    # The API's rules for exit-code lists, which the schema does not state: ordered, no duplicates,
    # no 0 with In, and the container named must exist.
    for rule in job["podFailurePolicy"]["rules"]:
        if on_exit := rule.get("onExitCodes"):
            assert on_exit["values"] == sorted(set(on_exit["values"])) and 0 not in on_exit["values"]
            assert on_exit["containerName"] == the_container(cronjob)["name"]


def test_given_the_cronjob_then_its_schedule_is_valid_cron(rendered):
    from apscheduler.triggers.cron import CronTrigger

    cronjob = workload(rendered, "cronjob")
    trigger = CronTrigger.from_crontab(cronjob["spec"]["schedule"], timezone=cronjob["spec"]["timeZone"])
    assert str(trigger.timezone) == cronjob["spec"]["timeZone"]
