"""Figures an answer states that none of its passages holds.

Asked what a document does not say ("How much did the insurer pay?"), a small model often
fills the gap with an amount of its own ("$245,000"). A figure is checked mechanically: the
answer's sentence stands only when every figure in it is one that the passages or the
question hold, read with either separator as the decimal point ("1,5" is "1.5"; "245,000",
"245 000" and "245000" are one number, as is 2,400,000 with "2.4 x 106", a power of ten
whose superscript the PDF's text flattened). Citation markers, list numbers and counts up to 12,
which documents often write in words, are not checked. A sentence that stops where its answer
should be ("The student pilot's name is [1].") states nothing and goes too, as does one whose
figure the passages hold only as another quantity ("160 knots" where a report gives "160
horsepower"; "$1750" where it weighs "1,750 lbs"), and one that names only what no passage
names ("The pilot was John Smith.", "It uses an Oculus headset."): a name the passages hold
beside it ("Seward, Alaska" where a report says "Seward, AK"), or a figure they hold, keeps
it. A sentence that quotes a form's empty field as its answer ('The weather was "Condition of
Light"') goes as well, and one that reports an outcome with a figure or a comparison in words no
passage writes ("The score improved by 10 points." from a protocol that plans the study), and
one that gives as a share a figure the passages hold only as another quantity or a bare number
with no share beside it ("30% of the photographs" from "follow-up at 30 days"). An answer left
with no claim is replaced by "the documents do not say", and so is one to a question for an
amount ("how much", "how many", "what rate") that gives none (asked about the fuel on board, a
report's probable cause copied out instead: `asks_amount`, `states_amount`). Asked for the
name of a role, a sentence whose names the passages write only on lines that do not mention
the role goes too (the investigator's name given for the flight instructor's: `misnamed`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from retrieval.answers.attribution import without_markers

log = logging.getLogger(__name__)

_FIGURE = re.compile(r"\d+(?:[.,\u00a0\u202f]\d+)*")
# "245 000": thousands separated by plain spaces, as Russian writes them.
_SPACED = re.compile(r"(?<![\d.,])\d{1,3}(?: \d{3})+(?![\d.,]| \d)")
_LIST_MARKER = re.compile(r"(?m)^\s*\d+[.)]\s+")
# The last word of a sentence that stops before its answer.
_UNFINISHED = re.compile(
    r"(?:\b(?:is|are|was|were|be|been|of|the|a|an|to|by|at|in|on|as|это|был|была|было|были|"
    r"является|составляет)|[:—–-])\W*$", re.I)


# Words that lead to a citation marker rather than to an answer: "… IU/m2, according to [3]."
_CITING = re.compile(r"[\s,;(]*\b(?:according to|as (?:stated|mentioned|shown|given|described|"
                     r"noted|listed|reported) in|as per|per|see|source:?|согласно|см\.?)\s*"
                     r"(?=\[\d)", re.I)


def states_nothing(sentence: str, last: bool = True) -> bool:
    """Whether `sentence` stops where its answer should be: 'The pilot's name is [1].' A
    colon introduces what follows ("The visits are:" before a list) unless nothing does; words
    that only lead to a source ("…, according to [3].") are not where it stops."""
    body = without_markers(_CITING.sub(" ", sentence)).strip()
    if body.endswith(":") and not last:
        return False
    return bool(_UNFINISHED.search(body.rstrip(".!?… ")))


def values(figure: str) -> set[float]:
    """The numbers a written figure can be: separators read as thousands, or the last one as
    the decimal point, except a comma before three digits, which separates thousands.
    '1,5' -> {15, 1.5}; '1.750' -> {1750, 1.75}; '245,000' -> {245000}; '03' -> {3}."""
    parts = re.split(r"[.,\u00a0\u202f ]", figure)
    read = {float("".join(parts))}
    thousands = len(parts) > 1 and len(parts[-1]) == 3 and figure[-4] == ","
    if len(parts) > 1 and not thousands:
        read.add(float(f"{''.join(parts[:-1])}.{parts[-1]}"))
    return read


# "2.4 x 106 IU/m2": 2.4 × 10⁶ with the exponent flattened into the line by the PDF's text.
_POWER = re.compile(r"(\d+(?:[.,]\d+)?)\s*[x×*]\s*10\^?([1-9]|1[0-9])(?!\d)")


def figures(text: str) -> list[str]:
    """The figures written in `text`, citation markers and list numbers left out."""
    text = _LIST_MARKER.sub(" ", without_markers(text))
    return _FIGURE.findall(text)


def _small(figure: str) -> bool:
    """A count a document may write in words ("two passengers", "day one"): not checked."""
    return figure.isdigit() and int(figure) <= 12


def known_values(texts: Iterable[str]) -> set[float]:
    known: set[float] = set()
    for text in texts:
        for figure in _FIGURE.findall(text) + _SPACED.findall(text):
            known |= values(figure)
        for mantissa, power in _POWER.findall(text):
            known |= {round(v * 10 ** int(power), 6) for v in values(mantissa)}
    return known


# What a figure measures, read from the word after it or a currency sign before it: the
# answer's "160 knots" is not the passages' "160 horsepower". Words not listed say nothing.
QUANTITIES: dict[str, str] = {word: kind for kind, words in {
    "money": ("$", "€", "£", "usd", "eur", "dollars", "dollar", "euros", "euro", "руб",
              "рублей", "рубля", "рубль"),
    "speed": ("knots", "knot", "kts", "kt", "kias", "mph", "km/h", "км/ч"),
    "weight": ("lbs", "lb", "pounds", "pound", "kg", "кг"),
    "distance": ("feet", "foot", "ft", "miles", "mile", "nm", "meters", "metres", "km", "км"),
    "duration": ("hours", "hour", "hrs", "hr", "minutes", "minute", "min", "days", "weeks",
                 "months", "years", "часов", "часа", "дней", "дня", "лет", "месяцев", "недель"),
    "share": ("%", "percent", "процентов", "процента"),
    "power": ("horsepower", "hp", "л.с"),
    "dose": ("mg", "мг", "ml", "мл", "mcg", "µg"),
}.items() for word in words}
# A form's label says what its bare figure measures: "Rated Power: 160".
LABELS: dict[str, str] = {
    "power": "power", "horsepower": "power", "airspeed": "speed", "speed": "speed",
    "weight": "weight", "cost": "money", "price": "money", "value": "money",
    "distance": "distance", "altitude": "distance", "elevation": "distance",
}
_MEASURED = re.compile(r"(?:(?P<label>[^\W\d_]+)\s*:\s*(?:\|\s*)?)?(?P<sign>[$€£])?\s?"
                       r"(?P<figure>\d+(?:[.,\u00a0\u202f]\d+)*)(?:\s?-?\s?(?P<unit>%|[^\W\d_]+(?:[/.][^\W\d_]+)?))?")


_PER_TIME = re.compile(r"\s*(?:per|an?|в)\s+(?:second|sec|minute|min|hour|hr|day|секунду|минуту|"
                       r"час|день)\b|/(?:s|sec|min|h|hr|day)\b", re.IGNORECASE)


def measured(text: str) -> list[tuple[str, str | None]]:
    """Each figure of `text` with the kind of quantity it measures, when a word says:
    '$1750 lbs' -> [('1750', 'money')]; '160-horsepower', 'Rated Power: 160' and the table
    row 'Rated Power: | 160' -> [('160', 'power')]; '50 feet per second' -> [('50', 'speed')]."""
    text = _LIST_MARKER.sub(" ", without_markers(text))
    found = []
    for m in _MEASURED.finditer(text):
        unit = (m.group("sign") or m.group("unit") or "").lower()
        kind = (QUANTITIES.get(unit) or QUANTITIES.get(unit.split("/")[0])  # mg/kg: a dose
                or LABELS.get((m.group("label") or "").lower()))
        if kind == "distance" and m.group("unit") and _PER_TIME.match(text, m.end()):
            kind = "speed"  # feet per second
        found.append((m.group("figure"), kind))
    return found


# A text that writes shares: a bare figure in it may be one (a table under a "%" header).
_SHARE_SIGN = re.compile(r"%|\bpercent|\bпроцент", re.I)
# The kind of a bare figure in a text that writes no share: any quantity but a share. A
# document writes its shares with "%"; a table of contents' "Reports 30" or a schedule's
# "FU 30 day" does not make "30% of the photographs" a figure it holds.
PLAIN = "plain"


def quantity_kinds(texts: Iterable[str]) -> dict[float, set[str | None]]:
    """For each value the texts write, the kinds of quantity it is given as (None: bare;
    PLAIN: bare in a text with no share in it)."""
    kinds: dict[float, set[str | None]] = {}
    for text in texts:
        shares = bool(_SHARE_SIGN.search(text))
        for figure, kind in measured(text):
            for value in values(figure):
                kinds.setdefault(value, set()).add(kind if kind or shares else PLAIN)
    return kinds


def mismeasured(sentence: str, kinds: dict[float, set[str | None]]) -> list[str]:
    """The figures of `sentence` that the texts of `kinds` (quantity_kinds) hold only as
    another kind of quantity: 'The airspeed was 160 knots.' beside a report's '160 horsepower'
    and no other 160. A figure the texts also give bare (a table cell under its header) or
    with no known unit stands, but as a share only where a text beside it writes shares."""
    wrong = []
    for figure, kind in measured(sentence):
        if kind is None or _small(figure):
            continue
        held = set().union(*(kinds.get(v, set()) for v in values(figure)))
        bare = None in held or (PLAIN in held and kind != "share")
        if held and not bare and kind not in held:
            wrong.append(figure)
    return wrong


# A capitalized word (a name, an acronym, a brand) in either alphabet.
_NAME = re.compile(r"(?<![\w-])[A-ZА-ЯЁ][A-Za-zА-Яа-яЁё]+(?:'s)?")
_WORDS = re.compile(r"[^\W\d_]+")
# Where a sentence begins: list markers, quotes and emphasis before its first word.
_OPENING = re.compile(r"^[\s\-*•\d.)(\"'«“]*")


def names(sentence: str) -> list[str]:
    """The capitalized words of `sentence` after its first, lower-cased, possessives cut:
    'The pilot was John Smith's son.' -> ['john', 'smith']."""
    body = _OPENING.sub("", _LIST_MARKER.sub(" ", without_markers(sentence)))
    first = re.match(r"\w+", body)
    start = first.end() if first else 0
    return [m.group(0).removesuffix("'s").lower() for m in _NAME.finditer(body, start)]


