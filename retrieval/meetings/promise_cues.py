"""Where a meeting may hold a promise, and who made it: the words that mark one in English and
Russian, read by code (retrieval/meetings/commitments.py says why not by the model).

A clause is a candidate when it has a promise cue — a first-person future ("I'll send",
"пришлю"), an accepted request ("Sure, I'll do it" after "Can you…?"), a participant reported
to have taken something on ("Dmitry agreed to…", "Олег возьмёт"), an action-item line ("Anna to
send the deck"). The cues err on the side of finding too much; `rules_out` then turns down what
is no promise (questions, things already done, refusals, hedges and non-decisions).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

CueKind = Literal["first_person", "accepted", "reported", "action_item"]


@dataclass(frozen=True)
class Cue:
    """A clause that may be a promise, and who would have made it."""

    kind: CueKind
    clause: str  # the sentence or clause of the turn, as said
    promiser: str  # the turn's speaker, or the participant the clause names


_SENTENCE = re.compile(r"[^.!?;\n…]+(?:[.!?;…]+|\n|$)")


def clauses(text: str) -> list[str]:
    """The sentences of a turn, stripped; a long sentence with "and then"/"but" stays whole
    (the quote is the whole sentence a promise is in)."""
    return [s.strip() for s in _SENTENCE.findall(text) if re.search(r"\w", s)]


def fold(text: str) -> str:
    return text.casefold().replace("ё", "е").replace("’", "'").replace("‘", "'")


# ---- English ----
# "I can…" alone is an offer ("I can do the rest", "I can review it if…"); "I can have it to you
# by Thursday" promises a result.
_EN_FIRST_PERSON = re.compile(
    r"\b(?:i'll|i will|i'm going to|i am going to|i'm gonna|i shall|i can have \w+(?: \w+)? "
    r"(?:to you|ready|done|up|out|over)|let me (?!(?:see|think|check|know|guess|say|ask|be)\b)"
    r"\w+|i'll take|(?:^|i'm |i am )on it\b|will do\b|consider it done|leave (?:it|that|this) with "
    r"me|i'll see to it|i've got (?:it|this|that)|i got (?:it|this)|count me in|i volunteer|"
    r"i promise|i commit|i'll own|i'm taking|you'll have|(?:is|are) on me|that's on me|"
    r"i'll handle)\b")
_EN_ACCEPT = re.compile(
    r"^(?:sure|ok|okay|yes|yep|yeah|yup|of course|absolutely|fine|deal|agreed|no problem|"
    r"will do|can do|alright|all right|got it)\b")
_EN_REQUEST = re.compile(
    r"\b(?:can you|could you|would you|will you|please|need you to|mind (?:doing|taking))\b")
_EN_REPORTED = (r"(?:\s+(?:said|says|told (?:me|us)|confirmed),?\s+(?:that\s+)?(?:he|she|they)"
                r"(?:'ll| will| would|'d))?"
                r"\s+(?:will|'ll|agreed|has agreed|promised|volunteered|offered to|"
                r"is going to|is gonna|said (?:he|she|they)(?:'d| would| will)|committed to|"
                r"is taking|will own|signed up to|is on it|is handling|to)\b")
_EN_PAST = re.compile(
    r"^(?:(?:yes|yeah|no|well|so|and|but|actually),?\s+)?(?:i|we)\s+(?:already\s+|just\s+)?"
    r"(?:\w+ed|sent|wrote|made|did|took|got|put|ran|set|built|fixed|shipped|merged|booked|"
    r"paid|had|told|gave|found|met|saw|spoke|brought|bought)\b|"
    r"\b(?:already|yesterday|last (?:week|month|time|friday|monday|tuesday|wednesday|"
    r"thursday))\b")
_EN_NOT = re.compile(
    r"\b(?:no promises|i'll try|i will try|i'll do my best|i can try|"
    r"not (?:this|now|yet|going to|able)|can't|cannot|won't|will not|no one|"
    r"nobody|did not decide|didn't decide|no decision|not decided|i'd rather not|"
    r"maybe someone|someone should|should we|we could|we might|i might|i may|i'd like to|"
    r"i would like to|i wish|if only|i'd be happy to|i'd review|i'd do|i would|if it helps|"
    r"i could|someday|let's see|we'll see)\b")

# ---- Russian ----
# A first-person singular verb: a prefix, a stem and -ю/-у (пришлю, подготовлю, отпишусь).
_RU_PREFIXED_1SG = re.compile(
    r"^(?:при|под|пере|про|пре|раз|рас|вы|об|от|на|за|до|по|со|воз|вз|из|ис|с|у|о|в)"
    r"[а-я]{2,}(?:ю|у|юсь|усь)$")
_RU_NOT_VERB_ENDINGS = ("цу", "ию", "ку", "ту", "ству", "ину")  # пятницу, версию, наполовину
# Present tense of saying, thinking and seeing: not promises, whatever the ending.
_RU_PRESENT = {
    "понимаю", "вижу", "знаю", "думаю", "подтверждаю", "предлагаю", "напоминаю", "считаю",
    "помню", "надеюсь", "боюсь", "согласен", "согласна", "слушаю", "прошу", "хочу", "могу",
    "говорю", "спрашиваю", "уточняю", "сомневаюсь", "вынужден", "жду", "работаю", "смотрю",
    "подведу", "повторю", "подытожу", "напомню",
}
_RU_1SG = {"беру", "буду", "возьму", "возьмусь", "гляну", "дам", "кину", "обещаю", "берусь",
           "сделаю", "займусь", "пришлю", "проверю"}
_RU_FIRST_PERSON = re.compile(
    r"(?:^|\s)(?:давайте я|давай я|беру на себя|возьму на себя|за мной\b|на мне\b|сделаю|"
    r"обещаю|моя забота|я (?:сам|сама)\b)")
_RU_ACCEPT = re.compile(
    r"^(?:ок|окей|ok|okay|да|хорошо|договорились|принято|без проблем|конечно|ладно|"
    r"сделаю|беру|принял|приняла)\b")
_RU_REQUEST = re.compile(
    r"(?:можешь|сможешь|можете|сможете|пожалуйста|возьмешь|возьметесь|нужно,? чтобы ты|прошу)")
_RU_REPORTED = (r"(?:\s+(?:сказал|сказала|говорит|пишет|обещает),?\s+что)?"
                r"\s+(?:[\w«»\"-]+\s+){0,3}(?:\w+(?:ет|ит|ется|ится)|взял(?:ся|ась|а)?|"
                r"пообещал(?:а)?|"
                r"обещал(?:а)?|согласил(?:ся|ась)|вызвал(?:ся|ась)|будет|берет|займется|"
                r"возьмет(?:ся)?)\b")
_RU_PAST_VERB = re.compile(r"^[а-я]{3,}(?:л|ла|ли|ло|лся|лась|лись)$")
_RU_PAST = re.compile(r"\b(?:уже|вчера|на прошлой неделе|еще в|ещё в)\b")
_RU_NOT = re.compile(
    r"(?:\bне (?:буду|сможем|смогу|успею|успеем|получится|возьмусь|решили|договорились|"
    r"обещаю|могу)|\bникто|\bничего не|\bникому|\bне решаем|\bможно было бы|\bнадо бы|"
    r"\bстоит\b|\bкто-нибудь|\bкто-то должен|\bхотелось бы|\bможет быть|\bнаверное|"
    r"\bпопробую\b|\bпостараюсь\b|\bне обещаю|\bничего не обещаю|\bкак получится|"
    r"\bбы\b|\bпосмотрим\b|\bвернемся к|\bдавай осенью|\bпредлагаю)")


def promise_cues(text: str, speaker: str | None, participants: Sequence[str],
                 previous: Sequence[tuple[str | None, str]] = (), in_recap: bool = False,
                 ) -> list[Cue]:
    """The clauses of a turn that may be promises, each with its would-be promiser.

    `participants`: the meeting's speakers (a reported promise must name one of them);
    `previous`: the turns before this one, nearest last, as (speaker, text), for accepted
    requests; `in_recap`: the turn goes on with a recap an earlier turn of the speaker began."""
    found: list[Cue] = []
    others = [p for p in participants if p and p != speaker]
    said = [(clause, fold(clause)) for clause in clauses(text)]
    named_in = [_reported_promiser(folded, others) for _, folded in said]
    # A recap ("To recap: Lena has the export PR…", "Итак, действия…") repeats promises made
    # before: what it reports of others is no new promise.
    recap = in_recap or is_recap(text) or sum(n is not None for n in named_in) >= 2
    for (clause, folded), named in zip(said, named_in, strict=True):
        if clause.rstrip().endswith("?"):
            continue
        if named is not None:
            if not recap:
                found.append(Cue("reported", clause, named))
        elif speaker and _was_asked(speaker, previous) and (
                _accepts(folded) or (_is_first_person(folded) and _word_count(folded) < 4)):
            found.append(Cue("accepted", clause, speaker))  # "Sure.", "Ок, пришлю."
        elif speaker and _is_first_person(folded):
            found.append(Cue("first_person", clause, speaker))
        else:
            actor = _action_item(folded, participants)
            if actor is not None:
                found.append(Cue("action_item", clause, actor))
    return found


_RECAP = re.compile(
    r"^\W*(?:to recap|recap|so,? to sum up|to sum up|summing up|to summarize|in summary|"
    r"action items|next steps|итак|итого|подведу итоги|подводя итоги|резюмирую|по действиям|"
    r"действия|договоренности)\b")


def is_recap(text: str) -> bool:
    """A turn that sums up what was agreed."""
    return bool(_RECAP.match(fold(text)))


def _word_count(text: str) -> int:
    return len(re.findall(r"\w+", text))


def _is_first_person(folded: str) -> bool:
    if _EN_FIRST_PERSON.search(folded) or _RU_FIRST_PERSON.search(folded):
        return True
    return _has_russian_1sg_future(re.findall(r"[а-я]+", folded))


def _has_russian_1sg_future(words: list[str]) -> bool:
    """A first-person future in the words, not negated ("не потяну" is no promise)."""
    return any(_is_russian_1sg_future(word, i > 0 and words[i - 1] == "я",
                                      i > 0 and words[i - 1] in _RU_PREPOSITIONS)
               and not _adjective_before_noun(word, words[i + 1:i + 2])
               and not (i > 0 and words[i - 1] == "не")
               for i, word in enumerate(words))


def _adjective_before_noun(word: str, following: list[str]) -> bool:
    """"вторую половину", "общую папку": an adjective in -ую/-юю and its noun, not "нарисую
    баннеры" or "согласую с финансами"."""
    return word.endswith(("ую", "юю")) and bool(following) and following[0].endswith(("у", "ю"))


