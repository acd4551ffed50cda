"""Every figure the README states is written by the run that measured it: a measured number is
marked with the results path it comes from (`0.958<!--fig scale/catalogue/1/recall_at_10-->`),
bench/docs.py's render_figures writes it from docs/benchmarks/results.json (each benchmark's
--write re-renders it), and a figure-like number with no mark must be a setting, a target or a
fact that is no measurement (listed below with why)."""
import json
import re

import pytest

from bench.docs import BLOCK, FIGURE, render_doc, render_figures
from conftest import ROOT

RESULTS = json.loads((ROOT / "docs" / "benchmarks" / "results.json").read_text())
# A number followed by a unit, or with decimals; not part of a word, path, version or anchor.
NUMBER = re.compile(r"(?<![\w.\-/#=+])(\d+(?:\.\d+)?)(\s*(?:ms|s|x|%|MB|GB|fps)\b)?")
# Words before a number that make it no measurement: a target or floor set beforehand, a match
# criterion, a version.
NOT_MEASURED_AFTER = ("target ", "floor ", "Python ", "CC0 ", "IoU >= ", "IoU ", "cosine < ", "at ")
NOT_MEASURED = {
    "the demo video's last 20 s": "the demo video's length",
    "a 30 fps camera": "a camera's frame rate",
    "a 700 MB+ install": "torch's install size, from pip",
    "trained on 80% of the outfits": "the training split (edge/styling/compat.split_outfits)",
    "checked on the other 20%": "the held-out share of that split",
    "(95 % half-widths": "a confidence level",
    "`stock_margin` (0.5)": "a constant of complete the look (edge/styling/looks.py)",
    "down to score 0.2": "the setting detector.person_threshold",
    "flag is >= 0.99": "the setting pose.min_person",
    "covers under 30 %": "the setting cutout.first_cover",
    "for 2 s or more": "the setting analytics.session_min_s",
    "`code`, 2 s, or more": "the setting analytics.session_min_s (docs/sync.md)",
    "still open after 3 s": "sync/store.py GAP_WAIT",
    "at most every 30 s": "edge/catalog/store.py INDEX_SAVE_S",
    "does not have within 60 s": "sync/store.py IMAGE_WAIT",
}


def prose(text: str) -> str:
    text = BLOCK.sub("", text)                          # generated tables: checked by rendering them
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "`code`", text)
    text = re.sub(r"\]\([^)]*\)", "]()", text)           # link and image targets
    for phrase in NOT_MEASURED:
        text = text.replace(phrase.replace("`stock_margin`", "`code`"), "")
    return FIGURE.sub("<figure>", text)


def unmarked(text: str) -> list[str]:
    out = []
    for m in NUMBER.finditer(prose(text)):
        number, unit = m.group(1), m.group(2)
        if "." not in number and not unit:
            continue                                    # a count, a year, a size in px
        before = prose(text)[max(0, m.start() - 12):m.start()]
        if before.endswith(NOT_MEASURED_AFTER):
            continue
        out.append(before[-12:] + m.group(0))
    return out


def test_the_readmes_figures_are_the_results_files():
    text = (ROOT / "README.md").read_text()
    assert len(FIGURE.findall(text)) >= 50
    assert render_figures(text, RESULTS) == text, "README figures differ from docs/benchmarks/results.json"


def test_the_readme_states_no_figure_without_its_results_path():
    assert unmarked((ROOT / "README.md").read_text()) == []


def test_a_typed_figure_and_a_wrong_one_are_both_caught():
    good = "recall 0.958<!--fig scale/catalogue/1/recall_at_10--> at p99 5.7 ms<!--fig scale/catalogue/1/p99_ms-->"
    assert render_figures(good, RESULTS) == good and unmarked(good) == []
    assert render_figures(good.replace("0.958", "0.975"), RESULTS) == good     # a hand edit is overwritten
    assert unmarked("swap p95 0.45 s on held-out photos") == ["swap p95 0.45 s"]


PAGES = ("fleet.md", "sync.md")


@pytest.mark.parametrize("page", PAGES)
def test_the_docs_pages_figures_and_tables_are_the_results_files(page):
    """docs/fleet.md's tables are rendered from results.json's `fleet` section (bench.fleet --write)
    and sync.md's measured figures are marked: a typed or stale figure in either fails."""
    text = (ROOT / "docs" / page).read_text()
    assert render_doc(text, RESULTS) == text, f"docs/{page} differs from docs/benchmarks/results.json"
    assert unmarked(text) == []


def test_every_docs_page_is_checked():
    assert sorted(p.name for p in (ROOT / "docs").glob("*.md")) == sorted({*PAGES, "benchmarks.md"})


def test_a_hand_edited_table_is_rewritten():
    text = "before\n<!--table fleet/bridged-->\n| stores |\n| 20 | typed |\n<!--end table-->\nafter"
    out = render_doc(text, RESULTS)
    assert "typed" not in out and out.startswith("before\n<!--table fleet/bridged-->\n| stores | screens |")
    assert out.endswith("\n<!--end table-->\nafter") and render_doc(out, RESULTS) == out


def test_benchmarks_md_is_the_rendering_of_the_results_file():
    """docs/benchmarks.md is never edited by hand: it is bench/docs.py's rendering of results.json."""
    from bench.docs import markdown
    assert markdown(RESULTS) == (ROOT / "docs" / "benchmarks.md").read_text()