def known_words(texts: Iterable[str]) -> set[str]:
    """The words of `texts`, lower-cased and cut to five letters: a crude stem that joins a
    Russian name's cases (Москва, Москве) and "Alaska" with "Alaskan"."""
    return {_stem(w) for text in texts for w in _WORDS.findall(text)}


def _stem(word: str) -> str:
    return word.lower()[:5]


def _cyrillic(word: str) -> bool:
    return bool(re.search("[а-яё]", word, re.I))


# A script's share of the passages' words below which names in it are not checked: an answer
# in Russian about English reports writes "Сьюард" for Seward.
_SCRIPT_SHARE = 0.2


def cyrillic_share(texts: Iterable[str]) -> float:
    words = known_words(texts)
    return sum(map(_cyrillic, words)) / max(1, len(words))


def unknown_names(sentence: str, words: set[str], known: set[float], cyrillic: float,
                  ) -> list[str]:
    """The names of `sentence` that no passage holds, when nothing else it names is held
    there (another name, or a figure beyond a small count): empty when it stands. Names in a
    script the passages hardly use (`cyrillic`: the share of their words in Cyrillic) are not
    checked."""
    share = {True: cyrillic, False: 1 - cyrillic}
    found = [n for n in names(sentence) if share[_cyrillic(n)] >= _SCRIPT_SHARE]
    unknown = [n for n in found if _stem(n) not in words]
    if not unknown or len(unknown) < len(found):
        return []
    if any(values(f) & known and not _small(f) for f in figures(sentence)):
        return []
    return unknown


