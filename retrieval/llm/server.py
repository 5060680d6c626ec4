"""Embedded mode: a local GGUF model behind llama-cpp-python's OpenAI-compatible server (the
bundled one unless DOCCHAT_LLM_MODEL_PATH names another; retrieval/llm/local_models.py has both)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from retrieval.core.settings import Settings
from retrieval.llm.client import LLMUnavailable, list_models
from retrieval.llm.local_models import bundled_gguf_path


def llm_server_command(settings: Settings) -> list[str]:
    model = settings.llm_model_path or str(bundled_gguf_path())
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", model,
        "--model_alias", settings.llm_model,
        "--host", "127.0.0.1",
        "--port", str(settings.llm_port),
        "--n_ctx", str(settings.llm_context),
        # The server answers one request at a time. By default a waiting request aborts the one
        # being streamed, so concurrent questions would fail each other; queue them instead.
        "--interrupt_requests", "false",
    ]


def start_llm_server(settings: Settings, log_path: Path,
                     preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen[bytes]:
    """Start the server in the background; its output goes to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            llm_server_command(settings), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, preexec_fn=preexec_fn,
        )


def wait_for_llm(base_url: str, timeout: float, process: subprocess.Popen[bytes] | None = None,
                 api_key: str = "not-needed") -> None:
    """Block until the server lists its models (GET {base_url}/models); raise if it does not
    within `timeout`. The bundled server takes any key; a server started with one needs it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the LLM server exited with code {process.returncode}")
        try:
            list_models(base_url, api_key, timeout=2)
            return
        except LLMUnavailable:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"the LLM server at {base_url} did not answer within {timeout:.0f}s")