_RU_PREPOSITIONS = {"по", "к", "ко", "в", "во", "на", "о", "об", "за", "под", "при", "у", "до",
                    "из", "с", "со", "от", "про", "через", "для"}
# Pronouns and adjectives in -у/-ю: свою, эту, новую, всю.
_RU_NOT_VERBS = re.compile(r"^(?:свою|мою|твою|нашу|вашу|всю|эту|ту|одну|саму|какую|такую)$")


def _is_russian_1sg_future(word: str, after_i: bool, after_preposition: bool = False) -> bool:
    """сделаю, пришлю, передам, отпишусь; "я + -ю/-у" too (я согласую); not a noun after a
    preposition (по договору, к понедельнику) nor a pronoun or adjective (свою, новую)."""
    if word in _RU_PRESENT or _RU_NOT_VERBS.search(word):
        return False
    if word in _RU_1SG or re.match(r"^[а-я]{0,5}дам$", word):
        return True
    if (_RU_PREFIXED_1SG.match(word) and not word.endswith(_RU_NOT_VERB_ENDINGS)
            and not after_preposition):
        return True
    return after_i and bool(re.search(r"(?:ю|у|юсь|усь)$", word))


def _accepts(folded: str) -> bool:
    start = folded.lstrip(" -–—*•\"'«")
    return bool(_EN_ACCEPT.match(start) or _RU_ACCEPT.match(start))


