"""The hand-made gold tables in tests/data/tables/ and the rules that score a table against them.

- `ntsb.json`: one row per NTSB report in ../shared/eval/pdfs/ntsb, six columns; each cell the
  normalized value, the verbatim quote (as docchat's parser reads the page) and its page.
- `records.json`: one row per line of `records_en.txt` and `records_ru.txt` (messy sales
  records typed by people), seven columns; each cell the value and the quote from its line.

Light to import (no model, no PDF parser, nothing from docchat): the gold test and the benchmark
both use it, and its readings of dates, numbers and yes/no are its own, so that the gold is not
checked by the code it measures.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TABLES = REPO / "tests" / "data" / "tables"
EVAL_PDFS = REPO.parent / "shared" / "eval" / "pdfs"
TYPES = ("text", "number", "date", "enum", "boolean")

# Numbers are right within this share of the gold value.
NUMBER_TOLERANCE = 0.005
# Text cells are right when the token F1 against the gold value (or an accepted variant) is at
# least this.
TEXT_F1 = 0.8


@dataclass(frozen=True)
class GoldColumn:
    name: str
    type: str
    description: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class GoldCell:
    value: str | float | bool | None  # None: the source does not state it
    quote: str = ""
    page: int | None = None  # NTSB: the 1-based page that holds the quote
    also: tuple[str, ...] = ()  # other answers a reader could fairly give
    why: str = ""  # for a None value: why the source does not state it


@dataclass(frozen=True)
class GoldRow:
    file: str  # a PDF's name under EVAL_PDFS/ntsb, or a records file under TABLES
    line: int | None  # records: the 1-based line of `file`
    language: str
    cells: dict[str, GoldCell]


@dataclass(frozen=True)
class GoldTable:
    columns: tuple[GoldColumn, ...]
    rows: tuple[GoldRow, ...]


def load_table(path: Path) -> GoldTable:
    data = json.loads(path.read_text(encoding="utf-8"))
    columns = tuple(GoldColumn(c["name"], c["type"], c["description"], tuple(c.get("values", ())))
                    for c in data["columns"])
    rows = []
    for row in data["rows"]:
        cells = {name: GoldCell(cell["value"], cell.get("quote", ""), cell.get("page"),
                                tuple(cell.get("also", ())), cell.get("why", ""))
                 for name, cell in row["cells"].items()}
        rows.append(GoldRow(row["file"], row.get("line"), row.get("language", "en"), cells))
    return GoldTable(columns, tuple(rows))


def load_ntsb() -> GoldTable:
    return load_table(TABLES / "ntsb.json")


def load_records() -> GoldTable:
    return load_table(TABLES / "records.json")


# ---- reading text -----------------------------------------------------------------------

def fold(text: str) -> str:
    """NFKC, case folded, ё as е, typographic quotes and dashes plain, table-cell bars and
    runs of whitespace as one space: how quotes are compared with their source."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    text = re.sub(r"[«»“”„\"]", '"', text)
    text = re.sub(r"[‘’‚']", "'", text)
    text = re.sub(r"[‐‑‒–—―−]", "-", text)
    return " ".join(text.replace("|", " ").split())


def squash(text: str) -> str:
    """Whitespace runs as one space, nothing else changed: how the gold's quotes must stand
    in their page or line."""
    return " ".join(text.split())


def quote_in(quote: str, texts: Iterable[str]) -> bool:
    """The quote, compared by `fold`, is in one of the texts."""
    wanted = fold(quote)
    return bool(wanted) and any(wanted in fold(text) for text in texts)


_MONTHS = {name: number for number, names in enumerate((
    ("january", "jan", "января", "январь"), ("february", "feb", "февраля", "февраль"),
    ("march", "mar", "марта", "март"), ("april", "apr", "апреля", "апрель"),
    ("may", "мая", "май"), ("june", "jun", "июня", "июнь"), ("july", "jul", "июля", "июль"),
    ("august", "aug", "августа", "август"), ("september", "sep", "sept", "сентября",
                                            "сентябрь"),
    ("october", "oct", "октября", "октябрь"), ("november", "nov", "ноября", "ноябрь"),
    ("december", "dec", "декабря", "декабрь")), start=1) for name in names}
_MONTH = "(" + "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True)) + r")\.?"
_DATE_FORMS = (
    (re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)"), ("y", "m", "d")),
    (re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)"), ("m", "d", "y")),  # US
    (re.compile(r"(?<!\d)(\d{1,2})\.(\d{1,2})\.(\d{4})(?!\d)"), ("d", "m", "y")),
    (re.compile(rf"(?<!\d)(\d{{1,2}}) {_MONTH},? (\d{{4}})(?!\d)"), ("d", "m", "y")),
    (re.compile(rf"(?<![^\W\d_]){_MONTH} (\d{{1,2}}),? (\d{{4}})(?!\d)"), ("m", "d", "y")),
)


