"""The parts of the GPU check (tests/gpu/check.py), one function each: the check runs every part
in a process of its own and each returns an Outcome. A GPU part skips itself, saying why, where
torch or faiss sees no GPU; its CPU twin (faiss-cpu, embed-cpu, threads-cpu) runs anywhere.

Heavy imports (torch, faiss, the web app) happen inside the parts, so that the check's own
process never loads them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tests.benchmarks.common import REPO

# The smallest cosine between a chunk's fp16 and fp32 vectors that docchat accepts.
COSINE_TARGET = 0.999
# The least top-10 overlap between the GPU copy of an index and the CPU index it was copied
# from: flat is exact on both; IVF-PQ's compressed distances tie more often, so ranks near the
# tenth may swap.
OVERLAP_TARGETS = {"flat": 0.99, "ivfpq": 0.9}
K = 10


@dataclass(frozen=True)
class Options:
    """What every part is measured on; the check passes them to each part's process."""

    pdfs: Path  # the eval PDFs (ingest, and the chunks the embedder reads)
    workdir: Path  # a scratch folder the check removes at the end
    vectors: int = 100_000  # in the FAISS indexes
    queries: int = 100
    chunks: int = 2000  # embedded in fp16 and fp32
    limit: int = 0  # PDFs to ingest; 0: all
    threads: int = 8  # searching the index at once


@dataclass
class Outcome:
    """What one part reports: "ok", "failed" (reason) or "skipped" (reason), with its figures
    (named with their units, in the order they are shown)."""

    status: str
    reason: str = ""
    measures: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def judged(cls, measures: dict[str, Any], problems: list[str]) -> Outcome:
        """ok, or failed with every target missed."""
        return cls("failed", "; ".join(problems), measures) if problems else cls("ok", "",
                                                                                 measures)


def skipped(reason: str) -> Outcome:
    return Outcome("skipped", f"no GPU: {reason}")


def rounded(value: float, digits: int = 2) -> float:
    """A figure for the report (numpy scalars become plain floats for the JSON)."""
    return round(float(value), digits)


# --- what this machine has ---------------------------------------------------------------


def environment(options: Options) -> Outcome:
    """Driver, GPU, compute capability, and the torch and faiss builds that will use them."""
    import torch

    from retrieval.search.faiss_index import faiss, gpu_count

    measures = nvidia_smi_gpus()
    measures["torch"] = torch.__version__
    measures["torch CUDA"] = torch.version.cuda or "none (a CPU build)"
    measures["torch sees a GPU"] = torch.cuda.is_available()
    if torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability(0)
        measures["GPU (torch)"] = torch.cuda.get_device_name(0)
        measures["compute capability (torch)"] = f"{major}.{minor}"
        measures["torch built for"] = " ".join(torch.cuda.get_arch_list())
    measures["faiss"] = faiss.__version__
    measures["faiss GPUs"] = gpu_count()
    return Outcome("ok", measures=measures)


