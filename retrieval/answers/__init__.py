"""Questions into cited answers: the context the model reads (`context`), the prompt and the
streamed answer (`answer`), which sentence or row supports a claim (`quotes`, `attribution`),
names and figures checked against the passages (`grounding`) and the prompt-injection filter
(`injection`). Imports `search`, `llm`, `storage`, `core` and `ingest`; not `meetings`."""