def dates_in(text: str) -> list[str]:
    """Every date `text` writes with its year, as ISO strings, in order: 2024-03-05,
    03/05/2024 (US: month first), 05.03.2024, 5 Mar 2024, March 5, 2024, 5 марта 2024."""
    found: list[tuple[int, str]] = []
    lowered = text.casefold()
    for pattern, order in _DATE_FORMS:
        for match in pattern.finditer(lowered):
            parts = dict(zip(order, match.groups(), strict=True))
            month = int(parts["m"]) if parts["m"].isdigit() else _MONTHS[parts["m"]]
            try:
                found.append((match.start(),
                              date(int(parts["y"]), month, int(parts["d"])).isoformat()))
            except ValueError:
                continue
    return [iso for _, iso in sorted(found)]


_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:,\d+)?(?!\d)"
                     r"|(?<![\d.,])\d+(?:[.,]\d+)*(?!\d)")


def numbers_in(text: str) -> list[float]:
    """Every number `text` writes: 1,250 and 1 250 are 1250; 12 500,50 and 1,237.50 keep
    their decimals; 1,5 is 1.5 (a comma before one, two or four digits is a decimal comma)."""
    values = []
    for match in _NUMBER.finditer(text):
        token = re.sub(r"[ \u00a0\u202f]", "", match.group())
        if "," in token and "." in token:
            decimal = "," if token.rfind(",") > token.rfind(".") else "."
            token = token.replace("." if decimal == "," else ",", "").replace(decimal, ".")
        elif "," in token:
            groups = token.split(",")
            thousands = len(groups) > 2 or len(groups[-1]) == 3
            token = token.replace(",", "") if thousands else token.replace(",", ".")
        elif token.count(".") > 1:
            token = token.replace(".", "")
        try:
            values.append(float(token))
        except ValueError:
            continue
    return values


def number_of(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        numbers = numbers_in(value)
        return numbers[0] if numbers else None
    return None


def same_number(a: float, b: float, tolerance: float = NUMBER_TOLERANCE) -> bool:
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=1e-9)


# How the records say "paid" and "not paid"; a quote that says "not paid" says nothing else.
NOT_PAID = ("unpaid", "not paid", "not yet paid", "pending", "overdue", "owes", "awaiting",
            "не оплач", "неоплач", "в долг", "долг", "ждем оплат", "ожидается", "просроч")
PAID = ("paid", "settled", "оплачен", "оплатил", "оплата картой", "предоплата 100")


def boolean_in(quote: str) -> bool | None:
    """What a quote says of "paid": False when it says not paid, True when it says paid."""
    said = fold(quote)
    if any(cue in said for cue in NOT_PAID):
        return False
    if any(cue in said for cue in PAID):
        return True
    return None


