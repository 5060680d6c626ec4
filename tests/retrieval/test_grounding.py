"""Figures in an answer that no passage holds (retrieval.answers.grounding)."""

from __future__ import annotations

import pytest

from retrieval.answers.grounding import (
    check_figures,
    figures,
    measured,
    mismeasured,
    names,
    quantity_kinds,
    states_nothing,
    values,
)

PASSAGES = ["Location: Seward, AK. Date & Time: 11/29/2007, 1400 AKST.",
            "Total flight time 1,240 hours; the engine had 245 000 hours... weight 1.750 lbs",
            "Дозировка 1,5 мг/кг."]


@pytest.mark.parametrize(("figure", "expected"), [
    ("245,000", {245000.0}),
    ("1.750", {1750.0, 1.75}),
    ("1,5", {15.0, 1.5}),
    ("03", {3.0}),
    ("2007", {2007.0}),
])
def test_a_figure_is_read_with_either_separator_as_the_decimal_point(figure, expected) -> None:
    assert values(figure) == expected


def test_citation_markers_and_list_numbers_are_no_figures() -> None:
    assert figures("1. It happened on 11/29/2007 [3].\n2. At 1400 [1, 2].") == [
        "11", "29", "2007", "1400"]


def test_sentences_whose_figures_the_passages_hold_are_kept() -> None:
    sentences = ["It happened in Seward on 29 November 2007 [1]. ",
                 "The pilot had 1240 hours. ", "The dose was 1.5 mg/kg. ",
                 "The engine had 245,000 hours. ", "It weighed 1750 lbs."]
    checked = check_figures(sentences, PASSAGES, "What happened?")
    assert checked.sentences == sentences and checked.dropped == []


def test_a_figure_no_passage_holds_drops_its_sentence() -> None:
    sentences = ["It happened in Seward [1]. ", "The insurer paid $245,001 for it. ",
                 "Repairs took 3.25 weeks."]
    checked = check_figures(sentences, PASSAGES, "What happened?")
    assert checked.sentences == ["It happened in Seward [1]. "]
    assert checked.dropped == [("The insurer paid $245,001 for it. ", ["245,001"]),
                               ("Repairs took 3.25 weeks.", ["3.25"])]


def test_a_figure_from_the_question_may_be_repeated() -> None:
    checked = check_figures(["Nothing in them is about 1998."], PASSAGES,
                            "What happened in 1998?")
    assert checked.dropped == []


@pytest.mark.parametrize("sentence", [
    "The student pilot's name is [1].", "The name of the pilot's private airstrip is [1]",
    "The probable cause was:", "Имя пилота — [1].", "Стоимость составляет [2]."])
def test_a_sentence_that_stops_before_its_answer_is_dropped(sentence) -> None:
    assert states_nothing(sentence)
    assert check_figures([sentence], PASSAGES, "Who?").sentences == []


@pytest.mark.parametrize("sentence", [
    "The pilot's name is not stated [1].", "It happened in Seward, AK [1].",
    "The accident is described on page 3.", "Пилот не назван [1]."])
def test_a_finished_sentence_states_something(sentence) -> None:
    assert not states_nothing(sentence)


def test_a_colon_before_a_list_introduces_it() -> None:
    sentences = ["The visits are:\n", "1. Screening on day 1 [1].\n", "2. Follow-up [1]."]
    assert check_figures(sentences, PASSAGES, "Which visits?").sentences == sentences


def test_a_power_of_ten_flattened_by_the_pdf_is_read() -> None:
    passages = ["IL-2 is given at 2.4 x 106 IU/m2; response rate 0.185."]
    sentences = ["The dose is 2,400,000 IU/m² [1]. ", "That is 2.4 million units. ",
                 "It cost $10,000."]
    checked = check_figures(sentences, passages, "What dose?")
    assert checked.sentences == sentences[:2]
    assert checked.dropped == [("It cost $10,000.", ["10,000"])]


def test_names_are_the_capitalized_words_after_the_first() -> None:
    assert names("The pilot was John Smith's son [1].") == ["john", "smith"]
    assert names("- **Sponsor**: Pfizer.") == ["pfizer"]
    assert names("1. Oculus Quest is used.") == ["quest"]


