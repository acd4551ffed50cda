"""The screen's language: Qt's translator loaded for `kiosk.language`, every Text rendered through it,
prices and numbers in that language's way.

The translations are kept in signage_<language>.ts (pyside6-lupdate, `python -m ui.i18n update`) and
compiled to .qm by install (`python -m ui.i18n build`). A language whose .qm is missing falls back to
English and says so once, on stderr (the journal): a screen in English serves, a blank one does not.
"""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLocale, QTranslator

from edge.text import LANGUAGES, Text

HERE = Path(__file__).resolve().parent
# Currency symbols where the code is not what a shopper reads; a language may read another
# country's currency differently (in English, the yuan is CN¥ beside the dollar's $).
SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "CNY": "¥", "JPY": "¥"}
SYMBOLS_IN = {"en": {"CNY": "CN¥", "JPY": "JP¥"}, "zh_CN": {"USD": "US$", "JPY": "JP¥"}}


def translate(context: str, source: str) -> str:
    """Qt's translation of a source text (pyside6-lupdate reads the calls: literal arguments)."""
    return QCoreApplication.translate(context, source)


def tr(text: Text | str) -> str:
    """A Text in the screen's language (a plain string is data: a product's name, shown as it is)."""
    return text.render(translate) if isinstance(text, Text) else text


def resolve(language: str, system: str | None = None) -> str:
    """kiosk.language, or when empty the system's locale if the screen speaks it (zh_TW -> zh_CN is
    not assumed: only the same language and script), else English."""
    if language:
        return language
    name = system if system is not None else QLocale.system().name()
    return name if name in LANGUAGES else "en"


class Language:
    """The loaded language: its translator installed on the application, its locale for numbers."""
    _said: set = set()        # languages whose missing file was already reported (once a process)

    def __init__(self, language: str, folder: Path = HERE):
        self.requested = resolve(language)
        self.translator: QTranslator | None = None
        self.name = "en"
        if self.requested != "en":
            translator = QTranslator()
            if translator.load(f"signage_{self.requested}", str(folder)):
                QCoreApplication.installTranslator(translator)
                self.translator, self.name = translator, self.requested
            elif self.requested not in Language._said:
                Language._said.add(self.requested)
                print(f"signage kiosk: no translation file for {self.requested} "
                      f"({folder / f'signage_{self.requested}.qm'}: `python -m ui.i18n build` makes it); "
                      f"showing English", file=sys.stderr)
        self.locale = QLocale(self.name)

    def money(self, price, currency: str) -> str:
        if price is None:
            return ""
        symbol = SYMBOLS_IN.get(self.name, {}).get(currency) or SYMBOLS.get(currency) or f"{currency} "
        return self.locale.toCurrencyString(float(price), symbol, 2)

    def number(self, value: float, decimals: int = 0) -> str:
        return self.locale.toString(float(value), "f", decimals)

    def close(self) -> None:
        if self.translator is not None:
            QCoreApplication.removeTranslator(self.translator)
            self.translator = None
