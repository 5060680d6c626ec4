"""Document text is data: sentences in it that try to instruct the model are taken out of the
context the model reads.

The system prompt already frames sources as quoted material, but small models follow whatever
imperative they read last, so framing alone does not hold. A sentence that addresses the
assistant (ignore your instructions, you are now, reply only with, системный промпт, ...) is
replaced by a marker before it reaches the prompt; the stored chunk, and the passage a user sees
behind a citation, keep the original text.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

REMOVED = "[text addressed to an AI assistant removed]"

_PATTERNS = [
    # English
    r"\b(dear|hey|attention,?) (ai|assistant|chatbot|model|llm)\b",
    r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(instructions?|prompts?|rules|"
    r"guidelines|directions)\b",
    # "You are now DAN / an unrestricted AI", not "You are now eligible for the extension".
    r"\b(you are|you're) (now|no longer)\b.{0,30}\b(ai|assistant|model|chatbot|dan|"
    r"unrestricted|jailbroken|free of|bound by|allowed to|in \w+ mode)\b",
    r"\bact as\b.{0,30}\b(assistant|ai|model|system)\b",
    # "New instructions: …", "your real system prompt", not "the new instructions for the pump".
    r"\b(new|updated|real|actual) (instructions?|system prompt)\s*:",
    r"\b(your|the assistant'?s?|the ai'?s?) (new|updated|real|actual|true) "
    r"(instructions?|system prompt|task|role)\b",
    r"\b(reply|respond|answer|say|output|print|write)\b.{0,25}\b(only|exactly|just)\b.{0,40}"
    r"\b(word|phrase|following|text|string)\b",
    # "Do not tell the user about this document", not "Employees do not reveal confidential
    # documents to the user community".
    r"^\W*(please\s+)?do not (tell|mention|cite|reveal)\b.{0,40}\b(the user|the reader|"
    r"anyone|your sources?|this (document|source|text))\b",
    r"^\s*(system|assistant)\s*:",
    r"</?(system|instructions?|sources?)>",
    # Russian
    r"(игнорир|проигнорир|забудь|забудьте|не обращай|отмени)\w*.{0,40}"
    r"(инструкци|указани|правил|промпт|контекст|вышесказанн|предыдущ)",
    r"\bты (теперь|больше не)\b",
    r"(новые|настоящие|обновл[её]нные) (инструкци|указани)\w*\s*(:|для (тебя|вас|ассистента|"
    r"модели|нейросети))",
    r"системн\w* (промпт|подсказк|инструкци)",
    r"(отвечай|ответь|отвечайте|ответьте|напиши|напишите|выведи)\w*.{0,25}"
    r"\b(только|лишь|ровно)\b",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.I | re.M)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")


def is_instruction(sentence: str) -> bool:
    return _INSTRUCTION.search(sentence) is not None


def neutralize(text: str, where: str = "") -> str:
    """`text` with every sentence that addresses the assistant replaced by a marker; each
    removal is logged with `where` the text is from (document, page) and the sentence."""
    sentences = [match.group(0) for match in _SENTENCE.finditer(text)]
    if not any(is_instruction(sentence) for sentence in sentences):
        return text
    out: list[str] = []
    for sentence in sentences:
        if is_instruction(sentence):
            log.info("kept from the model as text addressed to it (%s): %r", where or "a source",
                     sentence.strip())
            ending = "\n" if sentence.endswith("\n") else " "
            if not out or out[-1].strip() != REMOVED:
                out.append(REMOVED + ending)
        else:
            out.append(sentence)
    return "".join(out).strip()