def test_a_sentence_that_names_only_what_no_passage_names_is_dropped() -> None:
    """Seen: asked for a name the report does not give, a small model makes one up."""
    passages = ["The student pilot, who held no certificate, departed Wasilla Airport.",
                "The study uses a virtual reality headset for 20 minutes a day."]
    sentences = ["The student pilot's name was John Smith [1]. ",
                 "The headset is an Oculus Quest [2]. ",
                 "The pilot departed from Wasilla [1]. ",
                 "He flew from Wasilla, Alaska [1]. ",
                 "The Meta headset is worn for 20 minutes. ",
                 "The study uses a headset [2]."]
    checked = check_figures(sentences, passages, "What was the student pilot's name?")
    assert checked.sentences == sentences[2:]
    assert checked.dropped == [(sentences[0], ["john", "smith"]),
                               (sentences[1], ["oculus", "quest"])]


def test_a_name_from_the_question_may_be_repeated() -> None:
    checked = check_figures(["Nothing is said about Boeing [1]."], PASSAGES,
                            "Did Boeing build it?")
    assert checked.dropped == []


def test_names_in_a_script_the_passages_hardly_use_are_not_checked() -> None:
    """A Russian answer about an English report writes Seward as Сьюард."""
    checked = check_figures(["Авария произошла в Сьюарде, Аляска [1]."], PASSAGES[:2],
                            "Где произошла авария?")
    assert checked.dropped == []


def test_a_russian_name_in_another_case_is_the_same_name() -> None:
    checked = check_figures(["Совещание прошло в Москве [1]."],
                            ["Место: Москва, офис на Тверской."], "Где прошло совещание?")
    assert checked.dropped == []


def test_a_figure_is_read_with_the_quantity_it_measures() -> None:
    assert measured("Worth $1750 lbs [1]; a 160-horsepower engine, 25% at 70 KIAS, 3.5 mg/kg, "
                    "1400 AKST") == [("1750", "money"), ("160", "power"), ("25", "share"),
                                     ("70", "speed"), ("3.5", "dose"), ("1400", None)]


def test_a_figure_the_passages_hold_only_as_another_quantity_drops_its_sentence() -> None:
    """Seen: "The airplane's airspeed at touchdown was 160 knots [1]." beside a 160-horsepower
    engine, and "The airplane was worth $1750 lbs." beside its weight."""
    passages = ["Engine: Lycoming O-320, 160 horsepower. Max gross weight 1,750 lbs.",
                "Airspeed (kts) | 70 | 80"]
    sentences = ["The airspeed at touchdown was 160 knots [1]. ",
                 "The airplane was worth $1750 lbs. [1] ",
                 "The engine gave 160 hp [1]. ", "It weighed 1750 pounds [1]. ",
                 "It flew at 70 knots [2]."]
    checked = check_figures(sentences, passages, "What was the airspeed?")
    assert checked.dropped == [(sentences[0], ["160"]), (sentences[1], ["1750"])]
    assert mismeasured("It took 1,750 flight hours.", quantity_kinds(passages)) == []
    form = ["Engine Model/Series: O-320\nRegistered Owner: On file Rated Power: 160\nOperator"]
    assert mismeasured("The airspeed at touchdown was 160 knots [1].",
                       quantity_kinds(form)) == ["160"]
    assert mismeasured("The engine was rated at 160 horsepower [1].", quantity_kinds(form)) == []
    # docchat's own text of that form: its layout tables put a cell between label and figure
    row = ["Registered Owner: | On file | Rated Power: | 160\nOperator: | On file"]
    assert mismeasured("The airspeed at touchdown was 160 knots [1].",
                       quantity_kinds(row)) == ["160"]


def test_a_distance_per_time_is_a_speed_not_the_distance_the_passages_give() -> None:
    narrative = ["The pilot applied power and climbed to an altitude of 30 to 50 feet."]
    kinds = quantity_kinds(narrative)
    assert mismeasured("The airspeed at touchdown was 30 to 50 feet per second [1].",
                       kinds) == ["50"]
    assert mismeasured("It climbed to 50 feet [1].", kinds) == []
    assert mismeasured("The dose was 50 mg a day.", quantity_kinds(["Take 50 mg daily."])) == []


def test_a_sentence_quoting_an_empty_form_field_as_its_answer_is_dropped() -> None:
    form = ["Conditions at Accident Site: | | Condition of Light:\n"
            "Observation Facility, Elevation: | | Distance from Accident Site:"]
    quoting = 'The weather at the time of the crash was described as "Condition of Light" [1].'
    checked = check_figures([quoting], form, "What was the weather?")
    assert checked.sentences == []
    assert checked.dropped == [(quoting, ["the label 'Condition of Light'"])]
    filled = ["Conditions at Accident Site: | Visual Conditions | Condition of Light: Day"]
    kept = ['The conditions were "Visual Conditions" [1].',
            'The form gives "Condition of Light: Day" [1].']
    assert check_figures(kept, filled, "What was the weather?").sentences == kept