@dataclass(frozen=True)
class Anchors:
    """What makes a sentence's name or figure an anchor: the passages hold it, the question
    does not."""

    words: set[str]  # stems the passages hold and the question does not
    held: set[float]  # values the passages hold
    asked: set[float]  # values the question holds

    @classmethod
    def of(cls, passages: Sequence[str], question: str) -> Anchors:
        return cls(known_words(passages) - known_words([question]), known_values(passages),
                   known_values([question]))


def anchored(sentence: str, anchors: Anchors) -> bool:
    """Whether `sentence` states a name or a figure (beyond a small count) that the passages
    hold and the question does not (`anchors`): 'The flight was going to Pontiac, MI (PTK).'
    beside a form's 'Destination: | Pontiac, MI (PTK)'. Such a sentence is held by what the
    figure and name checks read; a sentence with none (a cause, a reason) needs a passage that
    reads like it."""
    return (any(_stem(n) in anchors.words for n in names(sentence))
            or any(values(f) & anchors.held and not values(f) & anchors.asked
                   and not _small(f) for f in figures(sentence)))


_QUOTED = re.compile(r'["“«]([^"“”«»]{3,80})["”»]')


def quoted_labels(sentence: str, passages: str) -> list[str]:
    """What `sentence` quotes that the passages hold only as a form's label, never its value:
    'The weather was "Condition of Light".' where a report's empty form reads "Condition of
    Light:" and nothing after it."""
    found = []
    for quoted in _QUOTED.findall(sentence):
        words = quoted.strip(" .,;:").split()
        if not words:
            continue
        pattern = re.compile(r"\s+".join(map(re.escape, words)) + r"(\s*:)?", re.IGNORECASE)
        seen = [bool(m.group(1)) for m in pattern.finditer(passages)]
        if seen and all(seen):
            found.append(f"the label {quoted.strip()!r}")
    return found


