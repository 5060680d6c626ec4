"""Which language a text is in, for the two docchat writes prompts in: English and Russian."""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["en", "ru"]

_LETTER = re.compile(r"[^\W\d_]")
_CYRILLIC = re.compile(r"[а-яё]", re.I)


def language_of(text: str) -> Language:
    """'ru' when at least a third of the letters are Cyrillic, else 'en'."""
    letters = _LETTER.findall(text)
    if not letters:
        return "en"
    cyrillic = sum(1 for ch in letters if _CYRILLIC.match(ch))
    return "ru" if cyrillic * 3 >= len(letters) else "en"
