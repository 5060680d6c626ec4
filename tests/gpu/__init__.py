"""The GPU check (`python -m tests.gpu.check`): what a GPU machine does with docchat's FAISS
index, embedder and workers, each part measured in a process of its own (tests/gpu/parts.py)."""
