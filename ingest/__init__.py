"""Turn uploaded file bytes into documents (pages or speaker turns), and documents into chunks.

Pure: no network, no GPU, no knowledge of the index or the queue. Import the submodules
(`ingest.formats`, `ingest.chunking`, ...) directly; this package imports nothing, so the
parsing sandbox starts light.
"""