def nvidia_smi_gpus() -> dict[str, Any]:
    """Driver version, name, compute capability and memory of each GPU, as nvidia-smi says."""
    if shutil.which("nvidia-smi") is None:
        return {"nvidia-smi": "not found"}
    # Drivers before 510 do not know compute_cap: then the rest is still worth having.
    for fields in ("driver_version,name,memory.total,compute_cap",
                   "driver_version,name,memory.total"):
        done = subprocess.run(["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=60, check=False)
        if done.returncode == 0:
            break
    else:
        return {"nvidia-smi": f"exit {done.returncode}: {(done.stdout + done.stderr).strip()}"}
    measures: dict[str, Any] = {}
    for number, line in enumerate(done.stdout.strip().splitlines()):
        driver, name, memory, *capability = (cell.strip() for cell in line.split(","))
        measures["driver"] = driver
        measures[f"GPU {number}"] = ", ".join(
            [name, memory, *(f"compute capability {c}" for c in capability)])
    return measures


def torch_gpu_missing() -> str | None:
    """Why torch cannot embed on a GPU here, or None when it can."""
    import torch

    if torch.cuda.is_available():
        return None
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is a CPU build"
    return f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU"


def faiss_gpu_missing() -> str | None:
    """Why faiss cannot search on a GPU here, or None when it can."""
    from retrieval.search.faiss_index import faiss, gpu_count

    if gpu_count() > 0:
        return None
    if not hasattr(faiss, "StandardGpuResources"):
        return (f"faiss {faiss.__version__} has no GPU support (faiss-cpu is installed; "
                "pip install '.[gpu]')")
    return f"faiss {faiss.__version__} sees no GPU"


# --- FAISS ---------------------------------------------------------------------------------


def clustered_vectors(options: Options) -> tuple[np.ndarray, np.ndarray]:
    """(vectors (n, 384), queries (q, 384)) float32 unit vectors grouped around topics as
    embeddings are, the queries each near a vector (tests.benchmarks.query_latency's); the same
    in every part."""
    from tests.benchmarks.query_latency import CLUSTERS, unit_vectors

    rng = np.random.default_rng(7)
    topics = unit_vectors(rng, CLUSTERS)
    vectors = unit_vectors(rng, options.vectors, topics)
    return vectors, unit_vectors(rng, options.queries, vectors, spread=0.5)


def cpu_indexes(vectors: np.ndarray) -> dict[str, Any]:
    """The flat index and the IVF-PQ index docchat builds of `vectors` (n, dim) float32, ids
    0..n-1; IVF-PQ trained on all of them (however few: a small check still trains it)."""
    from retrieval.search.faiss_index import new_index, train_ivfpq

    ids = np.arange(len(vectors), dtype=np.int64)
    flat = new_index("flat", vectors.shape[1])
    flat.add_with_ids(vectors, ids)
    return {"flat": flat, "ivfpq": train_ivfpq(vectors, ids)}


def batch_search_ms(index: Any, queries: np.ndarray, repeats: int = 5) -> float:
    """The fastest of `repeats` searches of all `queries` (q, dim) at once, top 10, after one
    to warm up."""
    index.search(queries, K)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        index.search(queries, K)
        times.append(time.perf_counter() - started)
    return rounded(min(times) * 1000, 3)


def one_query_p50_ms(index: Any, queries: np.ndarray) -> float:
    """Median milliseconds of one query at a time, k=50 as hybrid search asks."""
    from tests.benchmarks.query_latency import latencies_ms

    return rounded(np.median(latencies_ms(index, queries)), 3)


def faiss_cpu(options: Options) -> Outcome:
    """Flat and IVF-PQ search times on the CPU, and how much of the exact top 10 IVF-PQ finds."""
    from tests.benchmarks.query_latency import recall_vs_flat

    vectors, queries = clustered_vectors(options)
    started = time.perf_counter()
    indexes = cpu_indexes(vectors)
    measures: dict[str, Any] = {"vectors": len(vectors), "queries": len(queries),
                                "build s (flat, IVF-PQ trained)": rounded(
                                    time.perf_counter() - started)}
    for kind, index in indexes.items():
        measures[f"{kind} ms, all queries at once"] = batch_search_ms(index, queries)
        measures[f"{kind} p50 ms, one query (k=50)"] = one_query_p50_ms(index, queries)
    measures["ivfpq top-10 overlap with flat"] = rounded(
        recall_vs_flat(indexes["ivfpq"], indexes["flat"], queries), 3)
    return Outcome("ok", measures=measures)


def faiss_gpu(options: Options) -> Outcome:
    """Flat and IVF-PQ copied to the GPU as docchat copies them: the same top 10 as on the CPU
    (OVERLAP_TARGETS), and the search times on both."""
    missing = faiss_gpu_missing()
    if missing:
        return skipped(missing)
    from retrieval.search.faiss_index import faiss
    from tests.benchmarks.query_latency import recall_vs_flat

    vectors, queries = clustered_vectors(options)
    measures: dict[str, Any] = {"vectors": len(vectors), "queries": len(queries)}
    problems = []
    resources = faiss.StandardGpuResources()
    for kind, cpu in cpu_indexes(vectors).items():
        try:
            gpu = faiss.index_cpu_to_gpu(resources, 0, cpu)
        except RuntimeError as exc:  # faiss's refusal (a parameter, memory); not an abort
            problems.append(f"{kind}: faiss could not copy it to the GPU ({exc})")
            continue
        overlap = recall_vs_flat(gpu, cpu, queries)
        measures[f"{kind} top-10 overlap GPU/CPU"] = rounded(overlap, 4)
        measures[f"{kind} GPU ms, all queries at once"] = batch_search_ms(gpu, queries)
        measures[f"{kind} CPU ms, all queries at once"] = batch_search_ms(cpu, queries)
        measures[f"{kind} GPU p50 ms, one query (k=50)"] = one_query_p50_ms(gpu, queries)
        if overlap < OVERLAP_TARGETS[kind]:
            problems.append(f"{kind} top-10 overlap GPU/CPU {overlap:.3f} < "
                            f"{OVERLAP_TARGETS[kind]}")
    return Outcome.judged(measures, problems)


# --- the embedder ----------------------------------------------------------------------------


def pdf_paths(folder: Path) -> list[Path]:
    """Every PDF under `folder`, in name order."""
    return sorted(folder.rglob("*.pdf"))


def chunk_texts(folder: Path, count: int, count_tokens: Callable[[str], int],
                max_tokens: int) -> list[str]:
    """The first `count` chunks docchat makes of the PDFs under `folder` (parsed and chunked as
    tests.benchmarks.ingest_throughput.raw_encode_rate does, with the default chunk sizes)."""
    from ingest.chunking import chunk_document
    from ingest.documents import IngestError
    from ingest.pdf import parse_pdf
    from retrieval.core.settings import Settings

    settings = Settings()
    texts: list[str] = []
    for path in pdf_paths(folder):
        try:
            document = parse_pdf(path.read_bytes(), "d", path.name, settings.max_pages)
        except IngestError:
            continue
        texts += [chunk.text for chunk in chunk_document(
            document, count_tokens, settings.chunk_tokens, settings.chunk_overlap_tokens,
            max_tokens)]
        if len(texts) >= count:
            break
    if not texts:
        raise FileNotFoundError(f"no PDF with text under {folder}: pass --pdfs DIR")
    return texts[:count]


def encoded(embed: Callable[[list[str]], np.ndarray], texts: list[str],
            ) -> tuple[np.ndarray, float]:
    """(vectors (n, dim) float32, chunks per second) of `embed` over `texts`, after a warm-up
    batch."""
    embed(texts[:8])
    started = time.perf_counter()
    vectors = np.asarray(embed(texts), dtype=np.float32)
    return vectors, rounded(len(texts) / (time.perf_counter() - started), 1)


def embed_cpu(options: Options) -> Outcome:
    """docchat's embedder on the CPU (fp32): chunks/s, and no NaN."""
    import torch

    from retrieval.search.embeddings import Embedder

    embedder = Embedder(device="cpu")
    texts = chunk_texts(options.pdfs, options.chunks, embedder.count_tokens, embedder.max_tokens)
    vectors, rate = encoded(embedder.embed, texts)
    nan = bool(np.isnan(vectors).any())
    measures = {"chunks": len(texts), "fp32 CPU chunks/s": rate, "NaN": nan,
                "torch threads": torch.get_num_threads()}
    return Outcome.judged(measures, ["NaN in the vectors"] if nan else [])


def encoding(model: Any, batch_size: int) -> Callable[[list[str]], np.ndarray]:
    """A sentence-transformers model's `encode`, with the arguments docchat's Embedder gives."""
    return lambda texts: model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False)


def embed_gpu(options: Options) -> Outcome:
    """docchat's embedder on the GPU (fp16, as it runs there) against the same model in fp32 on
    the GPU: every chunk's cosine at least COSINE_TARGET, no NaN; chunks/s of each."""
    missing = torch_gpu_missing()
    if missing:
        return skipped(missing)
    from sentence_transformers import SentenceTransformer

    from retrieval.search.embeddings import Embedder

    half = Embedder(device="cuda")
    texts = chunk_texts(options.pdfs, options.chunks, half.count_tokens, half.max_tokens)
    # Both through `encode` as Embedder.embed calls it, so that NaN vectors are counted here
    # rather than refused.
    fp16, fp16_rate = encoded(encoding(half.model, half.batch_size), texts)
    full = SentenceTransformer(half.model_name, device="cuda")
    fp32, fp32_rate = encoded(encoding(full, half.batch_size), texts)
    cosines = np.sum(fp16 * fp32, axis=1) / (
        np.linalg.norm(fp16, axis=1) * np.linalg.norm(fp32, axis=1))
    nan = bool(np.isnan(fp16).any())
    dtype = str(next(half.model.parameters()).dtype)
    measures = {"chunks": len(texts), "docchat's GPU dtype": dtype,
                "fp16 chunks/s": fp16_rate, "fp32 chunks/s": fp32_rate,
                "cosine fp16/fp32 mean": rounded(np.nanmean(cosines), 6),
                "cosine fp16/fp32 min": rounded(np.nanmin(cosines), 6), "NaN (fp16)": nan}
    problems = ["NaN in the fp16 vectors"] if nan else []
    if np.nanmin(cosines) < COSINE_TARGET:
        problems.append(f"min cosine {np.nanmin(cosines):.5f} < {COSINE_TARGET}")
    if dtype != "torch.float16":
        problems.append(f"docchat embeds in {dtype} on the GPU, not fp16")
    return Outcome.judged(measures, problems)


# --- GPU memory ------------------------------------------------------------------------------


def gpu_memory(options: Options) -> Outcome:
    """This process's GPU memory after loading the embedder, then after docchat's index copied
    its vectors to the GPU (faiss's resources and the copy)."""
    missing = torch_gpu_missing() or faiss_gpu_missing()
    if missing:
        return skipped(missing)
    import torch

    from retrieval.search.embeddings import Embedder

    embedder = Embedder(device="cuda")
    embedder.embed(["warm up"] * 64)
    measures: dict[str, Any] = {
        "torch max reserved MiB": rounded(torch.cuda.max_memory_reserved() / 2**20, 0),
        "nvidia-smi MiB, embedder loaded": process_gpu_mib()}
    index = vector_index(options.workdir / "memory", clustered_vectors(options)[0], use_gpu=True)
    measures["nvidia-smi MiB, + faiss index on GPU"] = process_gpu_mib()
    free, total = torch.cuda.mem_get_info()
    measures["GPU used MiB, all processes"] = rounded((total - free) / 2**20, 0)
    on_gpu = searches_on_gpu(index)
    measures["index searched on the GPU"] = on_gpu
    return Outcome.judged(measures, [] if on_gpu else [
        "faiss could not copy the index to the GPU (see the log: it searched on the CPU)"])


def process_gpu_mib() -> float | str:
    """This process's GPU memory as nvidia-smi lists it (every context and allocator)."""
    if shutil.which("nvidia-smi") is None:
        return "nvidia-smi not found"
    done = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory",
                           "--format=csv,noheader,nounits"], capture_output=True, text=True,
                          timeout=60, check=False)
    for line in done.stdout.splitlines():
        pid, _, used = line.partition(",")
        if pid.strip() == str(os.getpid()):
            return float(used)
    return "this process is not listed (a container's own process ids?)"


