"""The screen in the shopper's language: every string translated with its placeholders, the language
chosen by kiosk.language or the system's locale, English when a translation file is missing, prices
by QLocale, and a font that has every glyph."""
import ast
import re
import xml.etree.ElementTree as ET

import pytest

from conftest import ROOT
from edge.text import LANGUAGES, T

I18N = ROOT / "ui" / "i18n"
PLACEHOLDER = re.compile(r"\{(\w*)[^}]*\}")


def messages(ts):
    for context in ET.parse(ts).getroot().iter("context"):
        for m in context.iter("message"):
            yield context.findtext("name"), m.findtext("source"), m.find("translation")


def problems(ts) -> list[str]:
    """What keeps a .ts from being complete: a message without translation, or whose
    translation lacks or adds a {placeholder}."""
    out = []
    for context, source, tr in messages(ts):
        if tr is None or not (tr.text or "").strip() or tr.get("type") in ("unfinished", "vanished", "obsolete"):
            out.append(f"{context}: {source!r} not translated")
        elif sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(tr.text)):
            out.append(f"{context}: {source!r} -> {tr.text!r}: placeholders differ")
    return out


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_every_message_is_translated_with_its_placeholders(language):
    ts = I18N / f"signage_{language}.ts"
    assert ts.is_file(), f"{ts} missing: `python -m ui.i18n update` makes it"
    assert problems(ts) == []
    assert sum(1 for _ in messages(ts)) > 150


def test_an_untranslated_or_broken_message_is_caught(tmp_path):
    bad = tmp_path / "bad.ts"
    bad.write_text('<TS version="2.1" language="zh_CN"><context><name>screen</name>'
                   '<message><source>Like your {item}</source><translation>与您的相似</translation></message>'
                   '<message><source>Find similar</source><translation type="unfinished"></translation></message>'
                   '</context></TS>', encoding="utf-8")
    assert len(problems(bad)) == 2


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_the_translation_holds_every_string_of_the_code(tmp_path, language):
    """A string added to edge/ or ui/ and not to the .ts (or a stale vocabulary) fails here."""
    from ui.i18n.__main__ import VOCABULARY, extract, render_vocabulary
    assert VOCABULARY.read_text(encoding="utf-8") == render_vocabulary(), "run `python -m ui.i18n update`"
    fresh = tmp_path / "fresh.ts"
    extract(fresh, language)
    code = {(c, s) for c, s, _ in messages(fresh)}
    kept = {(c, s) for c, s, _ in messages(I18N / f"signage_{language}.ts")}
    assert code - kept == set(), "new strings: run `python -m ui.i18n update` and translate them"
    assert kept - code == set(), "strings no longer in the code: run `python -m ui.i18n update`"


def literal_ui_texts() -> list[str]:
    """Literal strings handed straight to a widget in ui/: each must go through translate()."""
    shown = {"QLabel", "BigButton", "QPushButton", "setText", "setWindowTitle", "show_problem"}
    found = []
    for path in (ROOT / "ui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args:
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                arg = node.args[0]
                if name in shown and isinstance(arg, (ast.Constant, ast.JoinedStr)) and \
                        re.search(r"[A-Za-z]{2}", ast.unparse(arg)):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(arg)}")
    return found


def test_no_widget_text_bypasses_the_translator():
    assert literal_ui_texts() == []


def test_the_system_locale_chooses_when_the_config_does_not():
    from ui.i18n import resolve
    assert resolve("", "zh_CN") == "zh_CN"
    assert resolve("", "de_DE") == "en" and resolve("", "C") == "en"
    assert resolve("en", "zh_CN") == "en" and resolve("zh_CN", "en_GB") == "zh_CN"


