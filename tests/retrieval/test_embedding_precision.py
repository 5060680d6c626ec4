"""The embedding model's device and precision (DOCCHAT_EMBEDDING_DEVICE, _PRECISION): half
precisions give the vectors fp32 gives, a model that overflows fails its batch naming the
setting instead of indexing NaN, and a GPU that is asked for but does not work is refused.

The real bundled model on the CPU throughout; only a broken or working GPU is posed, through
pick_device's `problem` parameter (the CUDA check)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from retrieval.search.embeddings import (
    DeviceUnavailable,
    Embedder,
    NonFiniteEmbeddings,
    pick_device,
    pick_precision,
)

TEXTS = ["The engine lost power on the climb.", "Visibility was 10 miles under a clear sky."]


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precisions_give_the_vectors_fp32_gives(embedder, precision: str) -> None:
    half = Embedder(device="cpu", precision=precision)
    vectors = half.embed(TEXTS)
    assert half.precision == precision and vectors.dtype == np.float32
    cosines = (vectors * embedder.embed(TEXTS)).sum(axis=1)
    assert np.all(cosines > 0.99), cosines


def test_auto_precision_is_fp32_on_the_cpu_and_fp16_on_a_gpu(embedder) -> None:
    assert embedder.precision == "fp32"
    assert pick_precision("auto", "cuda") == "fp16" and pick_precision("auto", "cpu") == "fp32"
    with pytest.raises(ValueError, match="DOCCHAT_EMBEDDING_PRECISION is 'half'"):
        pick_precision("half", "cpu")


def test_a_model_that_overflows_in_fp16_fails_the_batch_naming_the_setting() -> None:
    overflowing = Embedder(device="cpu", precision="fp16")
    weights = next(p for name, p in overflowing.model.named_parameters()
                   if name.endswith("word_embeddings.weight"))
    with torch.no_grad():
        weights.mul_(1e5)  # past fp16's largest number, 65504: the activations become inf
    with pytest.raises(NonFiniteEmbeddings) as refused:
        overflowing.embed(TEXTS)
    message = str(refused.value)
    assert "NaN or infinite vectors for 2 of 2 texts, so none of them was indexed" in message
    assert "in fp16" in message and "DOCCHAT_EMBEDDING_PRECISION=fp32" in message


def test_cuda_asked_for_where_it_does_not_work_is_refused_with_what_to_do() -> None:
    with pytest.raises(DeviceUnavailable) as refused:  # this machine's CPU-only torch
        pick_device("cuda")
    message = str(refused.value)
    assert message.startswith("DOCCHAT_EMBEDDING_DEVICE=cuda, but CUDA does not work here: "
                              f"the installed torch {torch.__version__} is a CPU-only build.")
    assert "make install-gpu" in message and "DOCCHAT_EMBEDDING_DEVICE=auto" in message


def test_auto_takes_a_working_gpu_and_falls_back_to_the_cpu_saying_why() -> None:
    assert pick_device("auto", problem=lambda: None)[0] == "cuda"
    broken = "a test computation on the GPU failed: CUDA error: no kernel image is available"
    assert pick_device("auto", problem=lambda: broken) == ("cpu", f"no usable GPU: {broken}")
    assert pick_device("cpu", problem=lambda: broken)[0] == "cpu"
