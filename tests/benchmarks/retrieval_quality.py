"""Meeting retrieval quality on QMSum (val): is a gold turn inside what fits 5,000 characters?

docchat: the real ingest and index path, hybrid search filtered to the meeting, passages fitted
to the budget. Baseline: the plain LangChain recipe (1,000/200-character chunks, FAISS flat,
top 5 = the same 5,000 characters) over the same transcripts, with the same embedding model.

    python -m tests.benchmarks.retrieval_quality [--meetings N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from retrieval.core.settings import Settings
from retrieval.runtime import Runtime
from retrieval.search.indexing import index_document
from retrieval.storage.store import ChunkFilter
from tests.benchmarks.common import (
    EVAL,
    header,
    langchain_embeddings,
    langchain_splitter,
    timed,
)
from tests.conftest import store_upload

BUDGET = 5000


def gold_turns(query: dict) -> set[int]:
    return {t for start, end in query["relevant_text_span"]
            for t in range(int(start), int(end) + 1)}


def docchat_recall(meetings: list[dict], data_dir: Path) -> tuple[int, int]:
    runtime = Runtime(Settings(data_dir=data_dir))
    found = total = 0
    for number, meeting in enumerate(meetings):
        path = data_dir / f"meeting{number}.json"
        path.write_text(json.dumps(meeting))
        record = store_upload(runtime, path)
        index_document(runtime, record.id)
        only = ChunkFilter("default", document_ids=(record.id,))
        for query in meeting["specific_query_list"]:
            hits = runtime.retriever.search(query["query"], 50, only, BUDGET)
            assert sum(len(h.text) for h in hits) <= BUDGET
            gold = gold_turns(query)
            found += any(h.turn_start is not None and h.turn_start <= t <= h.turn_end
                         for h in hits for t in gold)
            total += 1
    return found, total


def transcript_with_offsets(meeting: dict) -> tuple[str, list[int]]:
    """The transcript as the recipe would load it ("speaker: content" lines), and where each
    turn starts in it."""
    starts, lines, at = [], [], 0
    for turn in meeting["meeting_transcripts"]:
        line = f"{turn['speaker']}: {turn['content']}"
        starts.append(at)
        lines.append(line)
        at += len(line) + 1
    return "\n".join(lines), starts


def langchain_recall(meetings: list[dict]) -> tuple[int, int]:
    import bisect

    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document

    embeddings, splitter = langchain_embeddings(), langchain_splitter()
    found = total = 0
    for meeting in meetings:
        text, starts = transcript_with_offsets(meeting)
        chunks = splitter.split_documents([Document(page_content=text)])
        store = FAISS.from_documents(chunks, embeddings)
        for query in meeting["specific_query_list"]:
            hits = store.similarity_search(query["query"], k=5)
            spans = []
            for hit in hits:
                begin = hit.metadata["start_index"]
                first = bisect.bisect_right(starts, begin) - 1
                last = bisect.bisect_right(starts, begin + len(hit.page_content) - 1) - 1
                spans.append((first, last))
            gold = gold_turns(query)
            found += any(a <= t <= b for a, b in spans for t in gold)
            total += 1
    return found, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meetings", type=int, default=0, help="first N meetings (0: all)")
    args = parser.parse_args()
    with open(EVAL / "qmsum" / "val.jsonl", encoding="utf-8") as handle:
        meetings = [json.loads(line) for line in handle if line.strip()]
    if args.meetings:
        meetings = meetings[: args.meetings]
    header(f"meeting retrieval recall, QMSum val, {len(meetings)} meetings, "
           f"budget {BUDGET} characters")
    with tempfile.TemporaryDirectory() as folder, timed() as ours_s:
        ours = docchat_recall(meetings, Path(folder))
    with timed() as theirs_s:
        theirs = langchain_recall(meetings)
    ours_recall, theirs_recall = ours[0] / ours[1], theirs[0] / theirs[1]
    print(f"docchat   recall {ours_recall:.3f} ({ours[0]}/{ours[1]} queries)  "
          f"{ours_s[0]:.0f} s incl. indexing")
    print(f"langchain recall {theirs_recall:.3f} ({theirs[0]}/{theirs[1]} queries)  "
          f"{theirs_s[0]:.0f} s incl. indexing")
    print(f"ratio docchat/langchain {ours_recall / theirs_recall:.2f}")


if __name__ == "__main__":
    main()
