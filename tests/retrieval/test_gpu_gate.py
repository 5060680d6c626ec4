"""The gate in front of FAISS's GPU copy: a GPU the installed faiss wheel has no kernels for is
refused with what to install (its first search would abort the process), a test run that
crashes kills a child process only, and the answer is given once per process.

No GPU here: the compute capability and the GPU count are parameters of the decision, so these
tests pose as an H100 or an A100; the child process, the installed faiss and the index are real.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from retrieval.search import devices, faiss_index
from retrieval.search.devices import (
    CudaBuild,
    Placement,
    decide_faiss_placement,
    faiss_placement,
    known_build,
    probe_in_child,
)
from retrieval.search.faiss_index import VectorIndex, gpu_count

PYPI_CU12 = [("faiss-gpu-cu12", "1.14.1.post1")]  # kernels for sm_70 and sm_80, no PTX
META_GPU = [("faiss-gpu", "1.15.1")]  # kernels up to sm_90, PTX for compute_90


def never_probed() -> str | None:
    raise AssertionError("the child-process test run was started although the gate had decided")


def probe_ok() -> str | None:
    return None


def test_hopper_is_refused_for_the_pypi_cu12_wheel_with_what_to_install() -> None:
    placement = decide_faiss_placement(True, 1, PYPI_CU12, (9, 0), never_probed)
    assert placement.device == "cpu"
    assert "faiss-gpu-cu12 1.14.1.post1 has kernels for sm_70, sm_80, no PTX" in (
        placement.reason)
    assert "compute capability 9.0" in placement.reason
    assert "abort" in placement.reason and "make install-gpu" in placement.reason


def test_ampere_and_ada_are_allowed_for_the_pypi_cu12_wheel() -> None:
    for capability in ((8, 0), (8, 6), (8, 9), (7, 5)):
        placement = decide_faiss_placement(True, 1, PYPI_CU12, capability, probe_ok)
        assert placement == Placement(
            "gpu", f"faiss-gpu-cu12 1.14.1.post1 on GPU 0 (compute capability "
                   f"{capability[0]}.{capability[1]})"), capability


def test_metas_faiss_gpu_wheel_runs_on_hopper_and_newer_by_its_ptx() -> None:
    for capability in ((9, 0), (10, 0), (12, 0)):
        assert decide_faiss_placement(True, 1, META_GPU, capability,
                                      probe_ok).device == "gpu", capability
    assert decide_faiss_placement(True, 1, META_GPU, (6, 1), never_probed).device == "cpu"


def test_kernels_run_on_their_major_version_only_and_ptx_on_anything_newer() -> None:
    kernels_only = CudaBuild((70, 80))
    assert kernels_only.runs_on((8, 6)) and kernels_only.runs_on((7, 0))
    assert not kernels_only.runs_on((9, 0)) and not kernels_only.runs_on((6, 1))
    assert CudaBuild((80,), ptx=80).runs_on((9, 0))
    assert known_build("faiss-gpu-cu12", "1.14.1.post1") == kernels_only
    assert known_build("faiss-gpu-cuvs", "1.15.1") is None  # unknown: the test run decides


def test_a_test_run_that_aborts_kills_the_child_and_is_reported() -> None:
    problem = probe_in_child("import os; os.abort()")
    assert problem is not None and problem.startswith("it was killed by SIGABRT")
    # An unknown build on a GPU: only the test run can tell, and its crash is the answer.
    placement = decide_faiss_placement(True, 1, [("faiss-gpu-cuvs", "1.15.1")], (9, 0),
                                       lambda: problem)
    assert placement.device == "cpu"
    assert "killed by SIGABRT" in placement.reason and "make install-gpu" in placement.reason


def test_a_test_run_that_fails_names_the_error_and_one_that_prints_ok_passes() -> None:
    problem = probe_in_child("import sys; sys.exit('CUDA error 209 no kernel image is "
                             "available for execution on the device')")
    assert problem == ("it exited with code 1: CUDA error 209 no kernel image is available "
                       "for execution on the device")
    assert probe_in_child("print('ok')") is None


def test_faiss_cpu_beside_a_gpu_wheel_is_named_instead_of_silently_searching_on_the_cpu(
        ) -> None:
    mixed = [("faiss-cpu", "1.15.1"), ("faiss-gpu-cu12", "1.14.1.post1")]
    placement = decide_faiss_placement(True, 0, mixed, None, never_probed)
    assert placement.device == "cpu"
    assert "faiss-cpu and faiss-gpu-cu12 are installed over each other" in placement.reason
    assert "make install-gpu" in placement.reason


def test_the_setting_turns_the_gpu_off_before_anything_is_asked() -> None:
    assert decide_faiss_placement(False, 1, META_GPU, (9, 0), never_probed) == Placement(
        "cpu", "DOCCHAT_FAISS_GPU is off")


def test_this_machines_faiss_cpu_searches_on_the_cpu_and_says_why(tmp_path) -> None:
    assert [name for name, _ in devices.faiss_distributions()] == ["faiss-cpu"]
    index = VectorIndex(tmp_path / "index.faiss", 4)
    assert index.placement.device == "cpu"
    assert index.placement.reason.startswith("the installed faiss is faiss-cpu, which has no "
                                             "GPU support: run `make install-gpu`")
    with index.writing() as writer:
        writer.add([7], np.eye(1, 4, dtype=np.float32))
    assert index.search(np.eye(1, 4, dtype=np.float32)[0], 1)[0][0] == 7


def test_the_gate_is_decided_once_per_process_not_on_every_index_or_reload(tmp_path) -> None:
    first = VectorIndex(tmp_path / "a.faiss", 4)
    first.placement  # noqa: B018 - decides, or finds the decision made
    misses = faiss_placement.cache_info().misses
    second = VectorIndex(tmp_path / "b.faiss", 4)
    with second.writing() as writer:  # a change on disk: the next search reloads
        writer.add([1], np.eye(1, 4, dtype=np.float32))
    second.search(np.eye(1, 4, dtype=np.float32)[0], 1)
    assert second.placement is first.placement
    assert faiss_placement.cache_info().misses == misses
    assert gpu_count() == 0


def test_an_hnsw_index_says_it_stays_on_the_cpu(tmp_path) -> None:
    index = VectorIndex(tmp_path / "hnsw.faiss", 4, index_type="hnsw")
    assert index.placement == Placement("cpu", "faiss has no GPU version of an HNSW index")


def test_non_finite_vectors_never_reach_the_index(tmp_path) -> None:
    index = VectorIndex(tmp_path / "index.faiss", 4)
    poisoned = np.eye(2, 4, dtype=np.float32)
    poisoned[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"), index.writing() as writer:
        writer.add([1, 2], poisoned)
    assert len(index) == 0


class OneAtATimeGPU:
    """Stands in for faiss's GPU copy (no GPU here): searches the CPU index, slowly, and
    records how many callers were inside it at once; faiss's GPU indexes and their resources
    are not thread-safe, even to search."""

    inside = 0
    most = 0

    def __init__(self, index) -> None:
        self.index = index
        self._count = threading.Lock()

    def search(self, vectors, k):
        with self._count:
            OneAtATimeGPU.inside += 1
            OneAtATimeGPU.most = max(OneAtATimeGPU.most, OneAtATimeGPU.inside)
        time.sleep(0.002)
        try:
            return self.index.search(vectors, k)
        finally:
            with self._count:
                OneAtATimeGPU.inside -= 1


def test_eight_threads_search_a_gpu_copy_one_at_a_time_with_the_same_results(
        tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(faiss_index, "_to_gpu", lambda index, temp_mb: OneAtATimeGPU(index))
    index = VectorIndex(tmp_path / "index.faiss", 16)
    index._placement = Placement("gpu", "posed: a GPU the gate allowed")
    vectors = np.random.default_rng(7).standard_normal((500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with index.writing() as writer:
        writer.add(list(range(500)), vectors)
    alone = [index.search(v, 10) for v in vectors[:40]]
    assert isinstance(index._current()[1], OneAtATimeGPU)
    OneAtATimeGPU.most = 0
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda v: index.search(v, 10), list(vectors[:40]) * 4))
    assert together == alone * 4
    assert OneAtATimeGPU.most == 1