# A question that asks for someone's or something's name.
_ASKS_NAME = re.compile(r"\bnamed?\b|\bcalled\b|(?<!\w)(?:имя|зовут|фамили[яю]|назван\w*)(?!\w)",
                        re.I)
_NOT_ROLE = {_stem(w) for w in ("name", "named", "called", "what", "which", "whose", "were",
                                "this", "that", "their", "does", "имя", "зовут", "фамилия")}


def misnamed(sentence: str, question: str, passages: str) -> list[str]:
    """Asked for the name of a role ("What was the flight instructor's name?"), the proper
    names of `sentence` that the passages write only on lines that do not mention the role
    ("Investigator In Charge (IIC): Todd G Gunther"): a name held, given for the wrong
    person. Empty when the question asks for no name or names no role."""
    if not _ASKS_NAME.search(question):
        return []
    role = {_stem(w) for w in _WORDS.findall(question) if len(w) >= 4} - _NOT_ROLE
    if not role:
        return []
    checked, wrong = 0, []
    for name in dict.fromkeys(names(sentence)):  # lower-cased
        # A word the passages also write in lower case ("flight") is not a name.
        if _stem(name) in role or re.search(rf"\b{re.escape(name)}\b", passages):
            continue
        holding = [line for line in passages.splitlines()
                   if re.search(rf"\b{re.escape(name)}\b", line, re.IGNORECASE)]
        if not holding:
            continue  # a name no passage holds: unknown_names decides
        checked += 1
        if not any(role & known_words([line]) for line in holding):
            wrong.append(name)
    return wrong if wrong and len(wrong) == checked else []


# A question that asks for an amount ("How much fuel was on board?"), and the words besides
# digits in which an answer gives one ("No one was hurt", "three passengers", "оба пилота").
_ASKS_AMOUNT = re.compile(
    r"\bhow\s+(?:much|many)\b|(?<!\w)сколько(?!\w)|\b(?:what|which)\b[^?]*\b(?:rate|percentage|"
    r"percent|proportion|amount|budget|cost|price|fee|sum)\b", re.I)
_AMOUNT_WORDS = re.compile(
    r"(?<!\w)(?:no|none|nobody|nothing|zero|nil|neither|both|all|single|once|twice|half|"
    r"dozens?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|"
    r"twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|"
    r"billions?|ноль|нуля|один|одна|одно|одного|одной|два|две|двух|три|трёх|трех|четыре|"
    r"четырёх|пять|шесть|семь|восемь|девять|десять|\w+надцать|двадцать|тридцать|сорок|"
    r"пятьдесят|сто|двести|тысяч\w*|миллион\w*|никто|никого|ничего|нет|оба|обе|все|всех|"
    r"половин\w*)(?!\w)", re.I)
# A number that names rather than counts: "Occurrence #1", or a list's "1." on its own.
_NUMBERED = re.compile(r"#\s?\d+|^\s*\d+[.)]\s*$")


# A second question joined to the first: "Where did it happen, and what did it cost?"
_COMPOUND = re.compile(r"(?:\band\b|,|;)\s*(?:where|when|who|whom|whose|why|what|which|how|где|"
                       r"когда|кто|почему|что|какой|какая|какие|как)\b", re.I)


def asks_amount(question: str) -> bool:
    """Whether `question` asks for an amount and nothing else: how much, how many, what rate
    or cost (an answer to "Where did it happen, and what did it cost?" may give the place
    alone)."""
    return bool(_ASKS_AMOUNT.search(question)) and not _COMPOUND.search(question)


# Asked what something costs or is worth, an answer gives a sum of money (a figure with its
# currency, or "free"): a small model answers "How much does one injection cost?" with the
# dose ("2 ml"), an amount of the wrong kind.
_ASKS_MONEY = re.compile(
    r"\b(?:costs?|costing|price[ds]?|worth|fees?|paid|pay|charged?|budget|salary|funding|"
    r"compensat\w*)\b|(?<!\w)(?:сто[ия]\w*|цен\w*|стоимост\w*|плат\w*|оплат\w*|"
    r"бюджет\w*|финансир\w*)", re.I)
