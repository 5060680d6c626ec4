"""How a worker's processes share the CPU: each embeds on its share of the cores.

A worker runs `concurrency` processes. Each alternates between parsing a file (in a child
process, one core) and embedding its chunks (torch, as many threads as it is given). With
torch's default of one thread per core in every process, the processes and their parsers
oversubscribe the cores; with cores / concurrency threads each, one process embeds while
another parses, and the cores stay busy (tests/benchmarks/ingest_throughput measures it).
"""

from __future__ import annotations

import os

_concurrency = 0


def remember_concurrency(concurrency: int) -> None:
    """Called in the worker's main process, before it starts its pool."""
    global _concurrency
    _concurrency = concurrency


def embedding_threads(cpus: int, concurrency: int) -> int:
    """Torch threads for one of `concurrency` processes on `cpus` cores (0: leave torch be)."""
    if concurrency <= 0:
        return 0
    return max(1, cpus // concurrency)


def share_cores() -> int:
    """Called in each pool process: limit torch's threads to this process's share."""
    threads = embedding_threads(len(os.sched_getaffinity(0)), _concurrency)
    if threads:
        import torch

        torch.set_num_threads(threads)
    return threads
