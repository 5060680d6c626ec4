"""The SQLite file beside the index: documents and their chunk texts (`store`), the documents
whose vectors are still to come (`awaiting`), meeting jobs (`jobs`), users and API keys
(`accounts`), each collection's Slack webhook (`webhooks`), the vectors of texts already
embedded (`embedding_cache`) and the library's figures (`library_stats`). Imports `core` and
`ingest` only."""
