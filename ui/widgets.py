"""Kiosk building blocks. They show state; they compute nothing."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout,
                               QWidget)

from .i18n import tr, translate

KIND_COLOURS = {"upper": "#4cc9f0", "lower": "#f72585", "footwear": "#ffd166", "garment": "#06d6a0"}


def bgr_to_qimage(bgr: np.ndarray) -> QImage:
    h, w = bgr.shape[:2]
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()   # copy: own the pixels


def stock_text(stock: int, aisle: str) -> str:
    return translate("kiosk", "{n} in stock · aisle {aisle}").format(n=stock, aisle=aisle) if stock > 0 \
        else translate("kiosk", "Out of stock here · ask staff")


class VideoView(QWidget):
    """The live camera picture with an outline and a label for each item being tracked."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setObjectName("video")      # its least size: the theme's #video
        self._image: QImage | None = None
        self._items: list = []
        self._labels: tuple = ()
        self._size = (1, 1)

    def show_frame(self, image: QImage) -> None:
        self._image = image
        self.update()

    def show_items(self, items: list, size: tuple[int, int], labels=()) -> None:
        """items: TrackedItem (outlined); labels: edge.live.screen.VideoLabel (where, decided there)."""
        self._items, self._size, self._labels = items, size, labels
        self.update()

    def paintEvent(self, event):
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("#000000"))
        if self._image is None:
            return
        img = self._image
        s = min(self.width() / img.width(), self.height() / img.height())
        w, h = img.width() * s, img.height() * s
        x0, y0 = (self.width() - w) / 2, (self.height() - h) / 2
        p.drawImage(QRectF(x0, y0, w, h), img)
        fw, fh = self._size
        sx, sy = w / max(fw, 1), h / max(fh, 1)
        frame_rect = lambda b: QRectF(x0 + b[0] * sx, y0 + b[1] * sy, (b[2] - b[0]) * sx, (b[3] - b[1]) * sy)  # noqa: E731
        kinds = {}
        for it in self._items:
            colour = QColor(KIND_COLOURS.get(it.kind, "#ffffff"))
            kinds[it.track_id] = colour
            p.setPen(QPen(colour, 4 if it.stable else 2, Qt.PenStyle.SolidLine if it.stable else Qt.PenStyle.DashLine))
            p.drawRoundedRect(frame_rect(it.box), 10, 10)
        font = QFont(self.font())
        font.setBold(True)
        for label in self._labels:
            tag = frame_rect(label.rect)
            font.setPixelSize(max(8, int(tag.height() * 0.7)))
            p.setFont(font)
            text = p.fontMetrics().elidedText(tr(label.text), Qt.TextElideMode.ElideRight, int(tag.width()) - 12)
            tag.setWidth(min(tag.width(), p.fontMetrics().horizontalAdvance(text) + 12))
            p.fillRect(tag, kinds.get(label.track_id, QColor("#ffffff")))
            p.setPen(QColor("#111111"))
            p.drawText(tag, Qt.AlignmentFlag.AlignCenter, text)
        p.end()


class ProductCard(QFrame):
    """One product: picture, name, price, stock and aisle in this store, and why it is here."""
    tapped = Signal(str)

    def __init__(self, sku: str, name: str, price: str, stock: int, aisle: str, why, pixmap: QPixmap | None,
                 badge="", parent=None, image_px: int = 150):
        """why, badge: a Text (in the screen's language) or a plain string (the store's data);
        image_px: the picture's side on this screen (theme's #cardImage, scaled)."""
        super().__init__(parent)
        self.sku = sku
        self.setObjectName("card")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(14, 14, 14, 14)
        lay.setSpacing(16)
        pic = QLabel()
        pic.setObjectName("cardImage")
        pic.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if pixmap is not None and not pixmap.isNull():
            pic.setPixmap(pixmap.scaled(image_px, image_px, Qt.AspectRatioMode.KeepAspectRatio,
                                        Qt.TransformationMode.SmoothTransformation))
        lay.addWidget(pic)
        text = QVBoxLayout()
        text.setSpacing(4)
        if badge:
            b = QLabel(tr(badge).upper())
            b.setObjectName("cardBadge")
            text.addWidget(b)
        n = QLabel(name)
        n.setObjectName("cardName")
        n.setWordWrap(True)
        text.addWidget(n)
        pr = QLabel(price)
        pr.setObjectName("cardPrice")
        text.addWidget(pr)
        st = QLabel(stock_text(stock, aisle))
        st.setObjectName("cardStock" if stock > 0 else "cardNoStock")
        text.addWidget(st)
        if why:
            w = QLabel(tr(why))
            w.setObjectName("cardWhy")
            w.setWordWrap(True)
            text.addWidget(w)
        text.addStretch(1)
        lay.addLayout(text, 1)

    def mouseReleaseEvent(self, event):
        self.tapped.emit(self.sku)


class QrView(QWidget):
    """A QR code for a URL, drawn crisp at any size (segno makes the matrix)."""

    def __init__(self, url: str = "", parent=None):
        super().__init__(parent)
        self.setObjectName("qr")         # its size: the theme's #qr
        self.set_url(url)

    def set_url(self, url: str) -> None:
        self.url = url
        if url:
            import segno
            self.matrix = [list(row) for row in segno.make(url, error="m", boost_error=False).matrix]
        else:
            self.matrix = []
        self.update()

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#ffffff"))
        if not self.matrix:
            return
        n = len(self.matrix) + 8    # 4-module quiet zone on each side
        cell = min(self.width(), self.height()) / n
        ox = (self.width() - cell * n) / 2 + 4 * cell
        oy = (self.height() - cell * n) / 2 + 4 * cell
        black = QColor("#000000")
        for y, row in enumerate(self.matrix):
            for x, v in enumerate(row):
                if v:
                    p.fillRect(QRectF(ox + x * cell, oy + y * cell, cell + 0.5, cell + 0.5), black)
        p.end()


class BigButton(QPushButton):
    """Touch-sized (the theme's QPushButton min-height: 72 px with padding, > 9 mm on a 24" screen)."""

    def __init__(self, text: str, parent=None, checkable: bool = False):
        super().__init__(text, parent)
        self.setCheckable(checkable)
        self.setCursor(Qt.CursorShape.PointingHandCursor)


def clear_layout(layout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        if item.widget() is not None:
            item.widget().deleteLater()
        elif item.layout() is not None:
            clear_layout(item.layout())


def pixmap_for(path: Path | None, cache: dict) -> QPixmap | None:
    if path is None:
        return None
    key = str(path)
    if key not in cache:
        cache[key] = QPixmap(key) if path.is_file() else None
    return cache[key]


__all__ = ["VideoView", "ProductCard", "QrView", "BigButton", "bgr_to_qimage", "stock_text", "clear_layout",
           "pixmap_for", "QGridLayout"]