def test_an_unknown_language_is_refused_naming_the_key(tmp_path):
    from edge.config import load_config
    from edge.errors import ConfigError
    f = tmp_path / "c.yaml"
    f.write_text("kiosk:\n  language: fr_FR\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"kiosk\.language.*fr_FR"):
        load_config(f)


@pytest.fixture
def zh(qapp, tmp_path):
    from ui.i18n import Language
    from ui.i18n.__main__ import build
    build(tmp_path)
    lang = Language("zh_CN", tmp_path)
    yield lang
    lang.close()


def test_the_screen_speaks_chinese(qtbot, cfg, zh):
    from edge.catalog.products import Product
    from edge.live.screen import Card, Panel, your_item
    from edge.styling.looks import Suggestion
    from ui.app import KioskState, KioskWindow
    from ui.widgets import ProductCard
    assert zh.name == "zh_CN"
    win = KioskWindow(cfg, KioskState(), None, language=zh)
    qtbot.addWidget(win)
    assert win.mode_buttons["similar"].text() == "找相似"
    title = T("screen", "Like your {item}").fill(item=your_item(("light blue",), "T-Shirt", "upper"))
    s = Suggestion("bottom", Product("J", "直筒牛仔裤", "Jeans", stock=0), 1.0,
                   T("why", "picked for you by the store"))
    s.why = T("why", "{why} (out of stock here: ask staff)").fill(why=s.why)
    win.show_panel(Panel(title, (Card("J", "直筒牛仔裤", 399.0, "CNY", 0, "B2", s.why),)))
    assert win.panel_title.text() == "与您的浅蓝色T恤相似"
    card = win.cards.itemAt(0).widget()
    assert isinstance(card, ProductCard)
    texts = [w.text() for w in card.findChildren(type(win.panel_title))]
    assert "¥399.00" in texts and "本店缺货 · 请咨询店员" in texts and "门店为您精选（本店缺货：请咨询店员）" in texts
    assert zh.money(1299, "CNY") == "¥1,299.00" and zh.money(20, "USD") == "US$20.00"


def test_english_prices_say_which_yuan(qapp):
    from ui.i18n import Language
    en = Language("en")
    assert en.money(1299, "CNY") == "CN¥1,299.00" and en.money(17.99, "EUR") == "€17.99"
    assert en.money(None, "EUR") == "" and en.money(5, "SEK") == "SEK 5.00"


def test_a_missing_translation_file_shows_english_and_says_so_once(qtbot, cfg, tmp_path, capfd):
    from ui.app import KioskState, KioskWindow
    from ui.i18n import Language
    Language._said.discard("zh_CN")
    first, second = Language("zh_CN", tmp_path), Language("zh_CN", tmp_path)
    assert first.name == second.name == "en"
    err = capfd.readouterr().err
    assert err.count("no translation file for zh_CN") == 1 and "showing English" in err
    win = KioskWindow(cfg, KioskState(), None, language=first)
    qtbot.addWidget(win)
    assert win.mode_buttons["similar"].text() == "Find similar"


def test_the_chinese_font_has_every_glyph_and_long_names_wrap(qtbot, cfg, zh):
    """fonts-noto-cjk (install.sh) is the face the zh_CN theme names; every character of every
    translation is in it (no boxes), and a long Chinese product name wraps inside its card."""
    from PySide6.QtGui import QFont, QFontDatabase, QFontMetrics
    from PySide6.QtWidgets import QLabel
    from ui.theme import FONTS, stylesheet
    from ui.widgets import ProductCard
    sans, mono = FONTS["zh_CN"]
    assert {sans, mono} <= set(QFontDatabase.families()), "fonts-noto-cjk is not installed"
    metrics = QFontMetrics(QFont(sans))
    chars = {ch for _, _, tr in messages(I18N / "signage_zh_CN.ts") for ch in tr.text if not ch.isspace()}
    assert [ch for ch in chars if not metrics.inFontUcs4(ord(ch))] == []
    name = "女士高腰直筒水洗牛仔裤 浅蓝色 春夏新款九分裤"
    card = ProductCard("J", name, zh.money(399, "CNY"), 3, "B2", "", None)
    card.setStyleSheet(stylesheet(cfg.brand, "zh_CN"))
    qtbot.addWidget(card)
    card.resize(420, 190)
    card.show()
    label = card.findChild(QLabel, "cardName")
    assert label.text() == name and label.wordWrap()
    line = label.fontMetrics().height()
    assert label.heightForWidth(label.width()) >= 2 * line - 2, "a long name must take more than one line"
    assert label.fontMetrics().horizontalAdvance(name) > label.width()
