"""Words for a shopper or staff before they are in their language.

A `Text` is an English template with named `{placeholders}`, the context it is translated in and
the values that fill it (themselves a Text, a word of the taxonomy or plain data). `str()` gives
the English; the kiosk renders it through Qt's translator (ui/i18n.py), so the edge, the CLI and the
JSON it prints need no Qt. Templates are written as `T("context", "template")` so that
pyside6-lupdate finds them (`python -m ui.i18n update`); a word known only at run time (a category,
a colour) is `word("category", "t-shirt")`, and the vocabulary it may take is listed in
ui/i18n/vocabulary.py for the translators.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

# The languages the screen speaks; each but English has ui/i18n/signage_<language>.ts.
LANGUAGES = ("en", "zh_CN")

Translate = Callable[[str, str], str]


def english(context: str, source: str) -> str:
    return source


@dataclass(frozen=True)
class Text:
    context: str
    source: str
    args: tuple = ()               # (name, value) pairs
    capital: bool = False          # first letter upper case once rendered (a sentence)

    def fill(self, **values) -> Text:
        return Text(self.context, self.source, self.args + tuple(values.items()), self.capital)

    def sentence(self) -> Text:
        return Text(self.context, self.source, self.args, True)

    def render(self, translate: Translate = english) -> str:
        values = {k: v.render(translate) if isinstance(v, Text) else v for k, v in self.args}
        out = translate(self.context, self.source).format(**values)
        return out[:1].upper() + out[1:] if self.capital else out

    def __str__(self) -> str:
        return self.render()


def T(context: str, source: str) -> Text:
    """A template (pyside6-lupdate reads these calls: keep both arguments literal strings)."""
    return Text(context, source)


def word(context: str, value: str) -> Text:
    """A word known only at run time, translated when the vocabulary has it, else shown as it is
    (a store's own category name stays the store's)."""
    return Text(context, value.lower()) if value else Text(context, "")
