"""What people read about the engine's decisions, in French and English: the one place
where a reason code becomes words.

A ``Reason`` is a code and its parameters: ``Reason.of("heating.preheat", at=now,
start=..., arrival=..., minutes=47.0, outdoor=1.3)``. The controllers and the engine say
*why* with codes; how it reads is decided by ``CATALOGUE`` below, so that the same
decision always reads the same, wherever it is shown (the panel, the audit log, the
command line, the API).

Parameters are JSON values, so that a reason is stored and read back as it was: numbers,
texts (names, labels, what a person typed, a device's own error), moments (given as
``datetime`` or ``date``, kept as ISO 8601 text with their offset), and other reasons,
alone or in lists. A template says how each is shown, by the format spec of its field:

- ``temperature`` ``19,5 °C``; ``number`` ``1 234,5``; ``whole`` ``12``; ``percent``
  ``12 %`` (a share 0..1); ``duration`` ``2 h 15`` (minutes);
- ``moment`` ``08:00``, ``demain 08:00``, ``lundi 12/01 08:00`` (relative to the
  reason's ``at``); ``at`` the same after « à »: ``à 08:00``, ``demain à 08:00``
  (English ``at 08:00``, ``tomorrow at 08:00``); ``clock`` ``08:00``; ``date``
  ``12/01/2026``; ``day`` ``lundi``;
- ``de`` a name after « de », elided before a vowel: ``de marie``, ``d'admin``
  (``of_name``; French templates only, the English says « by {who} »);
- no spec: a text as it is, a nested reason in the same language, a list of reasons
  joined by the catalogue's ``join`` of that list.

A reason is one short sentence. What lies behind it (the model, the days it learned from,
the estimate, the outdoor temperature, the margin) is its ``detail`` parameter: a nested
reason that no template names, so the sentence never shows it, and that
``Reason.details(lang)`` renders on demand (the zone page's « Détails », the API). Where
a line must fit a phone (the overview), ``Reason.summary(lang)`` reads it by the short
form of its code (``SHORT`` in ``catalogue.py``), and of each reason within it: what the
sentence says in brackets is left to the details.

A template is a pair ``(French, English)`` of ``str.format`` texts (``catalogue.py``);
where a reason reads differently with or without a part, the caller chooses another code,
or passes the part as a nested reason that may be ``Reason.of("empty")``. The few
sentences whose wording follows the facts too closely for a template (a watched point's
alarm: thresholds, hysteresis, delays) are written by functions (``watch.py``), still
here and nowhere else.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union

from pydantic import Field

from gtb.i18n import (
    DAYS_EN,
    DAYS_FR,
    duration,
    moment,
    moment_at,
    number,
    shortest,
    temperature,
)

Lang = Literal["fr", "en"]
Param = Union["Reason", list["Reason"], str, int, float, bool, None]


@dataclass(frozen=True)
class Reason:
    """Why something was decided: a code of the catalogue and its parameters. A plain
    dataclass, cheap to make on the tick's path; pydantic validates it where it is read
    back from JSON (a status record, an API answer)."""

    code: str
    params: Mapping[str, Param] = field(default_factory=dict)
    read_as: Annotated[dict[str, str], Field(exclude=True)] = field(
        default_factory=dict, init=False, compare=False, repr=False)
    """What it reads as in each language, once rendered: the panel shows the same status
    every few seconds. Not kept with the reason (JSON), nor part of what it is."""

    @classmethod
    def of(cls, code: str, **params: Any) -> Reason:
        """A reason; moments (``datetime``, ``date``) are kept as ISO 8601 text. Made at
        every decision of every zone, most never read: only what needs converting is."""
        for name, value in params.items():
            if isinstance(value, date | tuple):
                params[name] = _json(value)
        return cls(code, params)

    def text(self, lang: Lang) -> str:
        """The reason in ``lang``."""
        said_ = self.read_as.get(lang)
        if said_ is None:
            said_ = self.read_as[lang] = render(self, lang)
        return said_

    def summary(self, lang: Lang) -> str:
        """The reason in one short line, for a phone: the catalogue's short form of its
        code (``SHORT``) and of each reason within it, without what the full sentence says
        in brackets; the full sentence where the code has no short form."""
        key = f"{lang}.short"
        said_ = self.read_as.get(key)
        if said_ is None:
            said_ = self.read_as[key] = render(self, lang, short=True)
        return said_

    def details(self, lang: Lang) -> str | None:
        """What lies behind the sentence (its ``detail`` parameter) in ``lang``; None when
        it has none."""
        detail = self.params.get("detail")
        return detail.text(lang) if isinstance(detail, Reason) else None

    @property
    def fr(self) -> str:
        return self.text("fr")

    @property
    def en(self) -> str:
        return self.text("en")

    def __str__(self) -> str:
        return self.fr


def reads_alike(a: Reason, b: Reason) -> bool:
    """Whether two reasons read the same in both languages. Decisions are made anew at
    every tick, each with the moment it was made (``at``), from which a time reads
    « demain 08:00 »: two reasons of the same code and facts made the same day read the
    same, whatever their ``at``; others are compared by their words."""
    return _same_facts(a, b) or (a.fr, a.en) == (b.fr, b.en)


def _same_facts(a: Param, b: Param) -> bool:
    if isinstance(a, Reason) and isinstance(b, Reason):
        if a.code != b.code or a.params.keys() != b.params.keys():
            return False
        return all(_same_day(value, b.params[name]) if name == "at"
                   else _same_facts(value, b.params[name])
                   for name, value in a.params.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same_facts, a, b))
    return a == b


def _same_day(a: Param, b: Param) -> bool:
    """Two moments (ISO 8601 text) of the same local day."""
    return isinstance(a, str) and isinstance(b, str) and a[:10] == b[:10]


def said(fr: str, en: str | None = None) -> Reason:
    """What a person or a device said, as it was said (a person's reason, a device's own
    error, a label): shown as is, in English too when given."""
    return Reason.of("said", fr=fr, en=fr if en is None else en)


def _json(value: Any) -> Param:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def render(reason: Reason, lang: Lang, *, short: bool = False) -> str:
    """The reason in ``lang`` (``short``: its one-line summary, ``Reason.summary``); a
    code this program does not know (a newer one wrote it) reads as its code."""
    catalogue, writers, shorts = _catalogue()
    template = shorts.get(reason.code) if short else None
    if template is None:
        writer = writers.get(reason.code)
        if writer is not None:
            return writer(reason, lang)
        template = catalogue.get(reason.code)
    if template is None:
        return reason.code
    return fill(template[0 if lang == "fr" else 1], reason, lang, short=short)


@functools.cache
def _catalogue() -> tuple[Mapping[str, tuple[str, str]],
                          Mapping[str, Callable[[Reason, Lang], str]],
                          Mapping[str, tuple[str, str]]]:
    """The catalogue, its writers and its short forms, imported on first use: the
    catalogue imports this module's ``Reason``."""
    from gtb.texts.catalogue import CATALOGUE, SHORT, WRITERS

    return CATALOGUE, WRITERS, SHORT


