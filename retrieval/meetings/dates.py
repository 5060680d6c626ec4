"""Deadline phrases from meeting notes as dates, and the meeting's own date from its header.

Commitments keep the phrase the speaker said ("by Friday", "до 20-го марта"); this module
says which calendar day it means, relative to the meeting, so commitments can be sorted and
flagged as overdue. Pure standard library: no network, no locale settings.

A deadline means the last day it allows, and "до"/"by"/"until" include the day named ("до
пятницы" is due on Friday). Matching is case-insensitive and ignores surrounding words ("by
Friday at the latest", "не позже пятницы"); when a phrase holds several cues, the first rule
below that matches wins (so "tomorrow EOD" is tomorrow and "EOD Monday" is Monday).

Absolute dates (no meeting date needed when they carry a year):
- ISO `2026-03-20` (also `2026/03/20`, `2026.03.20`).
- Dotted day.month: `20.03.2026`, `20.03.26` (two-digit years are 20xx), `20.03`; without a
  year the month must have two digits, so "in 2.5 days" is no date.
- Slashed `a/b[/year]`: day/month when a > 12 (`20/03/2026`), otherwise US month/day
  (`03/20/2026`, and `04/05` is April 5).
- Month names, English or Russian genitive, full or abbreviated, with or without a year or
  an ordinal suffix: `March 20`, `20 March`, `Mar 20th, 2026`, `the 20th of March`, `20 марта`,
  `к 20 марта`, `до 20-го марта`, `12 марта 2026 г.`.
- `end of April`, `до конца февраля` -> the last day of that month; `end of 2026`,
  `до конца 2026 года` -> December 31 of that year.
- A day of the month alone: `до 20-го`, `к 10-му числу`, `by the 20th`.
A date without a year means its next occurrence on or after the meeting date (a December
meeting saying "by January 5" means next year's), so it needs the meeting date. Invalid
dates (31.02, February 30) are no date. A bare month ("in March") is too loose: no date.

Relative phrases (no date without the meeting date); weeks start on Monday:
- `today`, `tonight`, `EOD`, `COB`, `end of day`, `сегодня`, `вечером`, `до конца дня` ->
  the meeting date; `tomorrow`/`завтра` -> +1; `day after tomorrow`/`послезавтра` -> +2.
- A weekday, plain or with `by/on/until/before/this`, `до пятницы`, `к пятнице`, `в пятницу`,
  `в эту пятницу` -> the next such day strictly after the meeting (a Friday meeting saying
  "by Friday" means next week's Friday). `next Friday`, `в следующую пятницу`, `Friday next
  week`, `в пятницу на следующей неделе` -> that weekday in the following calendar week.
  `Friday after next` -> a week after the plain Friday.
- `end of (the) week`, `EOW`, `this week`, `к концу недели`, `на этой неделе` -> the Friday of
  the meeting's week; on a Saturday or Sunday (that Friday has passed) the following Friday.
  `next week`, `end of next week`, `на следующей неделе`, `на той неделе` -> Friday of the
  following week; `the week after next` -> Friday of the week after that.
- `end of (the) month`, `EOM`, `this month`, `к концу месяца`, `до конца месяца` -> the last
  day of the meeting's month; `next month`, `в следующем месяце` -> the last day of the next.
  Quarters (`end of quarter`, `EOQ`, `до конца квартала`, `next quarter`) and years (`end of
  year`, `EOY`, `до конца года`, `next year`) work the same way.
- Spans: `in/within N days`, `N days from now`, `через N дней`, `в течение N дней` -> +N
  (N in digits or words: one..ten, a/an, один..десять in any case: `два дня`, `пяти дней`);
  `N business/working days`, `через N рабочих дней` -> N weekdays later (no holidays); weeks
  (`in a week`, `через неделю`, `через две недели`, `in a fortnight`) -> +7 per week; months
  (`in a month`, `через месяц`) -> the same day N months on, or that month's last day.
Anything else ("soon", "ASAP", "скоро", "когда сможем", "in a few days") -> None.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import NamedTuple

# Names are matched after lower-casing and replacing ё with е.
_MONTH_NAMES: dict[str, int] = {
    **{name: n for n, name in enumerate(
        ("january", "february", "march", "april", "may", "june", "july", "august",
         "september", "october", "november", "december"), start=1)},
    **{name: n for n, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1)},
    "sept": 9,
    **{name: n for n, name in enumerate(
        ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
         "сентября", "октября", "ноября", "декабря"), start=1)},
    **{name: n for n, name in enumerate(
        ("янв", "фев", "мар", "апр", "мая", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"),
        start=1)},
    "февр": 2, "сент": 9, "нояб": 11,
}
# Longest first, so "march" is tried before "mar".
_MONTH = (r"(?P<month>" + "|".join(sorted(_MONTH_NAMES, key=len, reverse=True))
          + r")\.?(?!\w)")
_YEAR_AFTER = r"(?:,?\s*(?P<year>\d{4})(?!\d))?"

_ISO = re.compile(r"(?<!\d)(?P<year>\d{4})[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})(?!\d)")
_DOTTED = re.compile(
    r"(?<![\d.])(?P<day>\d{1,2})\.(?:(?P<month>\d{1,2})\.(?P<year>\d{4}|\d{2})|"
    r"(?P<month_only>\d{2}))(?!\.?\d)")
_SLASHED = re.compile(
    r"(?<![\d/])(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<year>\d{4}|\d{2}))?(?![\d/])")
_DAY_MONTH = re.compile(
    r"(?<!\d)(?P<day>\d{1,2})(?:-?(?:st|nd|rd|th|го|е|ое|ого|му))?\s*(?:of\s+)?"
    + _MONTH + _YEAR_AFTER)
_MONTH_DAY = re.compile(
    r"\b" + _MONTH + r"\s*(?:the\s+)?(?P<day>\d{1,2})(?:st|nd|rd|th)?(?!\d)" + _YEAR_AFTER)
_END_OF = r"\b(?:end\s+of|кон(?:ец|ца|цу|це))\s+(?:the\s+)?"
_END_OF_NAMED_MONTH = re.compile(_END_OF + _MONTH + r"(?:\s*(?P<year>\d{4})(?!\d))?")
_END_OF_NAMED_YEAR = re.compile(_END_OF + r"(?P<year>\d{4})(?!\d)")
_DAY_OF_MONTH = (
    re.compile(r"(?<!\d)(?P<day>\d{1,2})(?:-?(?:го|е|ое|му|ому)\b(?:\s+числ[ау])?|\s+числ[ау]\b)"),
    re.compile(r"\bthe\s+(?P<day>\d{1,2})(?:st|nd|rd|th)\b"
               r"(?!\s+(?:of\s+)?(?:week|weekend|day|days|month|quarter|time|business|working)\b)"),
)

_WEEKDAY = re.compile(r"\b(?:" + "|".join(f"(?P<d{n}>{forms})" for n, forms in enumerate((
    r"monday|mon|понедельник(?:а|у|ом|е)?|пн",
    r"tuesday|tues?|вторник(?:а|у|ом|е)?|вт",
    r"wednesday|wed|сред(?:а|у|ы|е|ой)|ср",
    r"thursday|thu(?:rs?)?|четверг(?:а|у|ом|е)?|чт",
    r"friday|fri|пятниц(?:а|у|ы|е|ей)|пт",
    r"saturday|суббот(?:а|у|ы|е|ой)|сб",  # no "sat"/"sun": too often plain words
    r"sunday|воскресень(?:е|я|ю|ем)|вс",
))) + r")\b")
_NEXT_BEFORE = re.compile(r"\b(?:next|следующ\w*)\s+$")
_AFTER_NEXT = re.compile(r"^\s+after\s+next\b")
_NEXT_WEEK = re.compile(
    r"\bnext\s+week\b|\bследующ(?:ей|ую|ая)\s+недел[еиюя]\b|\bна\s+той\s+неделе\b")
_WEEK_AFTER_NEXT = re.compile(r"\bweek\s+after\s+next\b")
_THIS_WEEK = re.compile(
    r"\bend\s+of\s+(?:the\s+|this\s+)?(?:work\s*)?week\b|\beow\b|\bthis\s+week\b"
    r"|\bкон(?:ец|ца|цу|це)\s+(?:этой\s+|текущей\s+)?(?:рабочей\s+)?недели\b"
    r"|\bна\s+этой\s+неделе\b")
_NEXT_MONTH = re.compile(r"\bnext\s+month\b|\bследующ(?:его|ем|ий)\s+месяц[ае]?\b")
_THIS_MONTH = re.compile(
    r"\bend\s+of\s+(?:the\s+|this\s+)?month\b|\beom\b|\bthis\s+month\b"
    r"|\bкон(?:ец|ца|цу|це)\s+(?:этого\s+|текущего\s+)?месяца\b|\bв\s+этом\s+месяце\b")
_NEXT_QUARTER = re.compile(r"\bnext\s+quarter\b|\bследующ(?:его|ем|ий)\s+квартал[ае]?\b")
_THIS_QUARTER = re.compile(
    r"\bend\s+of\s+(?:the\s+|this\s+)?quarter\b|\beoq\b|\bthis\s+quarter\b"
    r"|\bкон(?:ец|ца|цу|це)\s+(?:этого\s+|текущего\s+)?квартала\b|\bв\s+этом\s+квартале\b")
_NEXT_YEAR = re.compile(r"\bnext\s+year\b|\bследующ(?:его|ем|ий)\s+год[ау]?\b")
_THIS_YEAR = re.compile(
    r"\bend\s+of\s+(?:the\s+|this\s+)?year\b|\beoy\b|\bthis\s+year\b"
    r"|\bкон(?:ец|ца|цу|це)\s+(?:этого\s+|текущего\s+)?года\b|\bв\s+этом\s+году\b")
_DAY_AFTER_TOMORROW = re.compile(r"\bday\s+after\s+tomorrow\b|\bпослезавтра\b")
_TOMORROW = re.compile(r"\btomorrow\b|\btmrw?\b|\bзавтра(?:шнего)?\b")
_CLOCK = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|noon|midday|"
          r"\d{1,2}(?::\d{2})?\s*(?:am|pm)?)")
_TODAY = re.compile(
    r"\btoday\b|\btonight\b|\beod\b|\bcob\b|\bclose\s+of\s+business\b|\bthis\s+evening\b"
    r"|\bthis\s+(?:morning|afternoon)\b|\b(?:by|before)\s+(?:lunch|noon|midday)\b"
    r"|\b(?:by|before|until)\s+" + _CLOCK + r"(?:\s*o'clock)?(?=\s*(?:$|[,.;!]|today|tonight))"
    r"|\bend\s+of\s+(?:the\s+)?(?:business\s+|work(?:ing)?\s+)?day\b"
    r"|\bсегодня(?:шнего)?\b|\bвечером\b|\bк\s+вечеру\b|\bдо\s+вечера\b"
    r"|\b(?:до|к)\s+обеда?\b|\bк\s+обеду\b"
    r"|\bкон(?:ец|ца|цу|це)\s+(?:этого\s+|сегодняшнего\s+)?(?:рабочего\s+)?дня\b")

# Russian days of the month in words ("к восемнадцатому", "до тридцать первого марта") are
# read as digits ("к 18-му", "до 31-го марта") before the rules run.
_RU_ORDINAL_STEMS = {
    "перв": 1, "втор": 2, "трет": 3, "четверт": 4, "пят": 5, "шест": 6, "седьм": 7, "восьм": 8,
    "девят": 9, "десят": 10, "одиннадцат": 11, "двенадцат": 12, "тринадцат": 13,
    "четырнадцат": 14, "пятнадцат": 15, "шестнадцат": 16, "семнадцат": 17, "восемнадцат": 18,
    "девятнадцат": 19, "двадцат": 20, "тридцат": 30,
}
_RU_ORDINAL = re.compile(
    r"\b(?:(?P<tens>двадцать|тридцать)\s+)?(?P<stem>" + "|".join(
        sorted(_RU_ORDINAL_STEMS, key=len, reverse=True)) + r")(?:ь?его|ого|ому|ьему|ему)\b")


def _ordinals_as_digits(text: str) -> str:
    def digits(match: re.Match[str]) -> str:
        day = _RU_ORDINAL_STEMS[match["stem"]] + {"двадцать": 20, "тридцать": 30}.get(
            match["tens"] or "", 0)
        ending = "му" if match.group(0).endswith("му") else "го"
        return f"{day}-{ending}" if day <= 31 else match.group(0)

    return _RU_ORDINAL.sub(digits, text)

_NUMBER_WORDS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    **{form: n for n, forms in enumerate((
        "один одного одну одна одной", "два две двух", "три трех", "четыре четырех",
        "пять пяти", "шесть шести", "семь семи", "восемь восьми", "девять девяти",
        "десять десяти"), start=1) for form in forms.split()},
}
_NUMBER = r"(?P<n>\d{1,4}(?:-?х)?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + ")"
_SPANS = (
    re.compile(r"\b(?:in|within)\s+(?:the\s+next\s+)?" + _NUMBER
               + r"\s+(?P<work>business\s+|working\s+)?(?P<unit>day|week|month)s?\b"),
    re.compile(r"\b" + _NUMBER + r"\s+(?P<work>business\s+|working\s+)?(?P<unit>day|week|month)s?"
               r"\s+from\s+(?:now|today)\b"),
    # Without a number only weeks and months count: "через день" also means "every other day".
    re.compile(r"\b(?:через|в\s+течени[еи])\s+(?:" + _NUMBER + r"\s+)?(?P<work>рабоч\w*\s+)?"
               r"(?P<unit>дн(?:я|ей)|день|сут(?:ки|ок)|недел(?:ю|и|ь|я)|месяц(?:а|ев)?)\b"),
)
_FORTNIGHT = re.compile(r"\b(?:in|within)\s+a\s+fortnight\b")

# A header line that labels the meeting's date; its date beats any other in the header.
_DATE_LABEL = re.compile(
    r"^[\W_]*(?:meeting\s+date|date(?:\s+of\s+(?:the\s+)?meeting)?|when|дата(?:\s+\w+)?|когда)"
    r"\s*:")
_HEADER_LINES = 10


class _Stated(NamedTuple):
    """A date as written: the year is None when the text left it out."""

    year: int | None
    month: int
    day: int


def resolve_due(phrase: str | None, meeting_date: date | None) -> date | None:
    """The date a deadline phrase means, relative to the meeting's date; None when the phrase
    names no date docchat can pin down, or when it is relative and the meeting date is unknown.
    """
    if not isinstance(phrase, str):
        return None
    text = _ordinals_as_digits(_normalized(phrase))
    meeting = _as_date(meeting_date)
    for rule in _RULES:
        due = rule(text, meeting)
        if due is not None:
            return due
    return None


class FoundDue(NamedTuple):
    """A deadline found in running text: the phrase as said, and the date it means (None when
    the phrase names no single day, or the meeting date is unknown)."""

    phrase: str
    due: date | None


_WORD = re.compile(r"[^\s,;:!?()«»\"]+")
# Words that make the date that follows a start, not a deadline ("after April 20").
_NOT_A_DEADLINE = {"after", "from", "starting", "since", "после", "с", "со", "начиная"}
# Words that say the date is a deadline, kept with the phrase ("by Friday", "до пятницы").
_DEADLINE_WORDS = {"by", "on", "before", "until", "till", "through", "for", "in", "within",
                   "до", "к", "ко", "в", "во", "на", "через", "не позже", "не позднее"}
_LONGEST_PHRASE = 7


def find_due(text: str, meeting_date: date | None) -> FoundDue | None:
    """The first deadline said in `text` ("…and open a PR by Thursday" -> "by Thursday"),
    with its date; None when there is none. The phrase is the fewest words from which
    resolve_due reads a date (with the preposition before it), as they appear in `text`."""
    words = list(_WORD.finditer(text))
    for end in range(1, len(words) + 1):  # the deadline that ends first...
        for start in range(end - 1, max(-1, end - 1 - _LONGEST_PHRASE), -1):  # ...shortest
            phrase = text[words[start].start():words[end - 1].end()].rstrip(".")
            if _normalized(phrase) in _DEADLINE_WORDS:  # "by", "до": no deadline on its own
                continue
            due = resolve_due(phrase, meeting_date)
            if due is None and not _names_a_day(phrase):
                continue
            before = words[start - 1].group().lower() if start else ""
            if before in _NOT_A_DEADLINE:
                break
            # Words next to it can change the day ("EOD tomorrow", "Friday next week", "тридцать
            # первого"); never across a comma or a full stop.
            for longer in range(end + 1, min(len(words), end + 3) + 1):
                if _PAUSE.search(text[words[longer - 2].end():words[longer - 1].start()]):
                    break
                wider = resolve_due(text[words[start].start():words[longer - 1].end()]
                                    .rstrip("."), meeting_date)
                if wider not in (None, due):
                    end, due = longer, wider
            for earlier in range(start - 1, max(-1, start - 3), -1):
                if _PAUSE.search(text[words[earlier].end():words[earlier + 1].start()]):
                    break
                wider = resolve_due(text[words[earlier].start():words[end - 1].end()]
                                    .rstrip("."), meeting_date)
                if wider not in (None, due):
                    start, due = earlier, wider
            before = words[start - 1].group().lower() if start else ""
            first = start - 1 if before in _DEADLINE_WORDS else start
            return FoundDue(text[words[first].start():words[end - 1].end()].rstrip(".,"), due)
    return None


_PAUSE = re.compile(r"[,;:.!?]")


def _names_a_day(phrase: str) -> bool:
    """A phrase that names a day without the meeting date to count from ("tomorrow" in notes
    with no date): still the deadline as said."""
    text = _ordinals_as_digits(_normalized(phrase))
    return any(p.search(text) for p in (_TOMORROW, _DAY_AFTER_TOMORROW, _TODAY, _WEEKDAY,
                                        _THIS_WEEK, _NEXT_WEEK))


def meeting_date_in(text: str) -> date | None:
    """The meeting's date when its notes state it in the first few lines (a title or header
    like '# Weekly sync — 2026-03-12', 'Date: March 12, 2026', 'Дата: 12.03.2026',
    '12 марта 2026 г.'), else None."""
    if not isinstance(text, str):
        return None
    lines = [line for line in _normalized(text[:5000]).splitlines() if line.strip()]
    header = lines[:_HEADER_LINES]
    # A labelled line ("Date: ...") is checked first: a title may carry an export date.
    for line in [line for line in header if _DATE_LABEL.match(line)] + header:
        for stated in _stated_dates(line):
            if stated.year is not None:
                found = _calendar_date(stated.year, stated.month, stated.day)
                if found is not None:
                    return found
    return None


def _normalized(text: str) -> str:
    return text.lower().replace("ё", "е").translate(str.maketrans("‐‑‒–—", "-----"))


def _as_date(value: date | None) -> date | None:
    """A datetime is a date whose comparisons with plain dates raise, so keep only its day."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


