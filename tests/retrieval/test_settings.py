"""Settings from DOCCHAT_* variables, and the embedded-vs-production switches they imply."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.core.settings import Settings, SettingsError


def test_defaults_are_embedded_mode() -> None:
    settings = Settings.from_env({})
    assert settings.embedded_broker and settings.starts_worker and settings.starts_llm
    assert settings.broker_url.startswith("sqla+sqlite:///")
    assert settings.result_backend.startswith("db+sqlite:///")
    assert settings.llm_url == f"http://127.0.0.1:{settings.llm_port}/v1"


def test_production_values_switch_off_embedded_parts() -> None:
    settings = Settings.from_env({
        "DOCCHAT_REDIS_URL": "redis://queue:6379/0",
        "DOCCHAT_LLM_BASE_URL": "http://vllm:8000/v1/",
        "DOCCHAT_DATA_DIR": "/srv/docchat",
        "DOCCHAT_TOP_K": "8",
        "DOCCHAT_EMBEDDED_WORKER": "no",
    })
    assert settings.broker_url == "redis://queue:6379/0"
    assert not settings.starts_worker and not settings.starts_llm
    assert settings.llm_url == "http://vllm:8000/v1"
    assert settings.data_dir == Path("/srv/docchat") and settings.top_k == 8


def test_settings_survive_a_round_trip_through_a_child_environment() -> None:
    settings = Settings(redis_url="redis://x:1/2", top_k=3, embedded_worker=True)
    assert Settings.from_env(settings.to_env()) == settings


def test_a_bad_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="DOCCHAT_PORT"):
        Settings.from_env({"DOCCHAT_PORT": "eighty"})
