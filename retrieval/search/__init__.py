"""Finding passages: the embedding model (`embeddings`), the FAISS vector index
(`faiss_index`), where it runs (`devices`) and one index per embedding model (`spaces`), what a
filter allows, kept per change of a workspace's chunks (`filters`), exact search of the allowed
part of an index (`subsets`), BM25 (`lexical`), hybrid search over both (`hybrid`), indexing a
stored upload (`indexing`), the worker's indexing of several uploads embedded together
(`batches`) and rebuilding after a model change (`rebuild`). Imports `core`, `storage` and
`ingest`."""