# --- absolute dates -------------------------------------------------------------------------

def _stated_dates(text: str) -> Iterator[_Stated]:
    """Every date written with a month in `text`, pattern by pattern (ISO first)."""
    for match in _ISO.finditer(text):
        yield _Stated(int(match["year"]), int(match["month"]), int(match["day"]))
    for match in _SLASHED.finditer(text):
        a, b = int(match["a"]), int(match["b"])
        day, month = (a, b) if a > 12 else (b, a)
        yield _Stated(_year(match["year"]), month, day)
    for match in _DOTTED.finditer(text):
        month_digits = match["month"] or match["month_only"]
        yield _Stated(_year(match["year"]), int(month_digits), int(match["day"]))
    for pattern in (_DAY_MONTH, _MONTH_DAY):
        for match in pattern.finditer(text):
            yield _Stated(_year(match["year"]), _MONTH_NAMES[match["month"]], int(match["day"]))


def dates_stated(text: str) -> list[tuple[int | None, int, int]]:
    """Every date written with a month in `text` as (year or None, month, day), by the rules
    above for absolute dates (retrieval/tables/values.py checks a table's dates with it)."""
    return [(s.year, s.month, s.day) for s in _stated_dates(_normalized(text))
            if _calendar_date(s.year or 2000, s.month, s.day) is not None]