def boolean_of(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        said = fold(value).strip(".")
        if said in {"true", "yes", "y", "да", "1", "paid", "оплачено"}:
            return True
        if said in {"false", "no", "n", "нет", "0", "unpaid", "не оплачено"}:
            return False
    return None


# Words a currency is written with, beyond its code.
ENUM_CUES = {"usd": ("$", "usd", "dollar", "долл"), "eur": ("€", "eur", "euro", "евро"),
             "rub": ("₽", "rub", "руб")}


def enum_in(value: str, quote: str) -> bool:
    """The quote says the enum value: the value itself, or a currency by its sign or name."""
    said = fold(quote)
    cues = ENUM_CUES.get(fold(value), (fold(value),))
    return any(cue in said for cue in cues)


# ---- text ---------------------------------------------------------------------------------

# Legal forms say nothing of who a customer is: "ООО «Ромашка»" is "Ромашка".
LEGAL_FORMS = {"ооо", "оао", "зао", "пао", "ао", "ип", "ltd", "llc", "inc", "corp", "co",
               "company", "gmbh", "plc"}
# Russian endings, longest first: "арматуры" and "арматура" are one word.
_ENDINGS = sorted(("а", "я", "ы", "и", "у", "ю", "е", "о", "ь", "ов", "ев", "ей", "ам", "ям",
                   "ами", "ями", "ах", "ях", "ого", "его", "ому", "ему", "ой", "ый", "ий",
                   "ая", "яя", "ое", "ее", "ые", "ие", "ых", "их", "ым", "им", "ую", "юю", "ом",
                   "ем", "ия", "ию", "ией"), key=len, reverse=True)


def tokens(text: str) -> list[str]:
    """Words and numbers of `text`, folded; "BD-700-1A11" is bd, 700, 1a11."""
    return re.findall(r"[^\W_]+", fold(text))


def stem(token: str) -> str:
    if any(ch.isdigit() for ch in token):
        return token
    if re.fullmatch(r"[а-я]+", token):
        for ending in _ENDINGS:
            if token.endswith(ending) and len(token) - len(ending) >= 3:
                return token[:-len(ending)]
        return token
    return token[:-1] if len(token) > 3 and token.endswith("s") and not token.endswith("ss") \
        else token


def same_word(a: str, b: str) -> bool:
    """One word in two forms: equal stems, or (Russian) a shared start all but two letters
    long ("бутылок", "бутылки")."""
    if stem(a) == stem(b):
        return True
    if re.fullmatch(r"[а-я]+", a) and re.fullmatch(r"[а-я]+", b):
        shared = len(_common_prefix(a, b))
        return shared >= max(4, min(len(a), len(b)) - 2)
    return False


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def token_f1(predicted: str, gold: str) -> float:
    """F1 of the two texts' words (legal forms aside; one word matches one word, in any
    form `same_word` allows)."""
    p = [t for t in tokens(predicted) if t not in LEGAL_FORMS]
    g = [t for t in tokens(gold) if t not in LEGAL_FORMS]
    if not p or not g:
        return 0.0
    free, matched = list(g), 0
    for word in p:
        hit = next((k for k, other in enumerate(free) if same_word(word, other)), None)
        if hit is not None:
            free.pop(hit)
            matched += 1
    return 2 * matched / (len(p) + len(g))


def text_in(value: str, quote: str) -> bool:
    """Every word of the value is in the quote (in some form)."""
    said = tokens(quote)
    words = tokens(value)
    return bool(words) and all(any(same_word(w, s) for s in said) for w in words)


# ---- scoring ------------------------------------------------------------------------------

_EMPTY = {"", "null", "none", "n/a", "na", "-", "unknown", "not stated", "not given",
          "not mentioned", "not specified", "нет данных", "неизвестно"}


def is_empty(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and fold(value).strip(".") in _EMPTY


def correct(column: GoldColumn, predicted: object, gold: GoldCell) -> bool:
    """Whether a predicted value is the gold one, by the column's type: the same ISO date; a
    number within 0.5%; the same enum value or yes/no; text with token F1 >= 0.8 against the
    gold value or a variant. An empty gold cell is right only when the prediction is empty
    too. (An enum column of the NTSB table holds "None" as a value: only there is "none" a
    value and not an empty cell.)"""
    if gold.value is None:
        return is_empty(predicted)
    if column.type == "enum" and isinstance(predicted, str) and predicted.strip():
        return any(fold(predicted) == fold(str(v)) for v in (gold.value, *gold.also))
    if is_empty(predicted):
        return False
    if column.type == "date":
        found = dates_in(predicted) if isinstance(predicted, str) else []
        return bool(found) and found[0] == gold.value
    if column.type == "number":
        number = number_of(predicted)
        return number is not None and same_number(number, float(gold.value))  # type: ignore[arg-type]
    if column.type == "boolean":
        return boolean_of(predicted) is gold.value
    if column.type == "enum":
        return False
    return any(token_f1(str(predicted), str(v)) >= TEXT_F1 for v in (gold.value, *gold.also))


def supports(column: GoldColumn, value: object, quote: str) -> bool:
    """Whether the quote states the value, by the column's type: the date written in it, the
    number written in it (within 0.5%), the enum value or its currency sign, the yes/no said,
    every word of a text value."""
    if is_empty(value) and not (column.type == "enum" and value):
        return False
    if column.type == "date":
        iso = dates_in(value)[:1] if isinstance(value, str) else []
        return bool(iso) and iso[0] in dates_in(quote)
    if column.type == "number":
        number = number_of(value)
        return number is not None and any(same_number(number, n) for n in numbers_in(quote))
    if column.type == "boolean":
        wanted = boolean_of(value)
        return wanted is not None and boolean_in(quote) is wanted
    if column.type == "enum":
        return isinstance(value, str) and enum_in(value, quote)
    return isinstance(value, str | int | float) and text_in(str(value), quote)


def rule_lines() -> Sequence[str]:
    """The scoring rules, as the benchmark prints them."""
    return (
        "cell accuracy = right cells / all gold cells; date: the same ISO date; number: within "
        f"{NUMBER_TOLERANCE:.1%}; enum, boolean: the same value (case aside); text: token F1 >= "
        f"{TEXT_F1} with the gold value or an accepted variant (words folded, Russian endings "
        "and English plural -s aside, legal forms such as ООО/Ltd dropped); an empty gold "
        "cell is right only when the prediction is empty",
        "evidence = filled cells whose quote is in the source (case and whitespace aside) and "
        "states the value (the date, the number, the enum or its currency sign, paid or not, "
        "every word of a text); docchat's cells count only when its own status is ok too",
    )


def as_json(value: Any) -> Any:
    """A predicted value as JSON can hold it (NaN as None)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
