"""The store's branding as a Qt stylesheet. Sizes are for reading at kiosk distance (1-2 m) on a
1920x1080 screen (or 1080x1920); another screen scales them all by its short side, so a 4K screen
reads the same from the same place and a small one still holds every control."""
from __future__ import annotations

import re

DESIGN_PX = 1080                 # the short side the sizes below are drawn for
SCALE_RANGE = (0.5, 2.5)         # below half size text is unreadable; past 2.5x no screen needs it
SMALLEST = (800, 600)            # a smaller output is served, with a warning that text may be cut


def scale_for(width: int, height: int) -> float:
    lo, hi = SCALE_RANGE
    return round(min(hi, max(lo, min(width, height) / DESIGN_PX)), 2)


# A font with every glyph of the language (Debian's fonts-noto-cjk, installed by install.sh): Qt's
# per-glyph fallback would mix faces in one line and, with no CJK font at all, draw boxes.
FONTS = {"zh_CN": ("Noto Sans CJK SC", "Noto Sans Mono CJK SC")}
LATIN = ("DejaVu Sans", "DejaVu Sans Mono")


def stylesheet(brand, language: str = "en", scale: float = 1.0) -> str:
    p, a, t = brand.primary_color, brand.accent_color, brand.text_color
    sans, mono = FONTS.get(language, LATIN)
    css = f"""
    QMainWindow, QStackedWidget > QWidget {{ background: {p}; color: {t}; }}
    QWidget {{ font-family: "{sans}"; font-size: 20px; color: {t}; }}
    #brandBar {{ background: rgba(0,0,0,0.25); }}
    #storeName {{ font-size: 34px; font-weight: bold; }}
    #attractTitle {{ font-size: 52px; font-weight: bold; padding: 24px 0 8px 0; }}
    #attractSub {{ font-size: 28px; color: rgba(255,255,255,0.8); padding-bottom: 24px; }}
    #privacy {{ font-size: 17px; color: rgba(255,255,255,0.75); padding: 10px; }}
    #staffStatus {{ font-size: 13px; color: rgba(255,255,255,0.45); }}
    #panel {{ background: rgba(255,255,255,0.06); border-radius: 18px; }}
    #sectionTitle {{ font-size: 30px; font-weight: bold; padding: 8px 4px; }}
    QScrollArea, QScrollArea > QWidget > QWidget {{ background: transparent; border: none; }}
    #card {{ background: #ffffff; border-radius: 16px; }}
    #card QLabel {{ color: #1b1b1b; background: transparent; }}
    #cardImage {{ background: #f2f2f2; border-radius: 10px; }}
    #cardBadge {{ font-size: 15px; font-weight: bold; color: {a}; letter-spacing: 1px; }}
    #cardName {{ font-size: 26px; font-weight: bold; }}
    #cardPrice {{ font-size: 30px; font-weight: bold; color: {a}; }}
    #cardStock {{ font-size: 19px; color: #2d6a4f; }}
    #cardNoStock {{ font-size: 19px; color: #b00020; }}
    #cardWhy {{ font-size: 18px; color: #444444; font-style: italic; }}
    QPushButton {{ background: rgba(255,255,255,0.12); border: 2px solid rgba(255,255,255,0.25);
                  border-radius: 14px; padding: 10px 18px; font-size: 22px; font-weight: bold; }}
    QPushButton:checked {{ background: {a}; border-color: {a}; }}
    QPushButton:pressed {{ background: {a}; }}
    #detailName {{ font-size: 46px; font-weight: bold; }}
    #detailPrice {{ font-size: 44px; font-weight: bold; color: {a}; }}
    #detailStock {{ font-size: 26px; }}
    #detailDesc {{ font-size: 24px; color: rgba(255,255,255,0.85); }}
    #problemText {{ font-size: 28px; font-family: "{mono}"; background: rgba(0,0,0,0.3);
                   padding: 24px; border-radius: 12px; }}
    #pinEntry {{ font-size: 36px; padding: 8px; color: #111111; background: #ffffff; }}
    QDialog {{ background: {p}; }}
    #corner {{ min-width: 64px; max-width: 64px; min-height: 56px; max-height: 56px; }}
    #cardImage {{ min-width: 150px; max-width: 150px; min-height: 150px; max-height: 150px; }}
    #video {{ min-width: 320px; min-height: 240px; }}
    #qr {{ min-width: 240px; max-width: 240px; min-height: 240px; max-height: 240px; }}
    #detailImage {{ min-width: 360px; min-height: 360px; }}
    QPushButton {{ min-height: 48px; }}
    """
    return re.sub(r"(\d+)px", lambda m: f"{max(1, round(int(m.group(1)) * scale))}px", css)
