"""The kiosk window: attract loop, live view with suggestions, product detail, problem screen.

The pipeline (edge/live/) runs in its own threads and only stores the newest frame and the
newest result in `KioskState`; a GUI timer reads that state and draws the Panel that
edge/live/screen.py makes of it. Nothing here infers or decides what to show, and nothing of the
camera is written anywhere.
"""
from __future__ import annotations

import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QApplication, QBoxLayout, QDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QMainWindow,
                               QScrollArea, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget)

from edge.config import Config
from edge.errors import ConfigError
from edge.staff import StaffLock, read_pin_file
from edge.live.capture import Frame
from edge.live.pipeline import SourceStatus
from edge.live.recognizer import FrameResult
from edge.live.screen import MODES, Panel, panel_for, video_labels
from edge.text import Text

from .i18n import Language, tr, translate
from .theme import SMALLEST, scale_for, stylesheet
from .widgets import (BigButton, ProductCard, QrView, VideoView, bgr_to_qimage, clear_layout, pixmap_for,
                      stock_text)


# The kiosk's exit status when a pipeline thread died (EX_TEMPFAIL): systemd's Restart= starts it again.
EXIT_RESTART = 75
# The attract screen: brand bar, titles and the privacy notice take this much height; a row of
# product cards this much (card and spacing).
ATTRACT_TITLES_PX, ATTRACT_ROW_PX = 520, 210