# --- docchat's index, from several threads -----------------------------------------------------


def vector_index(folder: Path, vectors: np.ndarray, use_gpu: bool) -> Any:
    """docchat's flat VectorIndex in `folder` holding `vectors` (n, dim) float32, ids 0..n-1,
    loaded (and copied to the GPU, where it goes there) by one search."""
    from retrieval.search.faiss_index import VectorIndex

    index = VectorIndex(folder / "index.faiss", vectors.shape[1], "flat", use_gpu=use_gpu)
    with index.writing() as writer:
        writer.add(list(range(len(vectors))), vectors)
    index.search(vectors[0], K)
    return index


def searches_on_gpu(index: Any) -> bool:
    """Whether the VectorIndex searches a GPU copy (after its first search)."""
    return bool(index.placement.device == "gpu")


def threads_search(options: Options, use_gpu: bool) -> Outcome:
    """`options.threads` threads searching one VectorIndex at once: queries/s, and the same
    results as one thread alone."""
    vectors, queries = clustered_vectors(options)
    index = vector_index(options.workdir / f"threads-{'gpu' if use_gpu else 'cpu'}", vectors,
                         use_gpu)
    asked = [i % len(queries) for i in range(len(queries) * options.threads)]
    alone, alone_rate = searched_by_threads(index, queries, list(range(len(queries))), 1)
    together, together_rate = searched_by_threads(index, queries, asked, options.threads)
    differing = sum(found != alone[i] for i, found in zip(asked, together, strict=True))
    measures: dict[str, Any] = {
        "vectors": options.vectors, "searched on": "GPU" if searches_on_gpu(index) else "CPU",
        "queries/s, one thread": alone_rate,
        f"queries/s, {options.threads} threads": together_rate,
        "results equal one thread's": differing == 0, "differing results": differing}
    problems = [f"{differing} of {len(asked)} results differ from one thread's"] if differing \
        else []
    if use_gpu and not searches_on_gpu(index):
        problems.append("faiss could not copy the index to the GPU (it searched on the CPU)")
    return Outcome.judged(measures, problems)


