"""BM25 tokens: stems for Russian and English, ids kept whole; search follows the corpus."""

from __future__ import annotations

from retrieval.lexical import LexicalIndex, tokenize


def test_russian_inflections_share_a_stem_and_ids_stay_whole() -> None:
    assert tokenize("договора")[0] == tokenize("договором")[0] == tokenize("Договор")[0]
    assert tokenize("deliveries delivered")[0] == tokenize("delivery")[0]
    assert tokenize("Accident CHI08CA047, card 4111-1111") == [
        "accid", "chi08ca047", "card", "4111", "1111"]


def test_search_ranks_by_bm25_and_honours_the_allowed_ids() -> None:
    corpus = {10: "Поставщик подписал договор поставки", 11: "The weather was calm",
              12: "Ticket JIRA-4812 blocks the release", 13: "Договором предусмотрен штраф"}
    generation = [1]
    index = LexicalIndex(lambda: (list(corpus), list(corpus.values())), lambda: generation[0])
    assert [i for i, _ in index.search("договору", 5)] in ([10, 13], [13, 10])
    assert [i for i, _ in index.search("JIRA-4812", 5)] == [12]
    assert [i for i, _ in index.search("договор", 5, allowed=[13, 11])] == [13]
    assert index.search("nothing matches this", 5) == []
    corpus[14] = "Новый договор"
    generation[0] = 2  # the store reports a new corpus: the index rebuilds
    assert 14 in [i for i, _ in index.search("договор", 5)]