def _was_asked(speaker: str, previous: Sequence[tuple[str | None, str]]) -> bool:
    """Whether the turn just before, someone else's, asks this speaker to do something ("Tom,
    can you own that?", "Оля, сможешь прислать?"); asking leave ("Can I…?") is no task."""
    if not previous:
        return False
    who, text = previous[-1]
    folded = fold(text)
    if not who or who == speaker or _ASKS_LEAVE.search(folded):
        return False
    if not (_EN_REQUEST.search(folded) or _RU_REQUEST.search(folded)):
        return False
    return mentions(folded, speaker) is not None or bool(_YOU.search(folded))


_ASKS_LEAVE = re.compile(r"\b(?:can i|may i|should i|shall i|could i|можно (?:я|мне)|мне можно)\b")
_YOU = re.compile(r"\b(?:you|ты|вы|тебя|вас|сможешь|можешь|сможете|можете|возьмешь|возьметесь)\b")


def name_forms(name: str) -> list[str]:
    """How a participant may be named in a sentence: the full name and the first name, folded,
    with Russian case endings allowed on the first name (Олег, Олега, Олегу...)."""
    first = fold(name).split()[0] if name.split() else ""
    forms = [fold(name)]
    if len(first) >= 3:
        forms.append(first)
    return forms


def mentions(folded: str, name: str) -> re.Match[str] | None:
    for form in name_forms(name):
        # Russian names change their ending: Анна/Анне, Алексей/Алексею, Игорь/Игорю.
        stem = form[:-1] if re.search(r"[аяйь]$", form) and len(form) > 4 else form
        found = re.search(r"(?<!\w)" + re.escape(stem) + r"\w{0,3}(?!\w)", folded)
        if found:
            return found
    return None