def _year(digits: str | None) -> int | None:
    if digits is None:
        return None
    return 2000 + int(digits) if len(digits) == 2 else int(digits)


def _absolute_due(text: str, meeting: date | None) -> date | None:
    for stated in _stated_dates(text):
        if stated.year is not None:
            due = _calendar_date(stated.year, stated.month, stated.day)
        else:
            due = _on_or_after(stated.month, stated.day, meeting)
        if due is not None:
            return due
    return None


def _end_of_named_month(text: str, meeting: date | None) -> date | None:
    match = _END_OF_NAMED_MONTH.search(text)
    if match is None:
        return None
    month = _MONTH_NAMES[match["month"]]
    if match["year"] is not None:
        return _month_end(int(match["year"]), month)
    if meeting is None:
        return None
    due = _month_end(meeting.year, month)
    if due is not None and due < meeting:
        return _month_end(meeting.year + 1, month)
    return due


def _end_of_named_year(text: str, meeting: date | None) -> date | None:
    match = _END_OF_NAMED_YEAR.search(text)
    return _calendar_date(int(match["year"]), 12, 31) if match else None


def _day_of_month(text: str, meeting: date | None) -> date | None:
    """'до 20-го', 'by the 20th': the next 20th on or after the meeting."""
    if meeting is None:
        return None
    for pattern in _DAY_OF_MONTH:
        match = pattern.search(text)
        if match is None:
            continue
        day = int(match["day"])
        for ahead in range(13):  # a 31st can be two months away
            year, month = divmod(meeting.month - 1 + ahead, 12)
            due = _calendar_date(meeting.year + year, month + 1, day)
            if due is not None and due >= meeting:
                return due
    return None


