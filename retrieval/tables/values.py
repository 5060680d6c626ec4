"""A cell's value read by its column's type, and kept only when its quote holds it.

The model gives each cell a value and a quote. The quote must occur in the source
(retrieval/tables/quotes.py), and the value must be what the quote says, by type:

- number: a number written in the quote equals it. Numbers are read as people write them:
  "1,250.50", "1 250,50", "1.250" (1.25 or 1250: the model's value decides which the quote
  meant), "-3", "12k", "3.5 million", "45%", with the unit next to them ("kg", "USD", "$",
  "руб.", "₽", "%").
- date: a date written in the quote is the same day (retrieval/meetings/dates.py reads
  "2008-01-04", "January 4, 2008", "04.01.2008", "4 января 2008 г."); one written without its
  year takes the year from the model's value only when the quote's page or line states it.
  Kept as ISO, YYYY-MM-DD.
- enum: the value is one of the column's values and the quote says it (its words), or, for a
  yes/no-like value, the quote's negation agrees.
- boolean: true when the quote states it without a negation, false when it negates it.
- text: most of the value's words are in the quote; or the quote is a few words sharing one
  with the value, and is then the value as the text writes it ("Belen, NM" for the model's
  "Belen, New Mexico").

A text value whose quote is not the text's own, but which itself occurs once, at word
boundaries, in the pages or line the model read, takes the line that holds it as its quote:
the evidence is still the source's own words, and they hold the value.

Anything else leaves the cell empty and marked: "unverified" with the reason when the model gave
a value, "missing" when it gave none. A cell is never filled with what its evidence does not
hold."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from retrieval.meetings.dates import dates_stated
from retrieval.tables.model import MISSING, Cell, Column
from retrieval.tables.quotes import Found, Index, fold, widened

# A quote longer than this is cut to the first of its sentences that holds the value alone;
# one that no sentence of it holds stays whole up to MAX_QUOTE characters.
SHORT_QUOTE = 200
MAX_QUOTE = 600
# Share of a text value's words that its quote must hold.
TEXT_SHARE = 0.8
# A quote of at most this many words that shares a word with a text value it does not hold
# ("Belen, NM" for "Belen, New Mexico") is the value, as the text writes it.
SHORT_TEXT_WORDS = 6

_EMPTY = {"", "null", "none", "n/a", "na", "-", "—", "unknown", "not stated", "not given",
          "not mentioned", "not specified", "not available", "нет данных", "неизвестно"}


@dataclass(frozen=True)
class Verdict:
    """What a quote says of a value: the normalized value and how it is shown, or why not."""

    value: str | float | bool | None
    text: str = ""
    unit: str | None = None
    reason: str = ""


def cell_of(column: Column, value: object, quote: object, index: Index,
            prefer: Collection[int] = (), within: Collection[int] | None = None) -> Cell:
    """The cell for the model's `value` and `quote`, checked against the source in `index`
    (a quote found in a unit of `prefer` wins over the same words elsewhere; with `within`,
    only a quote in those units counts: a record's own lines)."""
    if is_empty(value) and not (column.type == "enum" and isinstance(value, str) and any(
            v.casefold() == value.strip().casefold() for v in column.values)):
        return MISSING
    claimed = quote.strip() if isinstance(quote, str) else ""
    if not claimed and not (column.type == "text" and prefer):
        return _unverified(claimed, "The model gave no quote for this value.")
    found = index.find(claimed, prefer)
    if found is None and column.type == "text" and isinstance(value, str) and prefer:
        # The model's quote is not the text's, but its value is, once, in what it read: the
        # line that holds the value is the evidence.
        found = index.line_holding(value, prefer)
    if within is not None and (found is None or found.label not in within
                               or fold_words(claimed).strip(" .") in _YES | _NO):
        # A record's quote that is not its own words ("USD" for "$4,300", "8,960 EUR" for
        # "EUR 8,960", "yes" for "paid by wire", a bare "no" that occurs inside "not paid"):
        # the record's own line is the evidence when it states the value.
        own = _own_line(column, value, index, within)
        if own is not None:
            return own
    if found is None:
        return _unverified(claimed, "The quote is not in the text." if claimed
                           else "The model gave no quote for this value.")
    if within is not None and found.label not in within:
        return _unverified(found.quote, "The quote is from another record's line.")
    context = index.text[max(0, found.start - 300):found.end + 300]
    verdict, quote_text = _narrowed(column, value, found.quote, context)
    if verdict.value is None:
        return _unverified(found.quote, verdict.reason)
    page = found.label if index.source.unit_kind == "page" else None
    line = found.label if index.source.unit_kind == "line" else None
    if quote_text != found.quote:  # cut to one sentence: say where that sentence is
        narrowed = index.find(quote_text, {found.label})
        if narrowed is not None:
            found = Found(quote_text, narrowed.label, narrowed.start, narrowed.end)
            page = found.label if index.source.unit_kind == "page" else None
            line = found.label if index.source.unit_kind == "line" else None
    return Cell(verdict.value, verdict.text, verdict.unit, quote_text, page, line, "ok")


def _own_line(column: Column, value: object, index: Index, within: Collection[int],
              ) -> Cell | None:
    """The cell quoting the first of a record's own lines (`within`) that states `value`,
    for a source of lines; None when none does."""
    if index.source.unit_kind != "line":
        return None
    for unit in index.source.units:
        if unit.label not in within or not unit.text.strip():
            continue
        verdict, quote_text = _narrowed(column, value, unit.text.strip(), unit.text,
                                        rewritten=False)
        if verdict.value is not None:
            return Cell(verdict.value, verdict.text, verdict.unit, quote_text, None,
                        unit.label, "ok")
    return None


def is_empty(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().casefold().strip(".") in _EMPTY


def _unverified(quote: str, reason: str) -> Cell:
    return Cell(None, "", None, quote[:MAX_QUOTE], None, None, "unverified", reason)


_SENTENCES = re.compile(r"(?<=[.!?;])\s+|\n+")


def _narrowed(column: Column, value: object, quote: str, context: str,
              rewritten: bool = True) -> tuple[Verdict, str]:
    """The verdict on the quote, and the quote to keep: a long one cut to its first sentence
    that holds the value alone."""
    verdict = judge(column, value, quote, context, rewritten)
    if verdict.value is None or len(quote) <= SHORT_QUOTE:
        return verdict, quote
    for sentence in _SENTENCES.split(quote):
        sentence = sentence.strip()
        if sentence and len(sentence) < len(quote):
            alone = judge(column, value, sentence, context, rewritten)
            if alone.value is not None:
                return alone, sentence
    if len(quote) > MAX_QUOTE:
        return Verdict(None, reason="The quote is too long to show where the value is."), quote
    return verdict, quote


def judge(column: Column, value: object, quote: str, context: str = "",
          rewritten: bool = True) -> Verdict:
    """Whether `quote` holds `value` as a value of `column`; `context` is the text around the
    quote (a year stated near a date that leaves it out). `rewritten`: the quote is the
    model's, and a short one may stand for a text value it rewrote; False for a line docchat
    picked itself, which is not a value because it shares a word with one."""
    if column.type == "number":
        return _judge_number(value, quote)
    if column.type == "date":
        return _judge_date(value, quote, context)
    if column.type == "enum":
        return _judge_enum(column.values, value, quote)
    if column.type == "boolean":
        return _judge_boolean(value, quote)
    return _judge_text(value, quote, rewritten)


# ---- numbers ----

_UNITS = (
    "%", "percent", "per cent", "процент", "процентов", "процента",
    "usd", "eur", "rub", "gbp", "cny", "руб.", "руб", "рублей", "рубля", "рубль", "₽", "$", "€",
    "£", "dollars", "dollar", "euros", "euro",
    "kg", "kgs", "g", "mg", "t", "tons", "tonnes", "lb", "lbs", "pounds", "oz", "кг", "г", "т",
    "km", "m", "cm", "mm", "mi", "miles", "nm", "nautical miles", "ft", "feet", "foot", "in",
    "inches", "км", "м", "см", "мм",
    "kt", "kts", "knots", "mph", "km/h", "км/ч", "m/s", "м/с",
    "l", "ml", "liters", "litres", "liter", "litre", "gal", "gallons", "л", "мл", "литров",
    "литра", "литр",
    "h", "hr", "hrs", "hours", "hour", "min", "minutes", "s", "sec", "seconds", "days", "day",
    "ч", "часов", "часа", "мин", "дней", "дня",
    "pcs", "шт", "шт.", "units", "items",
)
_UNIT_AFTER = re.compile(r"^\s?(" + "|".join(
    re.escape(u) for u in sorted(_UNITS, key=len, reverse=True)) + r")(?![^\W\d_])",
                         re.IGNORECASE)
_CURRENCY_BEFORE = re.compile(r"(US\$|\$|€|£|₽|USD|EUR|RUB|GBP)\s?$", re.IGNORECASE)
_MULTIPLIERS = (("thousand", 1e3), ("тысяч", 1e3), ("тыс.", 1e3), ("тыс", 1e3), ("k", 1e3),
                ("million", 1e6), ("mln", 1e6), ("млн.", 1e6), ("млн", 1e6),
                ("billion", 1e9), ("bn", 1e9), ("млрд.", 1e9), ("млрд", 1e9))
_MULTIPLIER_AFTER = re.compile(r"^\s?(" + "|".join(re.escape(m) for m, _ in _MULTIPLIERS)
                               + r")(?![^\W\d_])", re.IGNORECASE)
_NUMBER = re.compile(
    r"(?<![\w.,])[-−]?(?:\d{1,3}(?:[ \u00a0\u202f,.'’]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?)"
    r"(?![\d])")


@dataclass(frozen=True)
class WrittenNumber:
    """A number as written: the values it may mean (most likely first), a multiplier written
    with it ("12k", "3.5 million"), and how it is shown."""

    readings: tuple[float, ...]
    factor: float
    text: str  # with its currency sign or unit
    unit: str | None

    def meaning(self, wanted: float) -> float | None:
        """The number the text means, if `wanted` is one reading of it (with or without its
        multiplier: a model may read "12k" as 12)."""
        for reading in self.readings:
            if _same(wanted, reading * self.factor) or _same(wanted, reading):
                return reading * self.factor
        return None


_FACTORS = dict(_MULTIPLIERS)


def numbers_in(text: str) -> list[WrittenNumber]:
    """Every number written in `text`, with what it may mean."""
    found = []
    for match in _NUMBER.finditer(text):
        readings = tuple(number_readings(match.group()))
        if not readings:
            continue
        start, end = match.start(), match.end()
        factor = 1.0
        multiplier = _MULTIPLIER_AFTER.match(text[end:])
        # "12k" and "12 thousand", but not "12 k" (a unit, or a stray letter).
        if multiplier is not None and not (multiplier.group(1).lower() == "k"
                                          and multiplier.group(0).startswith(" ")):
            factor = _FACTORS[multiplier.group(1).lower()]
            end += multiplier.end()
        unit = None
        after = _UNIT_AFTER.match(text[end:])
        before = _CURRENCY_BEFORE.search(text[max(0, start - 4):start])
        if after is not None:
            unit = after.group(1)
            end += after.end()
        elif before is not None:
            unit = before.group(1)
            start = max(0, start - 4) + before.start()
        found.append(WrittenNumber(readings, factor, text[start:end].strip(), unit))
    return found


def number_readings(token: str) -> list[float]:
    """What a written number may mean, most likely first: '1,250' -> [1250, 1.25];
    '1.250' -> [1.25, 1250]; '1 250,5' -> [1250.5]."""
    token = token.replace("−", "-").replace("–", "-")
    negative = token.lstrip().startswith("-")
    digits = re.sub(r"[\s\u00a0\u202f'’-]", "", token)
    readings: list[str] = []
    commas, dots = digits.count(","), digits.count(".")
    if commas and dots:
        decimal = "," if digits.rfind(",") > digits.rfind(".") else "."
        group = "." if decimal == "," else ","
        readings.append(digits.replace(group, "").replace(decimal, "."))
    elif commas or dots:
        sep = "," if commas else "."
        whole, _, tail = digits.rpartition(sep)
        if (commas or dots) > 1:
            readings.append(digits.replace(sep, ""))
        elif len(tail) == 3:
            grouped, decimal = digits.replace(sep, ""), f"{whole}.{tail}"
            readings += [grouped, decimal] if sep == "," else [decimal, grouped]
        else:
            readings.append(f"{whole}.{tail}")
    else:
        readings.append(digits)
    values = []
    for reading in readings:
        try:
            number = float(reading)
        except ValueError:
            continue
        if math.isfinite(number):
            values.append(-number if negative else number)
    return values


def number_value(value: object) -> float | None:
    """The model's value as a number: a JSON number, or the first number its text writes."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        written = numbers_in(value)
        return written[0].readings[0] * written[0].factor if written else None
    return None


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _judge_number(value: object, quote: str) -> Verdict:
    wanted = number_value(value)
    if wanted is None:
        return Verdict(None, reason="The value is not a number.")
    for written in numbers_in(quote):
        number = written.meaning(wanted)
        if number is not None:
            return Verdict(number, written.text, written.unit)
    return Verdict(None, reason=f"The quote does not state the number {_shown(wanted)}.")


def _shown(number: float) -> str:
    return str(int(number)) if number.is_integer() else str(number)


# ---- dates ----

def date_value(value: object) -> tuple[int | None, int, int] | None:
    """The model's value as (year or None, month, day)."""
    if not isinstance(value, str):
        return None
    stated = dates_stated(value.strip())
    return stated[0] if stated else None


def _judge_date(value: object, quote: str, context: str) -> Verdict:
    wanted = date_value(value)
    if wanted is None:
        return Verdict(None, reason="The value is not a date.")
    year, month, day = wanted
    for stated_year, stated_month, stated_day in dates_stated(quote):
        if (stated_month, stated_day) != (month, day):
            continue
        if stated_year is not None and year in (None, stated_year):
            return _date_verdict(stated_year, month, day)
        if stated_year is None and year is not None and re.search(
                rf"(?<!\d){year}(?!\d)", context):
            return _date_verdict(year, month, day)
    return Verdict(None, reason="The quote does not state this date with its year.")


def _date_verdict(year: int, month: int, day: int) -> Verdict:
    try:
        iso = date(year, month, day).isoformat()
    except ValueError:
        return Verdict(None, reason="The value is not a valid date.")
    return Verdict(iso, iso)


# ---- enums and booleans ----

_NEGATION = re.compile(
    r"\b(?:no|not|none|never|without|nil|neither|nor|нет|не|ни|без|отсутств\w*)\b|n't\b",
    re.IGNORECASE)
# What says "not (yet)" for a yes/no value beside a plain negation: "unpaid", "payment
# pending", "неоплачен", "ждём оплату", "в долг".
_NOT_YET = re.compile(
    r"\b(?!united\b|under|until\b)un\w*(?:ed|aid|own|en)\b"
    r"|\b(?:pending|awaiting|outstanding|overdue|due)\b"
    r"|\b(?:owes?|owed|owing)\b|\bнео\w+|\bожида\w*|\bжд[её]м\b|\bв\s+долг\b"
    r"|\bпросроч\w*|\bдолж\w*", re.IGNORECASE)
_YES = {"yes", "true", "y", "да", "1", "present", "есть"}
_NO = {"no", "false", "n", "нет", "0", "none", "absent", "отсутствует"}
# Enum values that stand for a currency, and how texts write them.
_CURRENCIES = {
    "usd": ("$", "usd", "dollar", "долл"), "eur": ("€", "eur", "euro", "евро"),
    "rub": ("₽", "rub", "руб", "рубл"), "gbp": ("£", "gbp", "pound", "фунт"),
}


def _negated(quote: str) -> bool:
    return bool(_NEGATION.search(quote) or _NOT_YET.search(quote))


def _chosen_value(values: tuple[str, ...], given: str) -> str | None:
    """The column's value the model means: the same word (case and punctuation aside), the
    one allowed value its longer answer names ("LANDING - ROLL" -> Landing), or the currency
    code its sign or word stands for ("$" -> USD, "рублей" -> RUB)."""
    for value in values:
        if value.casefold() == given.casefold():
            return value
    for value in values:
        if fold(value)[0] and fold(value)[0] == fold(given)[0]:
            return value
    named = [value for value in values if _says(value, given)]
    if len(named) == 1:
        return named[0]
    # A currency written as its sign or word ("$", "руб.") for a column of currency codes.
    folded = fold_words(given).strip(" .")
    signs = [value for value in values if folded and any(
        folded == sign or (len(sign) > 1 and folded.startswith(sign))
        for sign in _CURRENCIES.get(value.casefold(), ()))]
    return signs[0] if len(signs) == 1 else None


def _judge_enum(values: tuple[str, ...], value: object, quote: str) -> Verdict:
    given = str(value).strip() if isinstance(value, str | int | float) else ""
    chosen = _chosen_value(values, given)
    if chosen is None:
        return Verdict(None, reason=f"'{given[:80]}' is not one of the column's values.")
    if _says(chosen, quote):
        return Verdict(chosen, chosen)
    folded = fold_words(quote)
    if any(sign in folded for sign in _CURRENCIES.get(chosen.casefold(), ())):
        return Verdict(chosen, chosen)
    yes_no = chosen.casefold()
    if yes_no in _NO and _negated(quote):
        return Verdict(chosen, chosen)
    if yes_no in _YES and quote.strip() and not _negated(quote):
        return Verdict(chosen, chosen)
    return Verdict(None, reason=f"The quote does not say '{chosen}'.")


def _says(phrase: str, quote: str) -> bool:
    """Every word of `phrase` is in the quote (a word may be the start of a longer one:
    'fatal' in 'fatally')."""
    words = re.findall(r"\w+", fold_words(phrase))
    said = re.findall(r"\w+", fold_words(quote))
    return bool(words) and all(any(w.startswith(word) for w in said) for word in words)


def fold_words(text: str) -> str:
    return text.casefold().replace("ё", "е")


def _judge_boolean(value: object, quote: str) -> Verdict:
    if isinstance(value, bool):
        wanted = value
    elif isinstance(value, str) and value.strip().casefold() in _YES | _NO:
        wanted = value.strip().casefold() in _YES
    else:
        return Verdict(None, reason="The value is not yes or no.")
    negated = _negated(quote)
    if wanted != negated:
        return Verdict(wanted, "yes" if wanted else "no")
    return Verdict(None, reason="The quote says the opposite." if wanted
                   else "The quote does not say no.")


# ---- text ----

def _judge_text(value: object, quote: str, rewritten: bool = True) -> Verdict:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return Verdict(None, reason="The value is not text.")
    text = re.sub(r"\s+", " ", str(value)).strip()
    words = re.findall(r"\w+", fold_words(text))
    if not words:
        return Verdict(None, reason="The value has no words.")
    said = set(re.findall(r"\w+", fold_words(quote)))
    held = sum(any(_same_word(word, other) for other in said) for word in words)
    if held < TEXT_SHARE * len(words):
        written = re.sub(r"\s+", " ", quote).strip(" \t.,;:")
        if rewritten and held and len(re.findall(r"\w+", written)) <= SHORT_TEXT_WORDS:
            # The same thing, rewritten by the model ("Belen, New Mexico" for "Belen, NM"):
            # the cell holds it as the text writes it.
            return Verdict(written, written)
        return Verdict(None, reason="The quote does not hold the value's words.")
    span = _span_in(text, quote)
    return Verdict(span or text, span or text)


def _span_in(value: str, quote: str) -> str | None:
    """The quote's own words for `value`, when it holds them in a row."""
    folded_value = fold(value)[0]
    folded, where = fold(quote)
    at = folded.find(folded_value) if folded_value else -1
    if at < 0:
        return None
    first, last = widened(quote, where[at], where[at + len(folded_value) - 1] + 1, value)
    return quote[first:last]


def _same_word(a: str, b: str) -> bool:
    """The same word, or two forms of it (Russian cases, plurals): a common start of all but
    the last two letters (one for words of four letters or fewer). Numbers must be equal."""
    if a == b:
        return True
    if any(ch.isdigit() for ch in a + b):
        return False
    shortest = min(len(a), len(b))
    common = len(os.path.commonprefix([a, b]))
    return common >= (max(3, shortest - 1) if shortest <= 4 else max(4, shortest - 2))