@dataclass
class KioskState:
    """What the pipeline threads hand to the screen: newest frame, newest result, source status."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    frame: Frame | None = None
    result: FrameResult | None = None
    status: SourceStatus | None = None
    frame_times: deque = field(default_factory=lambda: deque(maxlen=60))

    def put_frame(self, frame) -> None:
        with self.lock:
            self.frame = frame
            self.frame_times.append(time.monotonic())

    def put_result(self, result) -> None:
        with self.lock:
            self.result = result

    def put_status(self, status) -> None:
        with self.lock:
            self.status = status

    def callbacks(self) -> dict:
        """The pipeline's callbacks that fill this state (Runtime.pipeline(source, **callbacks))."""
        return {"on_frame": self.put_frame, "on_result": self.put_result, "on_status": self.put_status}

    def snapshot(self) -> tuple[Frame | None, FrameResult | None, SourceStatus | None, float]:
        with self.lock:
            t = self.frame_times
            fps = (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0
            return self.frame, self.result, self.status, fps


def camera_state(state: str) -> str:
    """The camera as the staff line says it (SourceStatus.state)."""
    return {"starting": translate("staff", "camera starting"), "lost": translate("staff", "camera lost"),
            "failed": translate("staff", "camera failed")}.get(state) or translate("staff", "camera ok")


class PinDialog(QDialog):
    """Staff only: a PIN keypad; the right PIN offers leaving fullscreen or quitting."""

    def __init__(self, lock, parent=None):
        """lock: edge.staff.StaffLock (the hash, the wrong tries and the lockout live there)."""
        super().__init__(parent)
        self.setObjectName("pinDialog")
        self.setWindowTitle(translate("staff", "Staff"))
        self.lock = lock
        self.choice = None
        lay = QVBoxLayout(self)
        title = QLabel(translate("staff", "Staff PIN"))
        title.setObjectName("sectionTitle")
        lay.addWidget(title)
        self.entry = QLineEdit()
        self.entry.setEchoMode(QLineEdit.EchoMode.Password)
        self.entry.setObjectName("pinEntry")
        lay.addWidget(self.entry)
        grid = QGridLayout()
        for i, key in enumerate("123456789C0✓"):
            b = BigButton(key)
            b.clicked.connect(lambda _=False, k=key: self._key(k))
            grid.addWidget(b, i // 3, i % 3)
        lay.addLayout(grid)
        self.message = QLabel("")
        lay.addWidget(self.message)
        self.actions = QHBoxLayout()
        lay.addLayout(self.actions)

    def _key(self, k: str) -> None:
        if k == "C":
            self.entry.clear()
        elif k == "✓":
            self.check()
        else:
            self.entry.setText(self.entry.text() + k)

    def check(self) -> bool:
        verdict = self.lock.check(self.entry.text())
        self.entry.clear()
        if not verdict.ok:
            self.message.setText(tr(verdict.message))
            return False
        self.message.setText("")
        clear_layout(self.actions)
        for label, choice in ((translate("staff", "Leave fullscreen"), "windowed"),
                              (translate("staff", "Quit kiosk"), "quit"), (translate("staff", "Back"), None)):
            b = BigButton(label)
            b.clicked.connect(lambda _=False, c=choice: self._choose(c))
            self.actions.addWidget(b)
        return True

    def _choose(self, choice) -> None:
        self.choice = choice
        self.accept()


class KioskWindow(QMainWindow):
    def __init__(self, cfg: Config, state: KioskState, catalog=None, problem: str | None = None,
                 sync_status=lambda: translate("staff", "sync: off"), engagement=None,
                 language: Language | None = None):
        super().__init__()
        self.cfg = cfg
        self.language = language or Language("en")   # run_kiosk loads kiosk.language's translator
        self.engagement = engagement      # edge.live.engagement.Engagement: aggregate counts, or None
        try:
            pin = read_pin_file(cfg.kiosk.staff_pin_file)
        except ConfigError:     # damaged: the keypad says to set it again, the kiosk still serves
            pin = None
        self.staff_lock = StaffLock(pin, cfg.kiosk.staff_max_tries, cfg.kiosk.staff_lock_s)
        self.state = state
        self.catalog = catalog
        self.sync_status = sync_status
        self.mode = "similar"
        self._pixmaps: dict = {}
        self._shown_key = None
        self._last_seen = time.monotonic()
        self._corner_taps: list[float] = []
        self._attract_index = 0
        self._failing = False
        self.setWindowTitle(cfg.brand.store_name)
        size = QApplication.primaryScreen().size()
        self.scale = scale_for(size.width(), size.height())       # resizeEvent follows the window
        self.setStyleSheet(stylesheet(cfg.brand, self.language.name, self.scale))

        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.attract = self._build_attract()
        self.live = self._build_live()
        self.detail = self._build_detail()
        self.problem = self._build_problem()
        for w in (self.attract, self.live, self.detail, self.problem):
            self.stack.addWidget(w)
        QShortcut(QKeySequence("Ctrl+Shift+Q"), self, activated=self.staff_escape)

        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        if problem:
            self.show_problem(problem)
        else:
            self.stack.setCurrentWidget(self.attract)
            self.timer.start(33)        # ~30 fps of screen updates, whatever the inference rate
        self._attract_timer = QTimer(self)
        self._attract_timer.timeout.connect(self._rotate_attract)
        self._attract_timer.start(3000)
        self._rotate_attract()

    # ---- screens ----------------------------------------------------------------------------
    def _brand_bar(self) -> QWidget:
        bar = QWidget()
        bar.setObjectName("brandBar")
        lay = QHBoxLayout(bar)
        lay.setContentsMargins(24, 12, 24, 12)
        logo = QLabel()
        if self.cfg.brand.logo is not None:
            logo.setPixmap(QPixmap(str(self.cfg.brand.logo)).scaledToHeight(self.px(72),
                                                                            Qt.TransformationMode.SmoothTransformation))
        else:
            logo.setText(self.cfg.brand.store_name)
            logo.setObjectName("storeName")
        lay.addWidget(logo)
        lay.addStretch(1)
        corner = QLabel(" ")
        corner.setObjectName("corner")
        corner.mousePressEvent = lambda e: self._corner_tap()
        lay.addWidget(corner)
        return bar

    def _privacy(self) -> QLabel:
        p = QLabel(tr(Text("kiosk", self.cfg.kiosk.privacy_notice)))   # a site's own notice: as written
        p.setObjectName("privacy")
        p.setWordWrap(True)
        p.setAlignment(Qt.AlignmentFlag.AlignCenter)
        return p

    def _build_attract(self) -> QWidget:
        w = QWidget()
        w.setObjectName("attract")
        lay = QVBoxLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self._brand_bar())
        body = QVBoxLayout()
        body.setContentsMargins(48, 24, 48, 24)
        hello = QLabel(translate("kiosk", "Hold a garment or a shoe up to the camera"))
        hello.setObjectName("attractTitle")
        hello.setWordWrap(True)
        hello.setAlignment(Qt.AlignmentFlag.AlignCenter)
        body.addWidget(hello)
        sub = QLabel(translate("kiosk", "…or just stand in front of it: we will find it in this store, "
                                        "and what goes with it."))
        sub.setObjectName("attractSub")
        sub.setWordWrap(True)
        sub.setAlignment(Qt.AlignmentFlag.AlignCenter)
        body.addWidget(sub)
        featured = QLabel(translate("kiosk", "In store now"))
        featured.setObjectName("sectionTitle")
        body.addWidget(featured)
        self.attract_pics = QGridLayout()
        self.attract_pics.setSpacing(24)
        body.addLayout(self.attract_pics)
        body.addStretch(1)
        lay.addLayout(body, 1)
        lay.addWidget(self._privacy())
        return w

    def _build_live(self) -> QWidget:
        w = QWidget()
        outer = QVBoxLayout(w)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self._brand_bar())
        self.live_box = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.live_box.setContentsMargins(16, 16, 16, 8)
        self.live_box.setSpacing(16)
        self.video = VideoView()
        self.live_box.addWidget(self.video, 3)
        side = QWidget()
        side.setObjectName("panel")
        side_lay = QVBoxLayout(side)
        modes = QHBoxLayout()
        self.mode_buttons = {}
        for key, label in MODES:
            b = BigButton(tr(label), checkable=True)
            b.setObjectName("modeButton")
            b.clicked.connect(lambda _=False, k=key: self.set_mode(k))
            modes.addWidget(b)
            self.mode_buttons[key] = b
        self.mode_buttons["similar"].setChecked(True)
        side_lay.addLayout(modes)
        self.panel_title = QLabel("")
        self.panel_title.setObjectName("sectionTitle")
        self.panel_title.setWordWrap(True)
        side_lay.addWidget(self.panel_title)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setObjectName("cards")
        holder = QWidget()
        self.cards = QVBoxLayout(holder)
        self.cards.setSpacing(12)
        self.cards.addStretch(1)
        scroll.setWidget(holder)
        side_lay.addWidget(scroll, 1)
        self.live_box.addWidget(side, 2)
        outer.addLayout(self.live_box, 1)
        foot = QHBoxLayout()
        foot.setContentsMargins(16, 0, 16, 8)
        foot.addWidget(self._privacy(), 1)
        self.status_label = QLabel("")
        self.status_label.setObjectName("staffStatus")
        foot.addWidget(self.status_label)
        outer.addLayout(foot)
        return w

    def _build_detail(self) -> QWidget:
        w = QWidget()
        outer = QVBoxLayout(w)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._brand_bar())
        body = QHBoxLayout()
        body.setContentsMargins(self.px(48), self.px(24), self.px(48), self.px(24))
        body.setSpacing(self.px(48))
        self.detail_pic = QLabel()
        self.detail_pic.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail_pic.setObjectName("detailImage")
        body.addWidget(self.detail_pic, 1)
        info = QVBoxLayout()
        info.setSpacing(self.px(16))            # not the body's 48, which a child layout would inherit
        self.detail_name = QLabel()
        self.detail_name.setObjectName("detailName")
        self.detail_name.setWordWrap(True)
        self.detail_price = QLabel()
        self.detail_price.setObjectName("detailPrice")
        self.detail_stock = QLabel()
        self.detail_stock.setObjectName("detailStock")
        self.detail_desc = QLabel()
        self.detail_desc.setObjectName("detailDesc")
        self.detail_desc.setWordWrap(True)
        for x in (self.detail_name, self.detail_price, self.detail_stock, self.detail_desc):
            info.addWidget(x)
        scan = QLabel(translate("kiosk", "Scan to see it online or order another size"))
        scan.setObjectName("detailDesc")
        info.addWidget(scan)
        self.qr = QrView()
        info.addWidget(self.qr)
        info.addStretch(1)
        back = BigButton(translate("kiosk", "‹  Back"))
        back.setObjectName("backButton")
        back.clicked.connect(self.close_detail)
        info.addWidget(back)
        body.addLayout(info, 1)
        outer.addLayout(body, 1)
        return w

    def _build_problem(self) -> QWidget:
        w = QWidget()
        w.setObjectName("problem")
        lay = QVBoxLayout(w)
        lay.setContentsMargins(64, 64, 64, 64)
        t = QLabel(translate("staff", "This screen needs attention"))
        t.setObjectName("attractTitle")
        lay.addWidget(t)
        self.problem_text = QLabel("")
        self.problem_text.setObjectName("problemText")
        self.problem_text.setWordWrap(True)
        self.problem_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.problem_text)
        lay.addStretch(1)
        return w

    # ---- behaviour ----------------------------------------------------------------------------
    def show_problem(self, text: str) -> None:
        self.timer.stop()
        self.problem_text.setText(text)
        self.stack.setCurrentWidget(self.problem)

    def fill_screen(self) -> None:
        """Fullscreen, also on a bare X server (X and this one app, as many kiosk PCs run): with no
        window manager to honour the fullscreen request the window takes the screen's geometry
        itself, and follows it when the screen is turned or resized."""
        screen = self.screen()
        size = screen.size()
        if size.width() < SMALLEST[0] or size.height() < SMALLEST[1]:
            print(f"signage kiosk: the screen is {size.width()}x{size.height()}, smaller than the "
                  f"{SMALLEST[0]}x{SMALLEST[1]} the kiosk is made for: text may be cut", file=sys.stderr)
        self.setMinimumSize(1, 1)    # the screen decides, not the content's preferred minimum
        self.setGeometry(screen.geometry())
        self.showFullScreen()
        screen.geometryChanged.connect(self.setGeometry)

    def _failed(self, detail: str) -> None:
        """A pipeline thread died: say so, then leave with EXIT_RESTART so systemd starts afresh."""
        if self._failing:
            return
        self._failing = True
        wait = self.cfg.kiosk.restart_after_s
        self.show_problem(translate("staff", "Recognition stopped: {detail}.\n\nThe screen restarts in {s} s.")
                          .format(detail=detail, s=self.language.number(wait)))
        QTimer.singleShot(int(wait * 1000), lambda: QApplication.instance().exit(EXIT_RESTART))

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        for k, b in self.mode_buttons.items():
            b.setChecked(k == mode)
        self._shown_key = None

    def _corner_tap(self) -> None:
        now = time.monotonic()
        self._corner_taps = [t for t in self._corner_taps if now - t < 2.0] + [now]
        if len(self._corner_taps) >= 3:
            self._corner_taps = []
            self.staff_escape()

    def staff_escape(self) -> None:
        d = PinDialog(self.staff_lock, self)
        d.setStyleSheet(self.styleSheet())
        if d.exec() and d.choice == "windowed":
            self.showNormal()
        elif d.choice == "quit":
            self.close()

    def open_detail(self, sku: str) -> None:
        if self.catalog is None:
            return
        p = self.catalog.get(sku)
        if p is None:
            return
        pix = pixmap_for(self.catalog.image_path(p), self._pixmaps)
        if pix is not None:
            self.detail_pic.setPixmap(pix.scaled(self.px(520), self.px(520), Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation))
        self.detail_name.setText(p.name)
        self.detail_price.setText(self.language.money(p.price, p.currency))
        self.detail_stock.setText(stock_text(p.stock, p.aisle))
        self.detail_desc.setText(p.description or ", ".join(p.colors))
        self.qr.set_url(self.cfg.kiosk.product_url.format(sku=sku))
        if self.engagement is not None:
            self.engagement.qr_shown(sku)
        self.stack.setCurrentWidget(self.detail)
        QTimer.singleShot(30_000, self.close_detail)     # nobody reading it: back to live

    def close_detail(self) -> None:
        if self.stack.currentWidget() is self.detail:
            self.stack.setCurrentWidget(self.live)

    def _portrait(self) -> bool:
        o = self.cfg.kiosk.orientation
        return o == "portrait" or (o == "auto" and self.height() > self.width())

    def px(self, n: int) -> int:
        """A size drawn for a 1920x1080 screen, on this one."""
        return max(1, round(n * self.scale))

    def resizeEvent(self, event):
        scale = scale_for(self.width(), self.height())
        if scale != self.scale:
            self.scale = scale
            self.setStyleSheet(stylesheet(self.cfg.brand, self.language.name, scale))
        portrait = self._portrait()
        self.live_box.setDirection(QBoxLayout.Direction.TopToBottom if portrait else QBoxLayout.Direction.LeftToRight)
        super().resizeEvent(event)
        self._attract_index = max(0, self._attract_index - 1)   # same products, re-flowed
        self._rotate_attract()

    def _rotate_attract(self) -> None:
        if self.catalog is None or self.stack.currentWidget() is not self.attract:
            return
        products = [p for p in self.catalog.products() if p.stock > 0 and p.image]
        if not products:
            return
        clear_layout(self.attract_pics)
        # as many rows of cards as the screen's height holds under the titles (a portrait screen: more)
        columns = 2 if self._portrait() else 3
        rows = max(2, min(6, (self.height() - self.px(ATTRACT_TITLES_PX)) // self.px(ATTRACT_ROW_PX)))
        for i in range(columns * rows):
            # step through the catalogue with a stride, so the featured products vary in kind
            p = products[(self._attract_index * 5 + i * 37) % len(products)]
            card = ProductCard(p.sku, p.name, self.language.money(p.price, p.currency), p.stock, p.aisle, p.description,
                               pixmap_for(self.catalog.image_path(p), self._pixmaps), image_px=self.px(150))
            card.setFixedHeight(self.px(ATTRACT_ROW_PX - 20))
            # the grid follows the screen's width, not the cards' preferred width (portrait screens)
            card.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            card.tapped.connect(lambda sku: self._tap("attract", sku))
            self.attract_pics.addWidget(card, i // columns, i % columns)
        self._attract_index += 1

    def refresh(self) -> None:
        frame, result, status, fps = self.state.snapshot()
        if status is not None and status.state == "failed":
            self._failed(status.detail)
            return
        if frame is not None:
            self.video.show_frame(bgr_to_qimage(frame.image))
        someone = result is not None and (result.people or any(i.stable for i in result.items))
        now = time.monotonic()
        if someone:
            self._last_seen = now
        current = self.stack.currentWidget()
        if current is self.attract and someone:
            self.stack.setCurrentWidget(self.live)
        elif current is self.live and now - self._last_seen > self.cfg.kiosk.attract_after_s:
            self.stack.setCurrentWidget(self.attract)
            self._rotate_attract()
        if status is not None and status.state == "lost" and current is self.live:
            self.video.show_items([], (1, 1))
        if result is not None:
            self.video.show_items(result.items, result.size, video_labels(result.items, result.size))
            self._show_suggestions(result)
        version = self.catalog.version if self.catalog is not None else "-"
        src = camera_state(status.state if status is not None else "live")
        self.status_label.setText(translate("staff", "catalogue v{version} · {sync} · {camera} · {fps} fps").format(
            version=version, sync=self.sync_status(), camera=src, fps=self.language.number(fps)))

    def _show_suggestions(self, result) -> None:
        panel = panel_for(result, self.mode, self.cfg.kiosk.suggestions)
        if self.engagement is not None:
            self.engagement.observe(result, self.mode, panel)
        self.show_panel(panel)

    def _tap(self, feature: str, sku: str, look_id: str = "") -> None:
        if self.engagement is not None:
            self.engagement.tapped(feature, sku, look_id)
        self.open_detail(sku)

    def show_panel(self, panel: Panel) -> None:
        key = (self.mode, *panel.key)          # (mode, title, skus)
        if key == self._shown_key:
            return                                  # same suggestions: do not rebuild (no flicker)
        self._shown_key = key
        self.panel_title.setText(tr(panel.title))
        clear_layout(self.cards)
        for c in panel.cards:
            card = ProductCard(c.sku, c.name, self.language.money(c.price, c.currency), c.stock, c.aisle, c.why,
                               pixmap_for(self._image(c.image), self._pixmaps), c.badge, image_px=self.px(150))
            card.tapped.connect(lambda sku, look=c.look_id: self._tap(self.mode, sku, look))
            self.cards.addWidget(card)
        self.cards.addStretch(1)

    def _image(self, rel: str | None):
        return self.catalog.images.path(rel) if (self.catalog is not None and rel) else None
