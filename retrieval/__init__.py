"""Chunks into an index, and questions into cited answers, meeting results and tables.

Seven rooms, each allowed to import only the rooms below it (import-linter checks this, see
pyproject.toml), and `ingest`:

- `tables`: documents and pasted records into tables whose every cell is proven by a quote;
  it reuses the meetings' dates and the parts that fit the model.
- `answers` and `meetings` (side by side, neither imports the other): cited answers to
  questions; summaries and commitments of meetings.
- `search` and `llm` (side by side): the embedding model, the vector and lexical indexes and
  hybrid search; the client of the OpenAI-compatible LLM server and the local models docchat
  serves.
- `storage`: the SQLite file beside the index (documents and chunks, jobs, accounts, webhooks).
- `core`: settings from the environment, logs, the data folder, bundled packages, language.

`runtime.py` sits above them all: it builds, once per process and from one `Settings`, the
parts the rooms define. `web` and `workers` use retrieval through it.
"""
