"""`python -m ui.i18n update`: list the run-time words (vocabulary.py) and bring every .ts up to date
with the source (pyside6-lupdate); a translator then fills the new entries (pyside6-linguist).
`python -m ui.i18n build`: compile each .ts to the .qm the kiosk loads (install does this)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edge.text import LANGUAGES

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VOCABULARY = HERE / "vocabulary.py"
# Templates are T("context", "...") in edge/ and translate("context", "...") in ui/: both read as
# QCoreApplication.translate calls.
LUPDATE_ARGS = ["-tr-function-alias", "translate+=T", "-extensions", "py", "-no-obsolete", "-locations", "none"]


def ts_file(language: str) -> Path:
    return HERE / f"signage_{language}.ts"


def tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def vocabulary() -> dict[str, list[str]]:
    """Words that reach the screen only at run time, by context: categories, colours, the words
    that explain a pairing, and the default privacy notice."""
    from edge.config import PRIVACY_NOTICE
    from edge.styling.looks import READABLE
    from edge.taxonomy import CATEGORY_SLOT, KIND_CATEGORY
    from edge.vision.colors import PALETTE
    manifest = json.loads((ROOT / "models" / "manifest.json").read_text(encoding="utf-8"))
    trained = manifest["models"]["embedder"]["finetune"]["training"]["labels"]   # what the tagger names
    categories = set(CATEGORY_SLOT) | {c.lower() for c in (*KIND_CATEGORY.values(), *trained) if c}
    return {"category": sorted(categories), "colour": sorted(PALETTE), "word": sorted(READABLE),
            "kiosk": [PRIVACY_NOTICE]}


def render_vocabulary() -> str:
    lines = ['"""The words that reach the screen only at run time, for the translators. Written by',
             '`python -m ui.i18n update` from the taxonomy, the colour palette and the models\' labels:',
             'do not edit."""', "from edge.text import T", "", "VOCABULARY = ("]
    for context, words in vocabulary().items():
        lines += [f"    T({context!r}, {w!r})," for w in words]
    return "\n".join(lines + [")", ""])


def extract(ts: Path, language: str, sources=(ROOT / "edge", ROOT / "ui")) -> None:
    """Bring ts up to date with the source texts (new ones unfinished, gone ones dropped)."""
    subprocess.run([tool("pyside6-lupdate"), *LUPDATE_ARGS, *map(str, sources), "-target-language", language,
                    "-ts", str(ts)], check=True, capture_output=True)


def update(languages=LANGUAGES[1:]) -> None:
    VOCABULARY.write_text(render_vocabulary(), encoding="utf-8")
    for lang in languages:
        extract(ts_file(lang), lang)


def build(out: Path = HERE, languages=LANGUAGES[1:]) -> list[Path]:
    made = []
    for lang in languages:
        qm = out / f"signage_{lang}.qm"
        subprocess.run([tool("pyside6-lrelease"), "-silent", str(ts_file(lang)), "-qm", str(qm)], check=True)
        made.append(qm)
    return made


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "update":
        update()
    elif what == "build":
        print("\n".join(map(str, build())))
    else:
        sys.exit("usage: python -m ui.i18n update|build")
