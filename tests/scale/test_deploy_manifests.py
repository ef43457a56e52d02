"""The Kubernetes path, validated offline: the files under deploy/ against the schemas that will read them.

- run_config_k8s.yaml against the config schema of a job of this code location with dagster-k8s's
  k8s_job_executor, and its container and pod fragments against the Kubernetes client's models;
- dagster.yaml against Dagster's instance schema and K8sRunLauncher's config schema;
- values.yaml: the user deployment loads this code location, and every resources block is a valid
  Kubernetes ResourceRequirements.
"""

from __future__ import annotations

import importlib
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster._config import process_config

from hotelcap_pipeline.definitions import defs
from hotelcap_pipeline.settings import PROJECT_ROOT

dagster_k8s = pytest.importorskip("dagster_k8s", reason="dagster-k8s is not installed")
kubernetes = pytest.importorskip("kubernetes", reason="the kubernetes client is not installed")
from dagster_k8s.models import k8s_model_from_dict  # noqa: E402

DEPLOY = PROJECT_ROOT / "deploy"
GPU_STEPS = {"image_embeddings", "diffusion_edits"}


def load(name: str) -> Any:
    return yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))


def k8s_job() -> dg.JobDefinition:
    """The whole graph as a job of this code location that runs every step in its own pod."""
    job = dg.define_asset_job("k8s_validation", selection=dg.AssetSelection.all() - dg.AssetSelection.groups("inputs"),
                              executor_def=dagster_k8s.k8s_job_executor)
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def("k8s_validation")


def test_run_config_k8s_is_valid_for_the_k8s_executor():
    run_config = load("run_config_k8s.yaml")
    dg.validate_run_config(k8s_job(), run_config)  # raises DagsterInvalidConfigError naming the field

    execution = run_config["execution"]["config"]
    steps = {"*": execution["step_k8s_config"], **execution["per_step_k8s_config"]}
    assets = {k.to_user_string() for k in defs.resolve_asset_graph().materializable_asset_keys}
    assert set(execution["per_step_k8s_config"]) <= assets, "per_step_k8s_config names an unknown step"
    for step, config in steps.items():
        container = k8s_model_from_dict(kubernetes.client.V1Container,
                                        {"name": "step", **config.get("container_config", {})})
        k8s_model_from_dict(kubernetes.client.V1PodSpec,
                            {"containers": [{"name": "step"}], **config.get("pod_spec_config", {})})
        limits = (container.resources.limits or {}) if container.resources else {}
        assert ("nvidia.com/gpu" in limits) == (step in GPU_STEPS), step


def test_instance_yaml_is_valid_for_dagster_and_the_k8s_run_launcher(monkeypatch):
    from dagster._core.instance.config import dagster_instance_config

    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "not-a-secret")
    config, _ = dagster_instance_config(str(DEPLOY), "dagster.yaml")
    assert config["concurrency"]["pools"]["default_limit"] == 1
    launcher = config["run_launcher"]
    module = importlib.import_module(launcher["module"])
    launcher_class = getattr(module, launcher["class"])
    result = process_config(launcher_class.config_type(), launcher["config"])
    assert result.success, [e.message for e in result.errors or []]


def test_helm_values_load_this_code_location_with_valid_resources():
    values = load("values.yaml")
    deployment = values["dagster-user-deployments"]["deployments"][0]
    args = deployment["dagsterApiGrpcArgs"]
    module = args[args.index("--module-name") + 1]
    assert importlib.import_module(module).defs is defs

    def resources(node: Any) -> list[dict]:
        if isinstance(node, dict):
            found = [v for k, v in node.items() if k == "resources" and isinstance(v, dict)]
            return found + [r for v in node.values() for r in resources(v)]
        return [r for v in node for r in resources(v)] if isinstance(node, list) else []

    blocks = resources(values)
    assert len(blocks) >= 2
    for block in blocks:
        k8s_model_from_dict(kubernetes.client.V1ResourceRequirements, block)
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
