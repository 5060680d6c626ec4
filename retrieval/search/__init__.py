"""Finding passages: the embedding model (`embeddings`), the FAISS vector index
(`faiss_index`) and one index per embedding model (`spaces`), BM25 (`lexical`), hybrid search
over both (`hybrid`), indexing a stored upload (`indexing`) and rebuilding after a model change
(`rebuild`). Imports `core`, `storage` and `ingest`."""
