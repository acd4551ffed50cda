"""The review sheet: one self-contained HTML page of a batch's tags (thumbnails inline, no file
beside it), the least sure row first, filtered by any tag in the browser, for a merchandiser."""
from __future__ import annotations

import base64
import html
from pathlib import Path

import cv2

from ..errors import BadImage
from ..vision.imageio import read_image

THUMB_PX = 160

PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: "DejaVu Sans", "Noto Sans CJK SC", sans-serif; margin: 24px; color: #1b1b1b; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 6px 10px; text-align: left; vertical-align: top; }}
th {{ background: #f2f2f2; position: sticky; top: 0; }}
img {{ width: {px}px; height: {px}px; object-fit: contain; background: #f7f7f7; }}
.review {{ background: #fff4e5; }} .bad {{ background: #fde8e8; }}
.low {{ color: #b00020; font-weight: bold; }} .conf {{ color: #666; font-size: 85%; }}
#filters select, #filters input {{ margin: 0 12px 12px 0; font-size: 15px; }}
</style></head><body>
<h1>{title}</h1>
<p>{summary}</p>
<div id="filters">{filters}<input id="q" placeholder="search sku, name, description"></div>
<table><thead><tr><th>photo</th><th>sku · name</th>{heads}<th>description</th><th>review</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<script>
const filters = [...document.querySelectorAll('#filters select')], q = document.getElementById('q');
function apply() {{
  const want = filters.map(s => [s.dataset.col, s.value]), text = q.value.toLowerCase();
  let shown = 0;
  for (const tr of document.querySelectorAll('tbody tr')) {{
    const ok = want.every(([c, v]) => !v || tr.dataset[c] === v) && tr.textContent.toLowerCase().includes(text);
    tr.hidden = !ok; shown += ok;
  }}
  document.getElementById('shown').textContent = shown;
}}
filters.forEach(s => s.addEventListener('change', apply)); q.addEventListener('input', apply); apply();
</script></body></html>
"""


def thumbnail(path: str) -> str:
    try:
        bgr = read_image(path)
    except (BadImage, OSError):
        return ""
    h, w = bgr.shape[:2]
    f = THUMB_PX * 2 / max(h, w)           # twice the shown size: sharp on a high-density screen
    small = cv2.resize(bgr, (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA) if f < 1 else bgr
    ok, jpg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 82])
    return "data:image/jpeg;base64," + base64.b64encode(jpg.tobytes()).decode() if ok else ""


def least_sure(row: dict, columns: list[str]) -> float:
    if row.get("error"):
        return -1.0
    values = [float(row[f"{c}_confidence"]) for c in columns if row.get(f"{c}_confidence") not in (None, "")]
    return min(values, default=0.0)


def write_review_sheet(rows: list[dict], columns: list[str], path: Path, title: str = "New arrivals: tags to review") -> None:
    """rows: the batch's CSV rows (edge/styling/backoffice.py csv_row)."""
    e = html.escape
    rows = sorted(rows, key=lambda r: least_sure(r, columns))
    body = []
    for r in rows:
        cells = []
        for c in columns:
            conf = r.get(f"{c}_confidence", "")
            low = conf not in ("", None) and c in (r.get("review") or "").split()
            cells.append(f'<td class="{"low" if low else ""}">{e(r.get(c, ""))}'
                         f'<div class="conf">{e(str(conf))}</div></td>')
        cls = "bad" if r.get("error") else "review" if r.get("review") else ""
        data = " ".join(f'data-{c}="{e(r.get(c, ""))}"' for c in columns)
        src = thumbnail(r["image"]) if not r.get("error") else ""
        body.append(f'<tr class="{cls}" {data}><td>{f"<img src={chr(34)}{src}{chr(34)} alt>" if src else ""}</td>'
                    f'<td><b>{e(r["sku"])}</b><br>{e(r.get("name", ""))}</td>{"".join(cells)}'
                    f'<td>{e(r.get("description", ""))}</td><td>{e(r.get("error") or r.get("review", ""))}</td></tr>')
    filters = "".join(
        f'<select data-col="{e(c)}"><option value="">every {e(c)}</option>'
        + "".join(f'<option>{e(v)}</option>' for v in sorted({r.get(c, "") for r in rows} - {""})) + "</select>"
        for c in columns)
    flagged = sum(bool(r.get("review")) for r in rows)
    bad = sum(bool(r.get("error")) for r in rows)
    summary = (f'{len(rows)} products, <span id="shown">{len(rows)}</span> shown; {flagged} to review, '
               f'{bad} photos unreadable. Least sure first; a number under a tag is its confidence.')
    path.write_text(PAGE.format(lang="en", title=e(title), px=THUMB_PX, summary=summary, filters=filters,
                                heads="".join(f"<th>{e(c)}</th>" for c in columns), rows="\n".join(body)),
                    encoding="utf-8")
