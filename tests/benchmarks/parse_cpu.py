"""Parse PDFs as the worker's parse child does, and print what it cost: the floor's parse
half for tests/benchmarks/ingest_throughput; with `--encode`, then encode chunk texts as the
worker encodes: one core's share of the floor's work, run beside the other cores' shares.

The worker parses in a child of a process that holds only the parsers (ingest.sandbox); this
process is such a one (started with the sandbox's environment), so that parsing here costs
what it costs there: in the benchmark's own process, which holds torch, the web app and
every chunk, Python's garbage collector walks all of that as each parse allocates: the eval
PDFs took a fifth more CPU there (23.9 s against 20.0), their revised copies two fifths more,
and the worker beat that floor. The encoder is loaded after the parses, for that reason.

    python -m tests.benchmarks.parse_cpu --max-pages N [--ocr LANGUAGES]
        [--encode TEXTS.json --batch-size B] [--wait] PDF...

prints one JSON object: {"cpu_s": CPU seconds of the parses, Tesseract's included, "sys_s":
the kernel's part of them, "documents": [each parsed document as Document.to_json, or null
where parsing failed]}; with `--encode`, "encode_cpu_s" too: the CPU seconds of encoding the
JSON list of texts in one call with one thread (the model loaded and warmed first, not
counted). `--wait` first prints a line `ready`, then reads a line from stdin before the first
parse, so that several shares start together.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

from ingest.documents import IngestError
from ingest.ocr import OcrOptions
from ingest.pdf import parse_pdf


def cpu_seconds() -> float:
    """CPU of this process and of the children it waited for (Tesseract, for OCR)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def system_seconds() -> float:
    """The part of cpu_seconds() spent in the kernel (page faults, reads, process starts)."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_stime
            + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime)


def encode_cpu(texts: list[str], batch_size: int) -> float:
    """CPU seconds of encoding `texts` as the worker does (Embedder.embed), one thread."""
    import torch

    from retrieval.search.embeddings import Embedder

    torch.set_num_threads(1)
    embedder = Embedder(device="cpu", batch_size=batch_size)
    embedder.embed(["warm up"])
    started = cpu_seconds()
    embedder.embed(texts)
    return cpu_seconds() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-pages", type=int, required=True)
    parser.add_argument("--ocr", default=None, metavar="LANGUAGES",
                        help="read pages without a text layer by OCR in these languages")
    parser.add_argument("--encode", type=Path, default=None, metavar="TEXTS.json",
                        help="then encode these texts (a JSON list) and time that too")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--wait", action="store_true",
                        help="read a line from stdin before starting")
    parser.add_argument("pdfs", nargs="*", type=Path)
    options = parser.parse_args()
    ocr = OcrOptions(languages=options.ocr) if options.ocr else None
    if options.wait:
        print("ready", flush=True)
        sys.stdin.readline()
    spent = kernel = 0.0
    documents = []
    for path in options.pdfs:
        data = path.read_bytes()
        started, started_kernel = cpu_seconds(), system_seconds()
        try:
            document = parse_pdf(data, "d", path.name, max_pages=options.max_pages, ocr=ocr)
        except IngestError:
            document = None
        spent += cpu_seconds() - started
        kernel += system_seconds() - started_kernel
        documents.append(document.to_json() if document is not None else None)
    result: dict[str, object] = {"cpu_s": spent, "sys_s": kernel, "documents": documents}
    if options.encode is not None:
        texts = json.loads(options.encode.read_text(encoding="utf-8"))
        result["encode_cpu_s"] = encode_cpu(texts, options.batch_size)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
