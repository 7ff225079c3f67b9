"""Render the icons in ``resources/icons/`` from their SVG sources (run after editing an SVG):

    QT_QPA_PLATFORM=offscreen python packaging/make_icons.py

- ``voxtral.svg`` → ``voxtral-<N>.png`` (N = 16 … 1024) and ``Voxtral.icns`` (PNG chunks).
- ``menubar-{idle,listening}.svg`` → ``menubar-<state>Template.png`` (22 px) and ``@2x`` (44 px):
  black + alpha, so macOS tints them for light and dark menu bars ("Template" name suffix).

Uses Qt's SVG renderer (PySide6 QtSvg, already a GUI dependency); the outputs are committed, so
building the app does not need this script. It lives here, not in ``resources/``, because that
folder ships inside the wheel (as ``voxtral_mlx/resources``) and this is not part of the package.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
APP_SIZES = (16, 32, 64, 128, 256, 512, 1024)
# icns chunk type → pixel size. PNG payloads are accepted for all of these since macOS 10.7.
ICNS_TYPES = {
    "icp4": 16, "icp5": 32, "icp6": 64, "ic07": 128, "ic08": 256, "ic09": 512, "ic10": 1024,
    "ic11": 32, "ic12": 64, "ic13": 256, "ic14": 512,
}  # fmt: skip
MENUBAR_PT = 22


def render(svg: Path, size: int) -> QImage:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


def icns(pngs: dict[int, bytes]) -> bytes:
    """'icns' + total length, then (type, length incl. 8-byte header, PNG) chunks."""
    body = b"".join(
        kind.encode() + struct.pack(">I", len(pngs[size]) + 8) + pngs[size]
        for kind, size in ICNS_TYPES.items()
    )
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (fonts, images)
    pngs = {size: png_bytes(render(ICONS / "voxtral.svg", size)) for size in APP_SIZES}
    for size, data in pngs.items():
        (ICONS / f"voxtral-{size}.png").write_bytes(data)
    (ICONS / "Voxtral.icns").write_bytes(icns(pngs))
    for state in ("idle", "listening"):
        svg = ICONS / f"menubar-{state}.svg"
        for scale, suffix in ((1, ""), (2, "@2x")):
            image = render(svg, MENUBAR_PT * scale)
            (ICONS / f"menubar-{state}Template{suffix}.png").write_bytes(png_bytes(image))
    print(f"wrote {len(APP_SIZES)} app PNGs, Voxtral.icns and 4 menu-bar PNGs in {ICONS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