# --- relative dates -------------------------------------------------------------------------

def _span_due(text: str, meeting: date | None) -> date | None:
    if meeting is None:
        return None
    if _FORTNIGHT.search(text):
        return _shift(meeting, 14)
    for pattern in _SPANS:
        match = pattern.search(text)
        if match is None:
            continue
        unit = match["unit"]
        if match["n"] is None and unit.startswith(("дн", "ден", "сут")):
            continue
        n = _count(match["n"])
        if unit.startswith(("week", "недел")):
            return _shift(meeting, 7 * n)
        if unit.startswith(("month", "месяц")):
            return _add_months(meeting, n)
        return _add_workdays(meeting, n) if match["work"] else _shift(meeting, n)
    return None


def _count(token: str | None) -> int:
    """'3', '3-х', 'three', 'трех' -> 3; no number at all means one ('через неделю')."""
    if token is None:
        return 1
    digits = re.match(r"\d+", token)
    return int(digits.group()) if digits else _NUMBER_WORDS[token]


def _tomorrow_due(text: str, meeting: date | None) -> date | None:
    if meeting is None:
        return None
    if _DAY_AFTER_TOMORROW.search(text):
        return _shift(meeting, 2)
    return _shift(meeting, 1) if _TOMORROW.search(text) else None


def _weekday_due(text: str, meeting: date | None) -> date | None:
    match = _WEEKDAY.search(text)
    if match is None or meeting is None or match.lastgroup is None:
        return None
    weekday = int(match.lastgroup[1:])
    if _NEXT_BEFORE.search(text[:match.start()]) or _NEXT_WEEK.search(text):
        return _shift(_monday_of_next_week(meeting), weekday)
    plain = _shift(meeting, (weekday - meeting.weekday() - 1) % 7 + 1)
    if plain is not None and _AFTER_NEXT.match(text[match.end():]):
        return _shift(plain, 7)
    return plain


