"""deploy/ fits docchat: the compose file is well formed, every variable it uses is in the
example env file, every DOCCHAT_* there is a real setting, and the commands the image and the
services run are the ones docchat has."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from retrieval.core.settings import Settings, SettingsError
from workers import worker_command

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))

DOCCHAT_SERVICES = ("web", "worker-cpu", "worker-gpu")
WORKERS = ("worker-cpu", "worker-gpu")
# ${NAME}, ${NAME:-default}, ${NAME?error}; `$${NAME}` is an escaped literal.
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?+-][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), "docker-compose.yml is not a mapping"
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", name), (
            f".env.example line {number} is not NAME=value: {line!r}")
        assert name not in values, f"{name} is set twice in .env.example"
        values[name] = value
    return values


def strings_in(node: Any) -> list[str]:
    """Every string in a loaded YAML document (keys too), comments excluded."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in strings_in(k) + strings_in(v)]
    if isinstance(node, list):
        return [s for item in node for s in strings_in(item)]
    return []


def interpolate(text: str, env: dict[str, str]) -> str:
    return VARIABLE.sub(lambda m: env[m.group(1)], text)


def gpu_reservations(service: dict[str, Any]) -> list[dict[str, Any]]:
    reservations = service.get("deploy", {}).get("resources", {}).get("reservations", {})
    return [d for d in reservations.get("devices", [])
            if d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", [])]


def stages(dockerfile: str) -> list[str]:
    """The Dockerfile's build stages, each from its FROM line on."""
    parts = re.split(r"(?m)^(?=FROM\s)", dockerfile)
    return [p for p in parts if p.startswith("FROM")]


def compose_cli() -> list[str]:
    """`docker compose` (v2) where Docker has it, else Debian's docker-compose (1.29), which
    `make test` installs; both validate the file against the compose schema with no engine."""
    if shutil.which("docker") and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("Neither `docker compose` nor `docker-compose` is installed: `make test` "
                "installs Debian's docker-compose (apt-get install docker-compose).")


def test_compose_file_passes_docker_compose_config(tmp_path: Path):
    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, deploy)
    shutil.copy(ENV_EXAMPLE, deploy / ".env")
    result = subprocess.run(
        [*compose_cli(), "-f", str(deploy / "docker-compose.yml"), "--profile", "gpu",
         "config", "-q"], cwd=deploy, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_compose_config_catches_a_broken_file(tmp_path: Path):
    """The check above can fail: a service with an unknown key is refused."""
    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, deploy)
    shutil.copy(ENV_EXAMPLE, deploy / ".env")
    compose = deploy / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("  redis:\n", "  redis:\n    colour: red\n", 1))
    result = subprocess.run([*compose_cli(), "-f", str(compose), "config", "-q"], cwd=deploy,
                            capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "colour" in (result.stderr + result.stdout)


def test_every_service_runs_an_image_or_builds_one(services: dict[str, dict[str, Any]]):
    assert set(services) >= {"redis", "web", "worker-cpu", "worker-gpu", "vllm"}
    for name, service in services.items():
        assert "image" in service or "build" in service, f"{name} has neither image nor build"
    for name in DOCCHAT_SERVICES:
        build = services[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_every_compose_variable_is_defined_in_the_example_env(
        compose: dict[str, Any], example_env: dict[str, str]):
    used = {m.group(1) for s in strings_in(compose) for m in VARIABLE.finditer(s)}
    assert used, "the compose file uses no ${VARIABLE}: the pattern is broken"
    assert sorted(used - set(example_env)) == [], "used in docker-compose.yml, not in .env.example"


def test_every_docchat_variable_in_the_example_env_is_a_setting(example_env: dict[str, str]):
    settings = {f"DOCCHAT_{f.name.upper()}" for f in fields(Settings)}
    docchat = {name for name in example_env if name.startswith("DOCCHAT_")}
    assert docchat, ".env.example sets no DOCCHAT_* variable"
    assert sorted(docchat - settings) == [], "not docchat settings (Settings ignores them)"


def test_example_env_values_are_accepted_by_settings(example_env: dict[str, str]):
    try:
        settings = Settings.from_env(example_env)
    except SettingsError as exc:
        pytest.fail(f".env.example holds a value docchat rejects: {exc}")
    assert settings.redis_url and not settings.embedded_broker
    assert not settings.starts_worker, "docchat serve in the web container would start a worker"
    assert not settings.starts_llm, "docchat serve in the web container would start an LLM"


def test_docchat_services_talk_to_the_redis_and_vllm_services(
        services: dict[str, dict[str, Any]], example_env: dict[str, str]):
    redis = urlparse(example_env["DOCCHAT_REDIS_URL"])
    assert redis.scheme == "redis" and redis.hostname == "redis"
    assert redis.port == 6379
    llm = urlparse(example_env["DOCCHAT_LLM_BASE_URL"])
    assert llm.hostname == "vllm" and llm.port == 8000 and llm.path.rstrip("/") == "/v1"
    for name in (*DOCCHAT_SERVICES, "vllm"):
        assert services[name].get("env_file") == ".env", f"{name} does not read .env"


def test_redis_keeps_an_append_only_file_on_a_volume(services: dict[str, dict[str, Any]]):
    redis = services["redis"]
    command = redis["command"]
    command = command if isinstance(command, list) else command.split()
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(v.split(":")[1] == "/data" for v in redis["volumes"])
    assert "redis-cli" in redis["healthcheck"]["test"] and "ping" in redis["healthcheck"]["test"]


def test_vllm_serves_the_model_docchat_asks_for(services: dict[str, dict[str, Any]]):
    vllm = services["vllm"]
    command = vllm["command"]
    assert command[command.index("--model") + 1] == "${VLLM_MODEL}"
    assert command[command.index("--served-model-name") + 1] == "${DOCCHAT_LLM_MODEL}"
    assert command[command.index("--max-model-len") + 1] == "${VLLM_MAX_MODEL_LEN}"
    assert any(v.split(":")[1] == "/root/.cache/huggingface" for v in vllm["volumes"])


def test_vllm_healthcheck_asks_its_health_endpoint(services: dict[str, dict[str, Any]]):
    check = " ".join(services["vllm"]["healthcheck"]["test"])
    assert re.search(r"http://(localhost|127\.0\.0\.1):8000/health\b", check), check


def test_gpu_services_reserve_an_nvidia_gpu_only_under_the_gpu_profile(
        services: dict[str, dict[str, Any]]):
    for name in ("worker-gpu", "vllm"):
        assert gpu_reservations(services[name]), f"{name} reserves no nvidia GPU"
        assert "gpu" in services[name].get("profiles", []), f"{name} is not in the gpu profile"
    for name in ("redis", "web", "worker-cpu"):
        assert not gpu_reservations(services[name]), f"{name} would need a GPU to start"
        assert not services[name].get("profiles"), f"{name} would not start by default"


def test_gpu_worker_is_built_for_cuda_and_embeds_on_it(
        services: dict[str, dict[str, Any]], example_env: dict[str, str]):
    worker = services["worker-gpu"]
    assert worker["environment"]["DOCCHAT_EMBEDDING_DEVICE"] == "cuda"
    args = worker["build"]["args"]
    assert args["EXTRAS"] in PYPROJECT["project"]["optional-dependencies"]
    index = interpolate(args["TORCH_INDEX_URL"], example_env)
    assert re.fullmatch(r"https://download\.pytorch\.org/whl/cu\d+", index), index
    cpu_index = interpolate(services["web"]["build"]["args"]["TORCH_INDEX_URL"], example_env)
    assert cpu_index == "https://download.pytorch.org/whl/cpu"
    assert interpolate(worker["image"], example_env) != interpolate(
        services["worker-cpu"]["image"], example_env), "the CPU and GPU builds share a tag"


def test_web_and_workers_share_the_data_volume_at_the_data_dir(
        compose: dict[str, Any], services: dict[str, dict[str, Any]]):
    mounts = set()
    for name in DOCCHAT_SERVICES:
        service = services[name]
        data_dir = service["environment"]["DOCCHAT_DATA_DIR"]
        volumes = [v.split(":") for v in service["volumes"]]
        sources = [source for source, target, *_ in volumes if target == data_dir]
        assert sources, f"{name} mounts nothing at its DOCCHAT_DATA_DIR {data_dir}"
        mounts.add(sources[0])
    assert len(mounts) == 1, f"web and workers keep their data apart: {mounts}"
    assert mounts <= set(compose["volumes"]), "the data volume is not a named volume"


def test_every_named_volume_used_is_declared(
        compose: dict[str, Any], services: dict[str, dict[str, Any]]):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_dependencies_wait_for_a_healthy_service(services: dict[str, dict[str, Any]]):
    waits = 0
    for name, service in services.items():
        for target, condition in service.get("depends_on", {}).items():
            assert condition["condition"] == "service_healthy", f"{name} -> {target}"
            assert "healthcheck" in services[target], f"{target} has no healthcheck"
            waits += 1
    assert waits >= len(DOCCHAT_SERVICES), "web and workers do not wait for Redis"


def test_workers_run_the_command_docchat_serve_starts(services: dict[str, dict[str, Any]]):
    started = worker_command(Settings(worker_concurrency=7), "--loglevel", "INFO")
    assert started[:3] == [sys.executable, "-m", "celery"]
    for name in WORKERS:
        command = services[name]["command"]
        concurrency = command[command.index("--concurrency") + 1]
        expected = ["celery", *(concurrency if a == "7" else a for a in started[3:])]
        assert command == expected, f"{name} runs another worker than docchat serve does"


def test_web_runs_the_docchat_console_script(services: dict[str, dict[str, Any]]):
    scripts = PYPROJECT["project"]["scripts"]
    assert services["web"]["command"][:2] == ["docchat", "serve"]
    assert scripts["docchat"] == "web.serve:main"
    environment = services["web"]["environment"]
    assert str(environment["DOCCHAT_EMBEDDED_WORKER"]).lower() == "false"
    assert services["web"]["ports"][0].endswith(f":{environment['DOCCHAT_PORT']}")


def test_dockerfile_commands_exist_in_the_image():
    text = DOCKERFILE.read_text(encoding="utf-8")
    commands = [json.loads(m.group(2)) for m in
                re.finditer(r"(?m)^(CMD|ENTRYPOINT)\s+(\[.*\])\s*$", text)]
    assert commands, "the Dockerfile names no command in exec form"
    scripts = set(PYPROJECT["project"]["scripts"])
    dependencies = {re.split(r"[\[<>=!~ ]", d, maxsplit=1)[0].lower()
                    for d in PYPROJECT["project"]["dependencies"]}
    for command in commands:
        program = command[0]
        assert program in scripts or program in dependencies, f"no {program} in the image"


def test_dockerfile_compiles_in_a_builder_stage_and_runs_without_compilers_or_root():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"(?m)^ARG PYTHON_IMAGE=python:3\.11-slim$", text)
    builder, *_, runtime = stages(text)
    assert "build-essential" in builder and "cmake" in builder
    for compiler in ("build-essential", "cmake", "gcc", "g++"):
        assert compiler not in runtime, f"the runtime stage installs {compiler}"
    assert "COPY --from=builder" in runtime
    users = re.findall(r"(?m)^USER\s+(\S+)", runtime)
    assert users and users[-1] not in ("root", "0"), "the image runs as root"
    assert re.search(r"DOCCHAT_DATA_DIR=/data\b", runtime)
    for arg in ("TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu", "TORCH_SPEC", "EXTRAS"):
        assert f"ARG {arg}" in builder, f"the build takes no {arg.split('=')[0]}"


def test_dockerfile_copies_every_package_the_project_installs():
    text = DOCKERFILE.read_text(encoding="utf-8")
    allowed = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    patterns = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = [p.name for p in REPO.iterdir() if (p / "__init__.py").exists()
                and any(re.fullmatch(pat.replace("*", ".*"), p.name) for pat in patterns)]
    assert packages, "pyproject includes no package found in the repository"
    for package in packages:
        assert re.search(rf"(?m)^COPY {package} {package}$", text), f"{package} not copied"
        assert f"!{package}" in allowed, f"{package} is left out of the build context"
    for needed in ("pyproject.toml", "README.md"):
        assert f"!{needed}" in allowed, f"{needed} is left out of the build context"


def test_the_image_can_read_scans_in_the_default_ocr_languages():
    """The runtime stage installs Tesseract with the data of DOCCHAT_OCR_LANGUAGES' default
    languages (the packages `make ocr-tools` installs), and the build checks it found them."""
    from ingest.ocr import language_package

    runtime = stages(DOCKERFILE.read_text(encoding="utf-8"))[-1]
    installed = set(" ".join(re.findall(r"apt-get install ([^&]*)", runtime)).split())
    codes = Settings().ocr_options.language_codes
    assert codes == ["eng", "rus"]
    for package in ["tesseract-ocr", "ghostscript", *map(language_package, codes)]:
        assert package in installed, f"the image does not install {package}"
    assert "missing_for_ocr" in runtime, "the build does not check that OCR can run"
    assert "import ocrmypdf" not in runtime  # a dependency like any other: from pyproject
    assert any(d.startswith("ocrmypdf") for d in PYPROJECT["project"]["dependencies"])
