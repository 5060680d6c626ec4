"""Document text is data: sentences in it that try to instruct the model are taken out of the
context the model reads.

The system prompt already frames sources as quoted material, but small models follow whatever
imperative they read last, so framing alone does not hold. A sentence that addresses the
assistant (ignore your instructions, you are now, reply only with, системный промпт, ...) is
replaced by a marker before it reaches the prompt; the stored chunk, and the passage a user sees
behind a citation, keep the original text.
"""

from __future__ import annotations

import re

REMOVED = "[text addressed to an AI assistant removed]"

_PATTERNS = [
    # English
    r"\b(dear|hey|attention,?) (ai|assistant|chatbot|model|llm)\b",
    r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(instructions?|prompts?|rules|"
    r"guidelines|directions)\b",
    r"\b(you are|you're) (now|no longer)\b",
    r"\bact as\b.{0,30}\b(assistant|ai|model|system)\b",
    r"\b(new|updated|real|actual) (instructions?|system prompt)\b",
    r"\b(reply|respond|answer|say|output|print|write)\b.{0,25}\b(only|exactly|just)\b.{0,40}"
    r"\b(word|phrase|following|text|string)\b",
    r"\bdo not (tell|mention|cite|reveal)\b.{0,40}\b(user|source|document)s?\b",
    r"^\s*(system|assistant)\s*:",
    r"</?(system|instructions?|sources?)>",
    # Russian
    r"(игнорир|проигнорир|забудь|забудьте|не обращай|отмени)\w*.{0,40}"
    r"(инструкци|указани|правил|промпт|контекст|вышесказанн|предыдущ)",
    r"\bты (теперь|больше не)\b",
    r"(новые|настоящие|обновл[её]нные) (инструкци|указани)",
    r"системн\w* (промпт|подсказк|инструкци)",
    r"(отвечай|ответь|отвечайте|ответьте|напиши|напишите|выведи)\w*.{0,25}"
    r"\b(только|лишь|ровно)\b",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.I | re.M)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")


def is_instruction(sentence: str) -> bool:
    return _INSTRUCTION.search(sentence) is not None


def neutralize(text: str) -> str:
    """`text` with every sentence that addresses the assistant replaced by a marker."""
    if not _INSTRUCTION.search(text):
        return text
    out: list[str] = []
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0)
        if is_instruction(sentence):
            ending = "\n" if sentence.endswith("\n") else " "
            if not out or out[-1].strip() != REMOVED:
                out.append(REMOVED + ending)
        else:
            out.append(sentence)
    return "".join(out).strip()