def fill(template: str, reason: Reason, lang: Lang, *, short: bool = False) -> str:
    """``template`` with the reason's parameters put in (``short``: the reasons within
    it by their summary)."""
    params = reason.params
    return "".join(
        literal if field is None
        else literal + _field(params[field], spec, reason, lang, short)
        for literal, field, spec in _parsed(template))


@functools.cache
def _parsed(template: str) -> tuple[tuple[str, str | None, str], ...]:
    """A template's literal texts, each followed by the field it names and its spec:
    parsed once (``str.format``'s syntax; a field is a parameter's name)."""
    return tuple((literal, field, spec or "")
                 for literal, field, spec, _ in string.Formatter().parse(template))


def _field(value: Any, spec: str, reason: Reason, lang: Lang, short: bool = False) -> str:
    """One parameter as ``spec`` shows it (the module's docstring lists them); a reason
    by its summary when ``short``."""
    if isinstance(value, Reason):
        return value.summary(lang) if short else value.text(lang)
    if isinstance(value, list):
        joiner = JOINS.get(spec, JOINS["and"])[0 if lang == "fr" else 1]
        return joiner.join(item.summary(lang) if short else item.text(lang)
                           for item in value)
    if spec == "temperature":
        return temperature(float(value), lang)
    if spec == "number":
        return number(float(value), lang)
    if spec == "g":
        return shortest(float(value), lang)
    if spec == "whole":
        return number(float(value), lang, 0)
    if spec == "percent":
        share = round(100 * float(value))
        return f"{share} %" if lang == "fr" else f"{share}%"
    if spec == "duration":
        return duration(float(value), lang)
    if spec in ("moment", "at"):
        at = reason.params.get("at")
        if not isinstance(at, str):
            raise ValueError(f"{reason.code}: a moment needs the reason's 'at'")
        said_ = moment if spec == "moment" else moment_at
        return said_(datetime.fromisoformat(value), datetime.fromisoformat(at), lang)
    if spec == "de":
        return of_name(str(value))
    if spec == "clock":
        return datetime.fromisoformat(value).strftime("%H:%M")
    if spec == "ddmm":
        return date.fromisoformat(value[:10]).strftime("%d/%m")
    if spec == "date":
        return date.fromisoformat(value[:10]).strftime("%d/%m/%Y")
    if spec == "day":
        return (DAYS_FR if lang == "fr" else DAYS_EN)[date.fromisoformat(value[:10]).weekday()]
    if spec:
        raise ValueError(f"{reason.code}: unknown format {spec!r}")
    return str(value)


_VOWELS = frozenset("aeiouyàâäéèêëîïôöùûüÿæœ")


def of_name(name: str) -> str:
    """``de`` before a name, elided before a vowel: « de marie », « d'admin »,
    « d'École Jules-Ferry ». A name beginning with an h keeps « de »: whether its h is
    mute cannot be told from its letters (« d'Hélène », but « de Hoche »), and « de »
    before a mute h reads better than « d' » before an aspirated one."""
    return f"d'{name}" if name[:1].lower() in _VOWELS else f"de {name}"


JOINS: Mapping[str, tuple[str, str]] = {
    "and": (" ; ", "; "),
    "comma": (", ", ", "),
    "sentences": (" ", " "),
}
"""How a list of reasons is joined, by the format spec of its field."""