_MONEY = re.compile(
    r"[$€£¥₽]|\b(?:USD|EUR|GBP|RUB|CNY|RMB|JPY|CHF|INR|dollars?|cents?|euros?|rubles?|"
    r"roubles?|yuan|yen|francs?|rupees?|free|no (?:cost|charge|fee))\b|(?<!\w)(?:руб\w*|"
    r"долл\w*|евро|юан\w*|бесплатн\w*)", re.I)


def asks_money(question: str) -> bool:
    """Whether `question` asks for an amount of money: what something costs, is worth, pays
    or is funded with."""
    return asks_amount(question) and bool(_ASKS_MONEY.search(question))


def states_money(sentence: str) -> bool:
    """Whether `sentence` gives a sum of money, or says that something is free."""
    return bool(_MONEY.search(without_markers(sentence)))


def states_amount(sentence: str) -> bool:
    """Whether `sentence` gives an amount: a figure (not a citation marker, a list number or
    an "#1") or a number word, "no one" and "both" included."""
    body = _NUMBERED.sub(" ", without_markers(sentence))
    return bool(figures(body) or _AMOUNT_WORDS.search(body))


# Verbs that report an outcome, and words that compare one: a protocol plans outcomes ("to
# improve strength", "will be observed") where a report of results writes "improved by 12
# points". Asked for a result a protocol cannot hold, a small model reports its planned
# threshold or sample-size figure as one ("The study achieved an MRD negativity rate of 10%").
_OUTCOME = re.compile(r"\b(?:achieved|improved|observed|identified|showed|demonstrated|reduced|"
                      r"increased|decreased)\b", re.I)
_COMPARED = re.compile(r"\b(?:lower|higher|greater|less|more|better|worse|fewer)\b", re.I)


# A finding ascribed to someone: the passages must write of one in some form ("determines
# the probable cause"); a factual report that gives no cause writes none.
_FINDING = re.compile(r"\b(determin|conclu)\w*", re.I)


def unreported_outcomes(sentence: str, passages: str) -> list[str]:
    """The outcome verbs of `sentence` that no passage writes, where the sentence reports an
    outcome with a figure or a comparison ("The score improved by 10 points.", "The bleeding
    rate was observed to be lower.") — a result the passages do not report; and the finding
    it ascribes ("The NTSB determined the probable cause was … 56 feet …") where no passage
    determines or concludes anything."""
    body = without_markers(sentence)
    if not (figures(body) or _COMPARED.search(body)):
        return []
    outcomes = [verb for verb in dict.fromkeys(v.lower() for v in _OUTCOME.findall(body))
                if not re.search(rf"\b{verb}\b", passages, re.I)]
    findings = [m.group(0).lower() for m in _FINDING.finditer(body)
                if not re.search(rf"\b{m.group(1)}", passages, re.I)]
    return outcomes + findings


@dataclass(frozen=True)
class Grounded:
    sentences: list[str]  # the sentences kept, as given
    # (sentence, its figures or names that no passage holds; none when it stops before its
    # answer)
    dropped: list[tuple[str, list[str]]]


def check_figures(sentences: Sequence[str], passages: Sequence[str], question: str,
                  ) -> Grounded:
    """Keeps the sentences whose figures all occur in `passages` or `question`, that state
    something, and that name something the passages or the question name."""
    known = known_values([*passages, question])
    words = known_words([*passages, question])
    cyrillic = cyrillic_share(passages)
    kinds = quantity_kinds([*passages, question])
    joined = "\n".join(passages)
    kept: list[str] = []
    dropped: list[tuple[str, list[str]]] = []
    last = max((i for i, s in enumerate(sentences) if s.strip()), default=-1)
    for i, sentence in enumerate(sentences):
        unknown = [f for f in figures(sentence) if not values(f) & known and not _small(f)]
        unknown = (unknown or mismeasured(sentence, kinds)
                   or unknown_names(sentence, words, known, cyrillic)
                   or quoted_labels(sentence, joined) or unreported_outcomes(sentence, joined)
                   or misnamed(sentence, question, joined))
        if sentence.strip() and states_nothing(sentence, last=i >= last):
            dropped.append((sentence, []))
        elif unknown:
            dropped.append((sentence, unknown))
        else:
            kept.append(sentence)
    for sentence, unknown in dropped:
        why = f"no passage holds {', '.join(unknown)}" if unknown else "it states nothing"
        log.info("answer sentence dropped: %s: %r", why, sentence.strip()[:300])
    return Grounded(kept, dropped)
