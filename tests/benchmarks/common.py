"""What the benchmarks share: the bundled model, the eval data, the LangChain recipe, printing."""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

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

    from retrieval.embeddings import bundled_model_path

    return HuggingFaceEmbeddings(model_name=str(bundled_model_path()),
                                 model_kwargs={"device": "cpu"})


def langchain_splitter():  # type: ignore[no-untyped-def]
    """The recipe's splitter: 1,000 characters with 200 of overlap."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200,
                                          add_start_index=True)
