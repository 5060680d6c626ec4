"""Where embeddings and FAISS searches run, decided once per process and said in the log.

Two checks live here. `cuda_problem` says why torch cannot compute on a GPU (a CPU-only build, a
driver older than the CUDA it was built for, a GPU it has no kernels for). `faiss_placement` is
the gate in front of the first copy of an index to a GPU: a faiss build without kernels for the
GPU's compute capability does not raise there, it calls abort() (faiss's CUDA error checks),
which no `except` catches, and a Celery worker that dies mid-task gets the task back, dies
again, and so on. So the gate compares the GPU with the architectures the installed wheel was
built for, and then runs one copy and one search in a child process, which an abort can kill
without taking the server with it. When either says no, searches run on the CPU, with one log
line saying why and what to install.

`python -m retrieval.search.devices` prints what this machine would use.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from retrieval.core.settings import Settings

log = logging.getLogger(__name__)

# What to install where the faiss wheel cannot use the GPU (the Makefile target does it all).
FAISS_GPU_FIX = ("run `make install-gpu` (faiss-gpu>=1.15, built for compute capability 7.0 to "
                 "9.0, in place of faiss-cpu), or build the docchat:gpu image")
PROBE_TIMEOUT = 120.0


@dataclass(frozen=True)
class Placement:
    """Where one part runs ("gpu" or "cpu") and why, for the log and GET /api/index."""

    device: str
    reason: str


@dataclass(frozen=True)
class CudaBuild:
    """The GPU code a faiss wheel carries: kernels compiled for some architectures (80 is
    sm_80) and, optionally, PTX of one architecture that newer GPUs compile when it loads."""

    kernels: tuple[int, ...]
    ptx: int | None = None

    def runs_on(self, capability: tuple[int, int]) -> bool:
        major, minor = capability
        if self.ptx is not None and major * 10 + minor >= self.ptx:
            return True
        # A kernel built for sm_XY runs on GPUs of major version X and minor version Y or more
        # (sm_80 on an A10's 8.6, never on an H100's 9.0).
        return any(k // 10 == major and k % 10 <= minor for k in self.kernels)

    def describe(self) -> str:
        kernels = ", ".join(f"sm_{k}" for k in self.kernels)
        return f"kernels for {kernels}" + (f" and PTX for compute_{self.ptx}" if self.ptx
                                           else ", no PTX")


def known_build(distribution: str, version: str) -> CudaBuild | None:
    """The GPU code of the faiss wheels whose builds we know; None for any other."""
    release = _release(version)
    # faiss-gpu-cu11/-cu12 (github.com/Di-Is/faiss-gpu-wheels) from 1.9 on: CUDA architectures
    # "70-real;80-real" (their README: compute capability 7.0-8.9; faiss-wheels issue 151 lists
    # the sm_70 and sm_80 kernels of 1.13.2). Nothing for Hopper.
    if distribution in ("faiss-gpu-cu11", "faiss-gpu-cu12") and release >= (1, 9):
        return CudaBuild((70, 80))
    # faiss-gpu, the wheel facebookresearch/faiss publishes itself (pyproject-gpu.toml):
    # "70-real;75-real;80-real;86-real;89-real;90", i.e. kernels up to Hopper plus its PTX.
    if distribution == "faiss-gpu" and release >= (1, 15):
        return CudaBuild((70, 75, 80, 86, 89, 90), ptx=90)
    return None


def _release(version: str) -> tuple[int, int]:
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else (0, 0)


def faiss_distributions() -> list[tuple[str, str]]:
    """(name, version) of each installed distribution that writes the `faiss` package: one,
    normally; two when faiss-cpu and a GPU wheel were installed over each other."""
    names = importlib.metadata.packages_distributions().get("faiss", [])
    return [(name, importlib.metadata.version(name)) for name in dict.fromkeys(names)]


# A child's whole life: copy a tiny index to GPU 0 and search it. 64 MiB of scratch memory is
# plenty for it (faiss would otherwise reserve up to 1.5 GiB for a moment).
FAISS_PROBE = """
import faiss, numpy as np
res = faiss.StandardGpuResources()
res.setTempMemory(64 << 20)
index = faiss.IndexFlatIP(8)
index.add(np.eye(8, dtype="float32"))
gpu = faiss.index_cpu_to_gpu(res, 0, index)
scores, ids = gpu.search(np.eye(1, 8, 3, dtype="float32"), 1)
assert int(ids[0][0]) == 3, ids
print("ok")
"""


def probe_in_child(code: str = FAISS_PROBE, timeout: float = PROBE_TIMEOUT) -> str | None:
    """Run `code` in a fresh Python process; None when it printed "ok", else what went wrong
    (an abort or segfault kills the child only)."""
    # A crash is expected and says all we need: no core dump of a CUDA process (gigabytes).
    no_core = "import resource; resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n"
    try:
        done = subprocess.run([sys.executable, "-c", no_core + code], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return f"it did not finish in {timeout:.0f} s"
    if done.returncode == 0 and done.stdout.strip().endswith("ok"):
        return None
    last = next((line.strip() for line in reversed(done.stderr.splitlines()) if line.strip()),
                "no error output")
    if done.returncode < 0:
        how = f"it was killed by {signal.Signals(-done.returncode).name}"
    else:
        how = f"it exited with code {done.returncode}"
    return f"{how}: {last[-400:]}"


def decide_faiss_placement(wanted: bool, gpus: int, distributions: list[tuple[str, str]],
                           capability: tuple[int, int] | None,
                           probe: Callable[[], str | None]) -> Placement:
    """Whether FAISS may search on GPU 0, from the facts about this process (each a parameter,
    so that a test can pose as any GPU): the setting, the GPUs faiss sees, the distributions
    that installed it, GPU 0's compute capability (None when unknown) and a test run in a
    child process (called last, only when everything else agrees)."""
    if not wanted:
        return Placement("cpu", "DOCCHAT_FAISS_GPU is off")
    names = [name for name, _ in distributions]
    if len(names) > 1:
        return Placement("cpu", f"{' and '.join(names)} are installed over each other in one "
                                f"faiss folder, which mixes their files: {FAISS_GPU_FIX}")
    if gpus == 0:
        if names == ["faiss-cpu"]:
            return Placement("cpu", f"the installed faiss is faiss-cpu, which has no GPU "
                                    f"support: {FAISS_GPU_FIX}")
        return Placement("cpu", f"{names[0] if names else 'faiss'} sees no GPU (a CPU-only "
                                "build, no NVIDIA driver, or CUDA_VISIBLE_DEVICES empty)")
    name, version = distributions[0] if distributions else ("faiss", "unknown")
    gpu = f"GPU 0 (compute capability {capability[0]}.{capability[1]})" if capability else (
        "GPU 0")
    build = known_build(name, version)
    if build is not None and capability is not None and not build.runs_on(capability):
        return Placement("cpu", f"{name} {version} has {build.describe()}, none of which runs "
                                f"on {gpu} (its first search there would abort the process): "
                                f"{FAISS_GPU_FIX}")
    problem = probe()
    if problem is not None:
        return Placement("cpu", f"a test search with {name} {version} on {gpu}, run in a child "
                                f"process, failed ({problem}). If this faiss was not built for "
                                f"this GPU: {FAISS_GPU_FIX}")
    return Placement("gpu", f"{name} {version} on {gpu}")


@functools.cache
def faiss_placement(wanted: bool, gpus: int) -> Placement:
    """The gate, decided once per process (every index asks, each only once) from the setting
    and the GPUs faiss sees (faiss_index.gpu_count)."""
    placement = decide_faiss_placement(wanted, gpus, faiss_distributions(),
                                       torch_capability() if gpus else None, probe_in_child)
    if placement.device == "gpu":
        log.info("FAISS searches on the GPU: %s", placement.reason)
    elif wanted and gpus:  # a GPU it may not use: the operator should hear about it
        log.warning("FAISS searches on the CPU: %s", placement.reason)
    else:
        log.info("FAISS searches on the CPU: %s", placement.reason)
    return placement


def torch_capability() -> tuple[int, int] | None:
    """GPU 0's compute capability, when torch sees it; None otherwise (a CPU-only torch beside
    a faiss-gpu, say: the child process's test run decides alone then)."""
    try:
        import torch
    except ImportError:
        return None
    try:
        if not torch.cuda.is_available():
            return None
        major, minor = torch.cuda.get_device_capability(0)
    except RuntimeError:
        return None
    return int(major), int(minor)


