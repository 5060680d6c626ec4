"""What the benchmarks share: the bundled model, the eval data, the LangChain recipe, printing."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from retrieval.core.settings import Settings  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EVAL = REPO.parent / "shared" / "eval"


def command_line() -> str:
    return "python -m " + __import__("__main__").__spec__.name + " " + shlex.join(sys.argv[1:])


def header(title: str) -> None:
    print(f"# {title}")
    print(f"# command: {command_line()}")
    print(f"# machine: {os.cpu_count()} cpus; {time.strftime('%Y-%m-%d %H:%M:%S')}")


@contextmanager
def timed() -> Iterator[list[float]]:
    """Yields a list that holds the elapsed seconds once the block ends."""
    elapsed: list[float] = []
    started = time.perf_counter()
    try:
        yield elapsed
    finally:
        elapsed.append(time.perf_counter() - started)


def langchain_embeddings():  # type: ignore[no-untyped-def]
    """The recipe's HuggingFaceEmbeddings, on the same bundled all-MiniLM-L6-v2."""
    from langchain_huggingface import HuggingFaceEmbeddings

    from retrieval.search.embeddings import bundled_model_path

    return HuggingFaceEmbeddings(model_name=str(bundled_model_path()),
                                 model_kwargs={"device": "cpu"})


def langchain_splitter():  # type: ignore[no-untyped-def]
    """The recipe's splitter: 1,000 characters with 200 of overlap."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200,
                                          add_start_index=True)


@contextmanager
def configured_llm(quality_model: bool = False, context: int = 8192) -> Iterator[Settings]:
    """Settings for the LLM the benchmark measures: the one DOCCHAT_* configures (the bundled
    SmolLM2, started here, unless DOCCHAT_LLM_BASE_URL points elsewhere), or with
    `quality_model` Qwen2.5-Coder-1.5B-Instruct (fetched by tests.benchmarks.quality_model)."""
    import dataclasses

    from retrieval.llm.server import start_llm_server, wait_for_llm
    from tests.benchmarks.quality_model import MODEL_ALIAS, start_quality_llm
    from tests.conftest import free_port

    settings = Settings.from_env()
    process = None
    if quality_model:
        port = free_port()
        process = start_quality_llm(port, context, dest=REPO / "data" / "models",
                                    log_path=Path(tempfile.mkdtemp()) / "llm.log")
        settings = dataclasses.replace(settings, llm_base_url=f"http://127.0.0.1:{port}/v1",
                                       llm_model=MODEL_ALIAS, llm_context=context)
    elif settings.starts_llm:
        settings = dataclasses.replace(settings, llm_port=free_port())
        process = start_llm_server(settings, Path(tempfile.mkdtemp()) / "llm.log")
        settings = dataclasses.replace(settings, llm_base_url=settings.llm_url)
    try:
        if process is not None:
            wait_for_llm(settings.llm_url, 300, process)
        yield settings
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # busy with a request from another client
                process.kill()
                process.wait()