def _reported_promiser(folded: str, others: Iterable[str]) -> str | None:
    """A participant (not the speaker) that the clause says has taken something on."""
    for name in others:
        for form in name_forms(name):
            pattern = (r"(?<!\w)" + re.escape(form)
                       + r"(?:" + _EN_REPORTED + "|" + _RU_REPORTED + ")")
            if re.search(pattern, folded):
                return name
    return None


def _action_item(folded: str, participants: Iterable[str]) -> str | None:
    """'Anna to send the deck', 'Action: Anna - send the deck', 'Анна: подготовить...'."""
    start = re.sub(r"^(?:action(?: item)?s?|ai|todo|to do|задача|поручение)\s*[:\-–—]\s*", "",
                   folded.lstrip(" -–—*•"))
    for name in participants:
        for form in name_forms(name):
            if re.match(re.escape(form) + r"\s+(?:to|will|—|–|-)\s+\w+", start):
                return name
    return None


MIN_WORDS = 3


def rules_out(clause: str, kind: CueKind = "first_person") -> str | None:
    """Why a clause cannot be a promise whatever a model says, or None: too short to say what
    is promised ("Sure.", "Хорошо."), a question, a refusal, a wish or a non-decision, a plan
    of an unnamed "we", or a thing already done (a reported promise is told in the past:
    "Dmitry agreed to…", "Олег взялся…")."""
    folded = fold(clause).strip()
    if len(re.findall(r"\w+", folded)) < MIN_WORDS and kind != "accepted":
        return "too short to say what is promised"
    if folded.endswith("?"):
        return "a question"
    if _EN_NOT.search(folded) or _RU_NOT.search(folded):
        return "a refusal, a wish or a non-decision"
    words = re.findall(r"[а-я]+", folded)
    future = (_EN_FIRST_PERSON.search(folded) or _RU_FIRST_PERSON.search(folded)
              or _has_russian_1sg_future(words))
    past = (_EN_PAST.search(folded) or _RU_PAST.search(folded)
            or any(_RU_PAST_VERB.match(w) for w in words))
    if past and not future and kind != "reported":
        return "something already done"
    if _WE.search(folded) and not future:
        return "a plan of an unnamed \"we\""
    return None


_WE = re.compile(r"\b(?:we'll|we will|we're going to|we are going to)\b|"
                 r"(?:^|\s)(?:сделаем|запустим|выпустим|вернемся|обсудим|перенесем|посмотрим)\b")