def cuda_problem() -> str | None:
    """Why torch cannot compute on GPU 0 in this process; None when a test computation there
    works. Initializes CUDA: in a process that forks workers later, ask `cuda_problem_in_child`."""
    import torch

    if torch.version.cuda is None:
        return f"the installed torch {torch.__version__} is a CPU-only build"
    if not torch.cuda.is_available():
        return (f"torch {torch.__version__} (built for CUDA {torch.version.cuda}) sees no usable "
                "GPU: no NVIDIA driver, a driver older than that CUDA, or CUDA_VISIBLE_DEVICES "
                "empty")
    try:  # a torch without kernels for this GPU's architecture fails here, not above
        product = torch.ones(4, 4, device="cuda:0") @ torch.ones(4, 4, device="cuda:0")
        if float(product.sum()) != 64.0:
            return "a test computation on the GPU gave a wrong result"
    except RuntimeError as exc:
        return f"a test computation on the GPU failed: {str(exc).splitlines()[0]}"
    return None


CUDA_PROBE = """
from retrieval.search.devices import cuda_problem
problem = cuda_problem()
print("ok" if problem is None else problem)
"""


def cuda_problem_in_child(code: str = CUDA_PROBE, timeout: float = PROBE_TIMEOUT) -> str | None:
    """`cuda_problem` asked in a child process, so that this one stays free of CUDA (a process
    that initialized CUDA cannot hand it to the children it forks, as Celery's pool does)."""
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return f"checking CUDA did not finish in {timeout:.0f} s"
    said = done.stdout.strip().splitlines()
    if done.returncode == 0 and said:
        return None if said[-1] == "ok" else said[-1]
    last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "")
    return f"checking CUDA failed (exit code {done.returncode}): {last.strip()[-400:]}"


def describe(settings: Settings) -> str:
    """What `python -m retrieval.search.devices` prints: where this machine would embed and
    search with these settings (loads the embedding model)."""
    from retrieval.search.embeddings import Embedder

    embedder = Embedder(settings.embedding_model, settings.embedding_device,
                        settings.embedding_batch_size, settings.embedding_precision)
    from retrieval.search.faiss_index import gpu_count

    placement = faiss_placement(settings.faiss_gpu, gpu_count())
    return (f"embeddings: {embedder.device} in {embedder.precision}\n"
            f"faiss: {placement.device} ({placement.reason})")


if __name__ == "__main__":
    from retrieval.core.logs import configure_logging

    configure_logging("text")
    print(describe(Settings.from_env()))