def searched_by_threads(index: Any, queries: np.ndarray, asked: list[int], threads: int,
                        ) -> tuple[list[list[tuple[int, float]]], float]:
    """(the hits of queries[i] for each i in `asked`, queries/s) with `threads` threads
    searching at once (one thread too runs beside the main one, so that both are measured
    alike)."""
    with ThreadPoolExecutor(threads) as pool:
        started = time.perf_counter()
        hits = list(pool.map(lambda i: index.search(queries[i], K), asked))
        return hits, rounded(len(asked) / (time.perf_counter() - started), 1)


def threads_cpu(options: Options) -> Outcome:
    return threads_search(options, use_gpu=False)


def threads_gpu(options: Options) -> Outcome:
    missing = faiss_gpu_missing()
    if missing:
        return skipped(missing)
    return threads_search(options, use_gpu=True)


# --- the worker and the pipeline ---------------------------------------------------------------


def worker_startup(options: Options) -> Outcome:
    """The real worker (`docchat serve`'s command, embedded SQLite broker) with a one-page
    document already queued: seconds until it logs that it is ready, and until a pool process
    has loaded the embedding model and indexed the document."""
    from retrieval.core.settings import Settings
    from tests.benchmarks.ingest_throughput import _upload
    from tests.conftest import TEST_DATA
    from tests.processes import _die_with_parent
    from web import create_app
    from workers import worker_command

    settings = Settings(data_dir=options.workdir / "worker", queue="gpu-check")
    client = create_app(settings).test_client()
    [document_id] = _upload(client, [TEST_DATA / "notes.md"])
    log_path = settings.data_dir / "worker.log"
    started = time.perf_counter()
    with open(log_path, "ab") as log:
        worker = subprocess.Popen(
            worker_command(settings, "--loglevel", "INFO"), cwd=REPO, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **settings.to_env()}, start_new_session=True,
            preexec_fn=_die_with_parent)
    try:
        ready_s = seconds_until(lambda: " ready." in log_path.read_text(errors="replace"),
                                worker, started)
        indexed_s = seconds_until(lambda: client.get(f"/api/documents/{document_id}").get_json()[
            "status"] in ("indexed", "failed"), worker, started)
    finally:
        # Killed whole and at once: a SIGTERM to the group would have the main process replace
        # its terminated pool processes (each loading the model again) before it stops.
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    document = client.get(f"/api/documents/{document_id}").get_json()
    log_text = log_path.read_text(errors="replace")
    loaded = EMBEDDER_LOADED.search(log_text)
    measures = {"pool processes": settings.worker_concurrency,
                "s to the worker's 'ready' line": ready_s,
                "s to the first document indexed": indexed_s,
                "a pool process embeds on": loaded[1] if loaded else "(not in its log)"}
    problems = [] if document["status"] == "indexed" else [
        f"the first document failed: {document['error']}"]
    if "could not be loaded" in log_text:
        problems.append("a pool process could not load the embedding model (see its log)")
    return Outcome.judged(measures, problems)


