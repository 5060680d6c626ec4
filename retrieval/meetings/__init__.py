"""Meetings into summaries and commitments: a meeting as numbered segments split into parts
that fit the model (`segments`), summaries over the parts (`summaries`), who promised what to
whom by when (`commitments`, `promise_cues`, `dates`), one request's work (`request`) and
its result, the models the job, the API, the exports and Slack read (`results`).
Imports `llm`, `storage`, `core` and `ingest`; not `search` or `answers`."""