def _week_due(text: str, meeting: date | None) -> date | None:
    if meeting is None:
        return None
    friday_next_week = _shift(_monday_of_next_week(meeting), 4)
    if _WEEK_AFTER_NEXT.search(text):
        return _shift(_monday_of_next_week(meeting), 11)
    if _NEXT_WEEK.search(text):
        return friday_next_week
    if not _THIS_WEEK.search(text):
        return None
    if meeting.weekday() > 4:  # a weekend meeting: this week's Friday has passed
        return friday_next_week
    return _shift(meeting, 4 - meeting.weekday())


def _period_end_due(text: str, meeting: date | None) -> date | None:
    """End of the month, quarter or year the meeting falls in, or of the next one."""
    if meeting is None:
        return None
    quarter_end = (meeting.month - 1) // 3 * 3 + 3
    for pattern, year, month in (
        (_NEXT_MONTH, meeting.year, meeting.month + 1),
        (_THIS_MONTH, meeting.year, meeting.month),
        (_NEXT_QUARTER, meeting.year, quarter_end + 3),
        (_THIS_QUARTER, meeting.year, quarter_end),
        (_NEXT_YEAR, meeting.year + 1, 12),
        (_THIS_YEAR, meeting.year, 12),
    ):
        if pattern.search(text):
            extra_years, month_index = divmod(month - 1, 12)
            return _month_end(year + extra_years, month_index + 1)
    return None


