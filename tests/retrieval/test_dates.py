"""Deadline phrases become the calendar day they mean; a meeting's header gives its date.

The calendar is real: 2026-03-12 is a Thursday, so that week runs Mon 9 .. Sun 15 and the next
one Mon 16 .. Sun 22.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from retrieval.meetings.dates import meeting_date_in, resolve_due

THURSDAY = date(2026, 3, 12)
FRIDAY = date(2026, 3, 13)
SATURDAY = date(2026, 3, 14)
SUNDAY = date(2026, 3, 15)


def test_the_reference_calendar_is_what_the_tests_assume() -> None:
    assert [THURSDAY.weekday(), FRIDAY.weekday(), SATURDAY.weekday(), SUNDAY.weekday()] == [
        3, 4, 5, 6]


# --- absolute dates -----------------------------------------------------------------------

@pytest.mark.parametrize("phrase", [
    "2026-03-20", "by 2026-03-20", "2026/03/20", "20.03.2026", "до 20.03.2026", "20.03.26",
    "03/20/2026", "20/03/2026", "March 20, 2026", "20 March 2026", "Mar 20th 2026",
    "20 марта 2026 г.", "до 20-го марта 2026 года",
])
def test_dates_with_a_year_need_no_meeting_date(phrase: str) -> None:
    assert resolve_due(phrase, None) == date(2026, 3, 20)
    assert resolve_due(phrase, date(2025, 1, 1)) == date(2026, 3, 20)


@pytest.mark.parametrize("phrase", [
    "20.03", "до 20.03.", "3/20", "March 20", "march 20th", "20 March", "Mar 20th", "Mar. 20",
    "the 20th of March", "by March the 20th", "20 марта", "к 20 марта", "до 20-го марта",
    "20 мар", "Friday, 20 March",
])
def test_month_and_day_without_a_year_fall_in_the_meeting_year_when_still_ahead(
        phrase: str) -> None:
    assert resolve_due(phrase, THURSDAY) == date(2026, 3, 20)


@pytest.mark.parametrize(("phrase", "meeting", "due"), [
    ("by January 5", date(2026, 12, 28), date(2027, 1, 5)),
    ("05.01", date(2026, 12, 28), date(2027, 1, 5)),
    ("к 5 января", date(2026, 12, 28), date(2027, 1, 5)),
    ("March 10", THURSDAY, date(2027, 3, 10)),
])
def test_month_day_without_year_rolls_into_next_year(
        phrase: str, meeting: date, due: date) -> None:
    assert resolve_due(phrase, meeting) == due


def test_month_day_on_the_meeting_date_itself_is_that_day() -> None:
    assert resolve_due("March 12", THURSDAY) == THURSDAY
    assert resolve_due("12.03", THURSDAY) == THURSDAY


def test_february_29_without_a_year_waits_for_the_next_leap_year() -> None:
    assert resolve_due("29 февраля", THURSDAY) == date(2028, 2, 29)


@pytest.mark.parametrize(("phrase", "due"), [
    ("03/04/2026", date(2026, 3, 4)),  # both <= 12: US month/day
    ("04/05", date(2026, 4, 5)),
    ("13/04/2026", date(2026, 4, 13)),  # first > 12: day/month
    ("25/12", date(2026, 12, 25)),
    ("04.05.2026", date(2026, 5, 4)),  # dots are always day.month
])
def test_slashed_dates_are_month_first_unless_the_first_number_cannot_be_a_month(
        phrase: str, due: date) -> None:
    assert resolve_due(phrase, THURSDAY) == due


@pytest.mark.parametrize("phrase", [
    "31.02", "31.02.2026", "February 30", "30 февраля", "2026-13-01", "2026-02-29", "32.03",
    "00.00.0000", "13/13/2026",
])
def test_invalid_dates_resolve_to_none(phrase: str) -> None:
    assert resolve_due(phrase, THURSDAY) is None


@pytest.mark.parametrize(("phrase", "due"), [
    ("end of April", date(2026, 4, 30)),
    ("by the end of March", date(2026, 3, 31)),
    ("до конца февраля", date(2027, 2, 28)),  # February 2026 is over: next year's
    ("к концу апреля 2027", date(2027, 4, 30)),
    ("end of 2027", date(2027, 12, 31)),
    ("до конца 2026 года", date(2026, 12, 31)),
])
def test_end_of_a_named_month_or_year_is_its_last_day(phrase: str, due: date) -> None:
    assert resolve_due(phrase, THURSDAY) == due


@pytest.mark.parametrize(("phrase", "due"), [
    ("до 20-го", date(2026, 3, 20)),
    ("к 20-му числу", date(2026, 3, 20)),
    ("by the 20th", date(2026, 3, 20)),
    ("до 10-го числа", date(2026, 4, 10)),  # the 10th of March has passed
    ("by the 31st", date(2026, 3, 31)),
])
def test_a_day_of_the_month_alone_is_the_next_such_day(phrase: str, due: date) -> None:
    assert resolve_due(phrase, THURSDAY) == due


def test_a_31st_skips_months_that_lack_one() -> None:
    assert resolve_due("до 31-го", date(2026, 4, 5)) == date(2026, 5, 31)


def test_an_explicit_date_beats_a_weekday_in_the_same_phrase() -> None:
    assert resolve_due("by Friday (27.03)", THURSDAY) == date(2026, 3, 27)


# --- today, tomorrow ----------------------------------------------------------------------

@pytest.mark.parametrize("phrase", [
    "today", "by EOD", "end of day", "by the end of the day", "tonight", "COB", "this evening",
    "сегодня", "вечером", "сегодня вечером", "до конца дня", "к концу рабочего дня",
])
def test_today_and_end_of_day_mean_the_meeting_date(phrase: str) -> None:
    assert resolve_due(phrase, THURSDAY) == THURSDAY


@pytest.mark.parametrize(("phrase", "days"), [
    ("tomorrow", 1), ("by tomorrow morning", 1), ("завтра", 1), ("до завтра", 1),
    ("day after tomorrow", 2), ("послезавтра", 2), ("до послезавтра", 2),
])
def test_tomorrow_and_the_day_after(phrase: str, days: int) -> None:
    assert resolve_due(phrase, THURSDAY) == date(2026, 3, 12 + days)


def test_a_more_specific_day_beats_end_of_day() -> None:
    assert resolve_due("tomorrow EOD", THURSDAY) == FRIDAY
    assert resolve_due("EOD Monday", THURSDAY) == date(2026, 3, 16)
    assert resolve_due("завтра вечером", THURSDAY) == FRIDAY


# --- weekdays ------------------------------------------------------------------------------

@pytest.mark.parametrize("phrase", [
    "Friday", "by Friday", "on Friday", "until Friday", "before Friday", "this Friday", "Fri",
])
def test_by_friday_means_the_friday_after_the_meeting(phrase: str) -> None:
    assert resolve_due(phrase, THURSDAY) == FRIDAY


def test_by_friday_said_on_a_friday_means_next_weeks_friday() -> None:
    assert resolve_due("by Friday", FRIDAY) == date(2026, 3, 20)
    assert resolve_due("до пятницы", FRIDAY) == date(2026, 3, 20)


@pytest.mark.parametrize(("phrase", "due"), [
    ("Monday", date(2026, 3, 16)),
    ("Tuesday", date(2026, 3, 17)),
    ("Wednesday", date(2026, 3, 18)),
    ("Thursday", date(2026, 3, 19)),  # strictly after the meeting: a week on
    ("Friday", date(2026, 3, 13)),
    ("Saturday", date(2026, 3, 14)),
    ("Sunday", date(2026, 3, 15)),
])
def test_each_weekday_is_the_next_one_strictly_after_the_meeting(phrase: str, due: date) -> None:
    assert resolve_due(f"by {phrase}", THURSDAY) == due


@pytest.mark.parametrize(("phrase", "due"), [
    ("до пятницы", FRIDAY), ("к пятнице", FRIDAY), ("в пятницу", FRIDAY),
    ("в эту пятницу", FRIDAY), ("не позже пятницы", FRIDAY), ("пятница", FRIDAY),
    ("к понедельнику", date(2026, 3, 16)), ("до понедельника", date(2026, 3, 16)),
    ("во вторник", date(2026, 3, 17)), ("в среду", date(2026, 3, 18)),
    ("к среде", date(2026, 3, 18)), ("к четвергу", date(2026, 3, 19)),
    ("до субботы", SATURDAY), ("в воскресенье", SUNDAY), ("до воскресенья", SUNDAY),
])
def test_russian_weekday_in_dative_and_genitive(phrase: str, due: date) -> None:
    assert resolve_due(phrase, THURSDAY) == due


@pytest.mark.parametrize("phrase", [
    "next Friday", "by next Friday", "Friday next week", "в следующую пятницу",
    "до следующей пятницы", "в пятницу на следующей неделе", "до пятницы следующей недели",
])
def test_next_friday_is_the_friday_of_the_following_calendar_week(phrase: str) -> None:
    assert resolve_due(phrase, THURSDAY) == date(2026, 3, 20)


@pytest.mark.parametrize(("phrase", "meeting", "due"), [
    ("next Monday", THURSDAY, date(2026, 3, 16)),
    ("next Monday", SUNDAY, date(2026, 3, 16)),  # Mon 16 starts the following week
    ("next Friday", date(2026, 3, 9), date(2026, 3, 20)),
    ("Friday", date(2026, 3, 9), date(2026, 3, 13)),
    ("в следующий понедельник", SATURDAY, date(2026, 3, 16)),
])
def test_next_weekday_counts_calendar_weeks_from_monday(
        phrase: str, meeting: date, due: date) -> None:
    assert resolve_due(phrase, meeting) == due


def test_friday_after_next_is_a_week_after_the_coming_friday() -> None:
    assert resolve_due("Friday after next", THURSDAY) == date(2026, 3, 20)


# --- weeks, months, quarters, years ---------------------------------------------------------

@pytest.mark.parametrize("phrase", [
    "end of the week", "by end of week", "EOW", "this week", "к концу недели",
    "до конца недели", "на этой неделе",
])
def test_end_of_week_is_the_friday_of_the_meetings_week(phrase: str) -> None:
    assert resolve_due(phrase, THURSDAY) == FRIDAY
    assert resolve_due(phrase, date(2026, 3, 9)) == FRIDAY


def test_end_of_week_on_friday_is_that_day_and_on_a_weekend_the_next_friday() -> None:
    assert resolve_due("end of week", FRIDAY) == FRIDAY
    assert resolve_due("end of week", SATURDAY) == date(2026, 3, 20)
    assert resolve_due("до конца недели", SUNDAY) == date(2026, 3, 20)


@pytest.mark.parametrize("phrase", [
    "next week", "sometime next week", "by the end of next week", "на следующей неделе",
    "на той неделе", "до конца следующей недели",
])
def test_next_week_means_friday_of_next_week(phrase: str) -> None:
    assert resolve_due(phrase, THURSDAY) == date(2026, 3, 20)
    assert resolve_due(phrase, SUNDAY) == date(2026, 3, 20)


def test_the_week_after_next_is_its_friday() -> None:
    assert resolve_due("the week after next", THURSDAY) == date(2026, 3, 27)


@pytest.mark.parametrize(("phrase", "meeting", "due"), [
    ("end of the month", THURSDAY, date(2026, 3, 31)),
    ("EOM", THURSDAY, date(2026, 3, 31)),
    ("к концу месяца", THURSDAY, date(2026, 3, 31)),
    ("до конца месяца", date(2028, 2, 10), date(2028, 2, 29)),
    ("end of month", date(2026, 2, 10), date(2026, 2, 28)),
    ("next month", THURSDAY, date(2026, 4, 30)),
    ("в следующем месяце", THURSDAY, date(2026, 4, 30)),
    ("до конца следующего месяца", THURSDAY, date(2026, 4, 30)),
    ("next month", date(2026, 12, 10), date(2027, 1, 31)),
])
def test_month_phrases_mean_the_last_day_of_the_month(
        phrase: str, meeting: date, due: date) -> None:
    assert resolve_due(phrase, meeting) == due


@pytest.mark.parametrize(("phrase", "meeting", "due"), [
    ("end of quarter", THURSDAY, date(2026, 3, 31)),
    ("до конца квартала", THURSDAY, date(2026, 3, 31)),
    ("end of the quarter", date(2026, 4, 1), date(2026, 6, 30)),
    ("EOQ", date(2026, 11, 30), date(2026, 12, 31)),
    ("next quarter", THURSDAY, date(2026, 6, 30)),
    ("в следующем квартале", date(2026, 11, 30), date(2027, 3, 31)),
    ("end of year", THURSDAY, date(2026, 12, 31)),
    ("до конца года", THURSDAY, date(2026, 12, 31)),
    ("EOY", THURSDAY, date(2026, 12, 31)),
    ("next year", THURSDAY, date(2027, 12, 31)),
])
def test_quarter_and_year_phrases_mean_their_last_day(
        phrase: str, meeting: date, due: date) -> None:
    assert resolve_due(phrase, meeting) == due


# --- spans ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("phrase", "days"), [
    ("in 3 days", 3), ("within 5 days", 5), ("in three days", 3), ("within ten days", 10),
    ("in one day", 1), ("in a day", 1), ("within the next 4 days", 4), ("3 days from now", 3),
    ("через 3 дня", 3), ("через пять дней", 5), ("через два дня", 2), ("через один день", 1),
    ("через десять дней", 10), ("в течение семи дней", 7), ("в течение 2-х дней", 2),
    ("in a week", 7), ("within a week", 7), ("через неделю", 7), ("в течение недели", 7),
    ("in two weeks", 14), ("in 2 weeks", 14), ("через две недели", 14),
    ("в течение двух недель", 14), ("in a fortnight", 14), ("через 3 недели", 21),
])
def test_in_n_days_and_weeks_count_from_the_meeting(phrase: str, days: int) -> None:
    assert resolve_due(phrase, THURSDAY) == THURSDAY + timedelta(days=days)


@pytest.mark.parametrize(("phrase", "meeting", "due"), [
    ("in 2 business days", THURSDAY, date(2026, 3, 16)),
    ("within 5 working days", THURSDAY, date(2026, 3, 19)),
    ("через 3 рабочих дня", THURSDAY, date(2026, 3, 17)),
    ("in 1 business day", SATURDAY, date(2026, 3, 16)),
    ("in 5 business days", SATURDAY, date(2026, 3, 20)),
])
def test_business_days_skip_weekends(phrase: str, meeting: date, due: date) -> None:
    assert resolve_due(phrase, meeting) == due


@pytest.mark.parametrize(("phrase", "meeting", "due"), [
    ("in a month", THURSDAY, date(2026, 4, 12)),
    ("через месяц", THURSDAY, date(2026, 4, 12)),
    ("in 2 months", THURSDAY, date(2026, 5, 12)),
    ("in a month", date(2026, 1, 31), date(2026, 2, 28)),
])
def test_in_n_months_is_the_same_day_or_the_shorter_months_last(
        phrase: str, meeting: date, due: date) -> None:
    assert resolve_due(phrase, meeting) == due


def test_a_bare_russian_day_span_is_ambiguous_and_resolves_to_none() -> None:
    # "через день" also means "every other day".
    assert resolve_due("через день", THURSDAY) is None


# --- phrasing around the deadline ---------------------------------------------------------

@pytest.mark.parametrize(("phrase", "due"), [
    ("I'll do it by Friday at the latest", FRIDAY),
    ("Anna: I'll send the deck by Friday", FRIDAY),
    ("Анна: пришлю презентацию Борису до пятницы", FRIDAY),
    ("не позже пятницы, как договорились", FRIDAY),
    ("will circulate the draft tomorrow, hopefully", FRIDAY),
    ("постараюсь к 20 марта, не позже", date(2026, 3, 20)),
])
def test_surrounding_words_are_tolerated(phrase: str, due: date) -> None:
    assert resolve_due(phrase, THURSDAY) == due


@pytest.mark.parametrize("phrase", [
    "BY FRIDAY", "By Friday", "До Пятницы", "ДО ПЯТНИЦЫ", "Eod", "END OF MONTH", "MARCH 13",
])
def test_matching_ignores_case(phrase: str) -> None:
    assert resolve_due(phrase, THURSDAY) in (FRIDAY, THURSDAY, date(2026, 3, 31))
    assert resolve_due(phrase, THURSDAY) == resolve_due(phrase.lower(), THURSDAY)


def test_yo_and_e_are_the_same_letter() -> None:
    assert resolve_due("в течение трёх дней", THURSDAY) == SUNDAY


# --- no date ----------------------------------------------------------------------------------

@pytest.mark.parametrize("phrase", [
    "soon", "ASAP", "as soon as possible", "скоро", "когда сможем", "в ближайшее время",
    "at some point", "in a few days", "через пару дней", "later", "next time", "TBD",
    "in March", "в марте", "when Boris is back", "in 2.5 days",
])
def test_vague_phrases_resolve_to_none(phrase: str) -> None:
    assert resolve_due(phrase, THURSDAY) is None


@pytest.mark.parametrize("phrase", [
    "by Friday", "до пятницы", "tomorrow", "today", "EOD", "end of month", "in 3 days",
    "через неделю", "next week", "March 20", "20.03", "20 марта", "до 20-го", "end of April",
])
def test_relative_phrase_without_meeting_date_is_none(phrase: str) -> None:
    assert resolve_due(phrase, None) is None


@pytest.mark.parametrize("phrase", [
    None, "", "   ", "\n\t", "\x00", "🙂🙂", "9" * 10_000, "///", "....", "31/31/31",
    "end of end of end of", "через через через", "in 99999 days",
])
def test_odd_input_never_raises_and_gives_no_date(phrase: str | None) -> None:
    assert resolve_due(phrase, THURSDAY) is None


def test_a_non_string_phrase_gives_no_date() -> None:
    assert resolve_due(42, THURSDAY) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(("phrase", "meeting"), [
    ("in 5 days", date(9999, 12, 30)),
    ("next month", date(9999, 12, 1)),
    ("next Friday", date(9999, 12, 31)),
    ("by January 5", date(9999, 12, 31)),
    ("end of next quarter", date(9999, 11, 1)),
    ("in 9999 months", THURSDAY.replace(year=9500)),
])
def test_dates_past_the_end_of_the_calendar_give_no_date(phrase: str, meeting: date) -> None:
    assert resolve_due(phrase, meeting) is None


def test_a_meeting_datetime_counts_as_its_day() -> None:
    due = resolve_due("tomorrow", datetime(2026, 3, 12, 23, 30))
    assert due == FRIDAY
    assert type(due) is date
    assert resolve_due("March 12", datetime(2026, 3, 12, 9, 0)) == THURSDAY


# --- the meeting's own date -------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "# Weekly sync — 2026-03-12\nAnna: I'll send the deck by Friday",
    "Date: March 12, 2026\nAttendees: Anna, Boris",
    "Дата: 12.03.2026\nУчастники: Анна, Борис",
    "12 марта 2026 г.\nАнна: пришлю презентацию Борису до пятницы",
    "Planning meeting\nThursday, 12 March 2026\n\nNotes...",
    "---\ntitle: Sync\ndate: 2026-03-12\n---\nbody",
    "Date: 03/12/2026",
    "\n\n  # Sync (Mar 12th, 2026)\n",
    "Протокол встречи\nДата встречи: 12 марта 2026 года",
])
def test_meeting_date_is_read_from_the_header(text: str) -> None:
    assert meeting_date_in(text) == THURSDAY


def test_a_labelled_date_beats_another_date_in_the_title() -> None:
    text = "# Notes exported 2026-04-01\nDate: 2026-03-12\nAnna: deck by Friday"
    assert meeting_date_in(text) == THURSDAY


def test_the_first_stated_date_wins_without_a_label() -> None:
    assert meeting_date_in("# Sync 2026-03-12\nAnna: send it by 2026-03-20") == THURSDAY


def test_a_date_deep_in_the_body_is_not_the_meeting_date() -> None:
    body = "\n".join(f"Point {n}: discussed" for n in range(1, 20))
    assert meeting_date_in(f"# Weekly sync\n{body}\nAnna: by 2026-03-20") is None


@pytest.mark.parametrize("text", [
    "", "# Weekly sync", "# Sync 12 March", "Дата: 12.03", "Дата: 31.02.2026",
    "Anna: I'll send the deck by Friday", "Version 1.2.3",
])
def test_no_stated_date_with_a_year_gives_none(text: str) -> None:
    assert meeting_date_in(text) is None


def test_meeting_date_in_odd_input_gives_none() -> None:
    assert meeting_date_in(None) is None  # type: ignore[arg-type]
    assert meeting_date_in("\x00" * 10_000) is None


def test_the_meeting_date_feeds_resolve_due() -> None:
    notes = "# Weekly sync — 2026-03-12\nAnna: I'll send the deck by Friday"
    assert resolve_due("by Friday", meeting_date_in(notes)) == FRIDAY
