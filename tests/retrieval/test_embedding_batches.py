"""How the Embedder counts tokens and batches texts: counts are the tokenizer's own, never cut
at the model's limit; encode batches hold texts of like token length (the longest first), and
the vectors come back in the caller's order, as each text alone would get them.

The real bundled model on the CPU throughout."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from retrieval.search.embeddings import BUCKET_SLACK, Embedder

PROSE = "The engine lost power on the climb and the pilot turned back to the field."
TABLE = "Item | Qty | Price\noak doors | 40 | 4,300.00\ncopper cable | 500 | 1,250.75"
RUSSIAN = "Поставщик обязуется передать товар покупателю до 19.04.2024 включительно."


def _texts() -> list[str]:
    """Texts of many token lengths, out of order: prose of 1 to 12 sentences, tables, Russian."""
    texts = [" ".join([PROSE] * n) for n in (3, 1, 12, 5, 2, 7)]
    texts += [TABLE, "\n".join([TABLE] * 4), RUSSIAN, " ".join([RUSSIAN] * 3), "Yes.", ""]
    return [f"{n}. {text}" for n, text in enumerate(texts * 3)]


def _wrapper_count(embedder: Embedder, text: str) -> int:
    return len(embedder.model.tokenizer(text, add_special_tokens=False,
                                        verbose=False)["input_ids"])


def test_counts_are_the_tokenizers_and_never_cut_at_the_models_limit(embedder) -> None:
    long = " ".join([PROSE] * 40)
    embedder.embed([long])  # an encode truncates the model's own tokenizer to its limit
    assert embedder.count_tokens(long) == _wrapper_count(embedder, long) > embedder.max_tokens
    for text in _texts():
        assert embedder.count_tokens(text) == _wrapper_count(embedder, text), text


def test_batches_hold_texts_of_like_length_longest_first(embedder) -> None:
    small = Embedder(device="cpu", batch_size=4)
    texts = _texts()
    batches = small.batches(texts)
    assert sorted(i for batch in batches for i in batch) == list(range(len(texts)))
    lengths = [min(small.count_tokens(t), small.max_tokens) for t in texts]
    assert all(0 < len(batch) <= 4 for batch in batches)
    for batch in batches:
        inside = [lengths[i] for i in batch]
        assert inside == sorted(inside, reverse=True)
        assert min(inside) >= (1 - BUCKET_SLACK) * max(inside), inside
    firsts = [lengths[batch[0]] for batch in batches]
    assert firsts == sorted(firsts, reverse=True)
    # Texts of one length fill whole batches.
    assert [len(b) for b in small.batches([PROSE] * 10)] == [4, 4, 2]


def test_vectors_come_back_in_order_as_each_text_alone_gets_them(embedder) -> None:
    texts = _texts()
    vectors = embedder.embed(texts)
    alone = np.stack([embedder.model.encode([t], normalize_embeddings=True)[0]
                      for t in texts])
    assert vectors.shape == (len(texts), embedder.dim) and vectors.dtype == np.float32
    assert np.allclose(vectors, alone, atol=1e-5)
    assert embedder.embed([]).shape == (0, embedder.dim)


def test_counting_from_threads_while_embedding_neither_fails_nor_blocks(embedder) -> None:
    texts = _texts()
    expected = [_wrapper_count(embedder, t) for t in texts]
    with ThreadPoolExecutor(4) as pool:
        embedding = [pool.submit(embedder.embed, texts) for _ in range(2)]
        counted = [pool.submit(lambda: [embedder.count_tokens(t) for t in texts])
                   for _ in range(6)]
        assert all(f.result(timeout=120) == expected for f in counted)
        assert all(f.result(timeout=120).shape == (len(texts), embedder.dim)
                   for f in embedding)