def _today_due(text: str, meeting: date | None) -> date | None:
    return meeting if meeting is not None and _TODAY.search(text) else None


# Order matters: an explicit date beats a weekday, a weekday beats "EOD".
_RULES: tuple[Callable[[str, date | None], date | None], ...] = (
    _absolute_due, _end_of_named_month, _end_of_named_year, _span_due, _day_of_month,
    _tomorrow_due, _weekday_due, _week_due, _period_end_due, _today_due,
)


# --- calendar arithmetic that answers None instead of raising -------------------------------

def _calendar_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _month_end(year: int, month: int) -> date | None:
    if not 1 <= year <= 9999 or not 1 <= month <= 12:
        return None
    return date(year, month, calendar.monthrange(year, month)[1])


def _on_or_after(month: int, day: int, meeting: date | None) -> date | None:
    """A month and day without a year: the next occurrence on or after the meeting date."""
    if meeting is None:
        return None
    for year in range(meeting.year, meeting.year + 9):  # February 29 can be 8 years away
        due = _calendar_date(year, month, day)
        if due is not None and due >= meeting:
            return due
    return None


def _shift(day: date | None, days: int) -> date | None:
    if day is None:
        return None
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None


def _monday_of_next_week(day: date) -> date | None:
    return _shift(day, 7 - day.weekday())


def _add_workdays(day: date, n: int) -> date | None:
    """N weekdays after `day` (Saturdays and Sundays skipped; holidays are not known)."""
    # Counting from a weekend is counting from the Friday before it; from a weekday, every
    # five working days are one calendar week.
    start = _shift(day, -max(0, day.weekday() - 4))
    weeks, rest = divmod(n, 5)
    due = _shift(start, 7 * weeks)
    while rest and due is not None:
        due = _shift(due, 1)
        if due is not None and due.weekday() < 5:
            rest -= 1
    return due


def _add_months(day: date, n: int) -> date | None:
    """The same day n months on, or that month's last day when it is shorter."""
    extra_years, month_index = divmod(day.month - 1 + n, 12)
    end = _month_end(day.year + extra_years, month_index + 1)
    return end.replace(day=min(day.day, end.day)) if end is not None else None