# The line retrieval.search.embeddings logs when a process has loaded the model.
EMBEDDER_LOADED = re.compile(r"embedding model .+? on (\S+ in \S+ \(.*\))$", re.MULTILINE)


def seconds_until(done: Callable[[], bool], worker: subprocess.Popen[bytes],
                  started: float) -> float:
    """Seconds from `started` until `done()`, checked every 0.1 s while the worker lives (the
    part's timeout ends a wait that never ends)."""
    while not done():
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with code {worker.returncode}")
        time.sleep(0.1)
    return rounded(time.perf_counter() - started)


def ingest(options: Options) -> Outcome:
    """Pages/s of the eval PDFs upload -> indexed through the real worker
    (tests.benchmarks.ingest_throughput.docchat_run: the web app, the embedded broker, the
    worker parsing in its sandbox and embedding on the GPU when torch sees one)."""
    import torch

    from tests.benchmarks.ingest_throughput import docchat_run

    paths = pdf_paths(options.pdfs)[:options.limit or None]
    if not paths:
        return Outcome("failed", f"no PDFs under {options.pdfs}: pass --pdfs DIR")
    # Parse on every core: one pool process per core (docchat's default is 2).
    processes = os.cpu_count() or 2
    elapsed, pages, chunks, failed = docchat_run(paths, options.workdir / "ingest", processes)
    measures = {"PDFs": len(paths), "pages indexed": pages, "chunks": chunks,
                "s upload -> indexed": rounded(elapsed, 1), "pages/s": rounded(pages / elapsed),
                "chunks/s": rounded(chunks / elapsed, 1), "not indexed": ", ".join(failed) or
                "none", "pool processes": processes, "cpus": os.cpu_count(),
                "torch sees a GPU": torch.cuda.is_available()}
    problems = [f"not indexed: {', '.join(failed)}"] if failed else []
    if not pages:
        problems.append("no page was indexed")
    return Outcome.judged(measures, problems)


@dataclass(frozen=True)
class Part:
    name: str
    measure: Callable[[Options], Outcome]
    timeout_s: float  # the check ends the part's process after this long


PARTS = [
    Part("environment", environment, 90),
    Part("faiss-cpu", faiss_cpu, 150),
    Part("faiss-gpu", faiss_gpu, 150),
    Part("embed-cpu", embed_cpu, 150),
    Part("embed-gpu", embed_gpu, 150),
    Part("gpu-memory", gpu_memory, 120),
    Part("threads-cpu", threads_cpu, 120),
    Part("threads-gpu", threads_gpu, 120),
    Part("worker", worker_startup, 180),
    Part("ingest", ingest, 300),
]
