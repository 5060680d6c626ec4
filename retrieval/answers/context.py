"""What the model reads with a question: as many passages as its context window holds.

The budget is the served window (what the server reports, else DOCCHAT_LLM_CONTEXT) less the
reply, the prompt and a tenth for the chat template, the way meeting summaries size their
parts, and never more than DOCCHAT_ANSWER_CONTEXT_CHARS. Passages are chosen by a first guess
at characters per token, then counted with the server's tokenizer and trimmed when they do
not fit. When a question's scope holds a few documents, each gets its share of the budget, so
one long filing does not crowd out the others in "how did X change over the quarters".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from retrieval.search.hybrid import Hit, fit_budget

# The first guess, high for English with common tokenizers (about 4 characters a token):
# passages chosen by it are counted and trimmed, never added to, so guessing high loses nothing.
CHARS_PER_TOKEN = 4.5
# What a source's fence (<source n="1" from="report.pdf, page 3">) costs, in tokens.
FENCE_TOKENS = 24
# A scope of at most this many documents shares the budget between them; a larger one (a
# collection of hundreds) is searched as one pool, best passages first.
SHARED_DOCUMENTS = 8


@dataclass(frozen=True)
class ContextBudget:
    """Room for passages in one answer request."""

    window: int  # tokens the model reads and writes in one request
    reply_tokens: int
    prompt_tokens: int  # system prompt, template and question
    cap_chars: int  # DOCCHAT_ANSWER_CONTEXT_CHARS

    @property
    def tokens(self) -> int:
        return max(0, self.window - self.reply_tokens - self.prompt_tokens - self.window // 10)

    @property
    def chars(self) -> int:
        """Characters to search for: the token room at a generous guess, within the cap."""
        return min(self.cap_chars, int(self.tokens * CHARS_PER_TOKEN))


def fit_tokens(hits: list[Hit], tokens: int, count_tokens: Callable[[str], int]) -> list[Hit]:
    """`hits` (best first) trimmed until their text, fences included, counts at most `tokens`
    tokens with the model's tokenizer; the best passage stays even when it alone is over (the
    caller halves it on a context overflow)."""
    for _ in range(4):
        if len(hits) <= 1:
            return hits
        counted = count_tokens("\n\n".join(hit.text for hit in hits)) + FENCE_TOKENS * len(hits)
        if counted <= tokens:
            return hits
        chars = sum(len(hit.text) for hit in hits)
        hits = fit_budget(hits, int(chars * tokens / counted * 0.97)) or hits[:1]
    return hits


def interleave(per_document: list[list[Hit]]) -> list[Hit]:
    """Each document's best passage, then each one's second best, ...: trimmed from the end
    to fit the tokenizer's count, every document keeps its best ones."""
    merged: list[Hit] = []
    for rank in range(max((len(hits) for hits in per_document), default=0)):
        merged.extend(hits[rank] for hits in per_document if rank < len(hits))
    return merged


def in_reading_order(hits: list[Hit]) -> list[Hit]:
    """The passages as the documents run: documents in the order of their best passage, each
    document's passages by position. The model reads a form or a protocol as it was written
    (a table after its heading, a finding after its analysis), and questions about one
    document share the start of their prompts, which servers that cache a prompt's prefix
    (llama.cpp, vLLM) do not read again."""
    order = list(dict.fromkeys(hit.document_id for hit in hits))
    return sorted(hits, key=lambda hit: (order.index(hit.document_id), hit.first_ordinal))
