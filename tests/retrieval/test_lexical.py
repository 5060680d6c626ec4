"""BM25 tokens: stems for Russian and English, ids kept whole; search follows the corpus."""

from __future__ import annotations

import numpy as np

from retrieval.search.lexical import LexicalIndex, tokenize


def test_russian_inflections_share_a_stem_and_ids_stay_whole() -> None:
    assert tokenize("договора")[0] == tokenize("договором")[0] == tokenize("Договор")[0]
    assert tokenize("deliveries delivered")[0] == tokenize("delivery")[0]
    assert tokenize("Accident CHI08CA047, card 4111-1111") == [
        "accid", "chi08ca047", "card", "4111", "1111"]


def test_search_ranks_by_bm25_and_honours_the_allowed_ids() -> None:
    corpus = {10: "Поставщик подписал договор поставки", 11: "The weather was calm",
              12: "Ticket JIRA-4812 blocks the release", 13: "Договором предусмотрен штраф"}
    generation = [1]
    index = LexicalIndex(lambda team: (list(corpus), list(corpus.values())),
                         lambda team: generation[0])
    assert [i for i, _ in index.search("договору", 5, "a")] in ([10, 13], [13, 10])
    assert [i for i, _ in index.search("JIRA-4812", 5, "a")] == [12]
    assert [i for i, _ in index.search("договор", 5, "a", allowed=[13, 11])] == [13]
    assert index.search("nothing matches this", 5, "a") == []
    corpus[14] = "Новый договор"
    generation[0] = 2  # the store reports a new corpus: the index rebuilds
    assert 14 in [i for i, _ in index.search("договор", 5, "a")]


def test_one_workspaces_words_never_change_another_workspaces_scores() -> None:
    """The word oracle: BM25 weighs words by their rarity in the corpus, so with one index over
    every team, how B's own notes rank for "quokka numbat" told B whether "quokka" occurs in
    A's documents. Each workspace's statistics are its own."""
    teams: dict[str, dict[int, str]] = {
        "b": {1: "Weekly notes about the zoo budget and the quokka",
              2: "Weekly notes about the zoo budget and the numbat"},
        "a": {},
    }
    generations = {"a": 1, "b": 1}
    index = LexicalIndex(lambda team: (list(teams[team]), list(teams[team].values())),
                         generations.__getitem__)
    before = index.search("quokka numbat", 5, "b")
    teams["a"] = {100 + i: f"Secret project quokka, part {i}" for i in range(40)}
    generations["a"] = 2
    after = index.search("quokka numbat", 5, "b")
    assert before == after and len(after) == 2
    assert {i for i, _ in index.search("quokka", 50, "a")} == set(teams["a"])
    assert all(i >= 100 for i, _ in index.search("quokka", 50, "a"))


def test_a_workspace_is_rebuilt_only_when_its_own_chunks_change() -> None:
    """With a hundred teams, one team's upload must not make every other team's next search
    rebuild its BM25 index."""
    teams = {"a": {1: "pump maintenance schedule"}, "b": {2: "pump warranty terms"}}
    generations = {"a": 1, "b": 1}
    loads: list[str] = []

    def load(team: str) -> tuple[list[int], list[str]]:
        loads.append(team)
        return list(teams[team]), list(teams[team].values())

    index = LexicalIndex(load, generations.__getitem__)
    index.search("pump", 5, "a")
    index.search("pump", 5, "b")
    teams["a"][3] = "pump spare parts"
    generations["a"] = 2
    assert {i for i, _ in index.search("pump", 5, "a")} == {1, 3}
    assert [i for i, _ in index.search("pump", 5, "b")] == [2]
    assert loads == ["a", "b", "a"]


def test_the_allowed_ids_may_name_chunks_the_index_does_not_hold() -> None:
    corpus = {5: "pump valve", 7: "pump seal", 9: "pump gasket"}
    index = LexicalIndex(lambda team: (list(corpus), list(corpus.values())), lambda team: 1)
    found = index.search("pump", 5, "a", allowed=np.array([1, 7, 8, 9, 40], dtype=np.int64))
    assert sorted(i for i, _ in found) == [7, 9]
    assert index.search("pump", 5, "a", allowed=np.array([6], dtype=np.int64)) == []
