"""Drawing: fonts, letterboxing, text wrapping, and labelled grids and line plots drawn as images.

Everything here draws from plain data (titles, labels, tiles, points), with Pillow only; it knows
nothing of grids, drifts or records. `compare` and `drift` turn their own results into this data.

- `draw_grid(axes, tiles, cell_px)`: a labelled grid, with the column axis along the top, the row axis
  down the left and one block per panel value; `grid_layout` says where everything goes.
- `draw_line_plots(plots, ...)`: small multiples of line plots, two per row, with a legend.
- `captioned_row(items, tile)`: images side by side, each letterboxed under its caption (a GIF frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw, ImageFont

RGB = tuple[int, int, int]

BACKGROUND: RGB = (255, 255, 255)
TILE: RGB = (236, 236, 236)
INK: RGB = (20, 20, 20)
MUTED: RGB = (110, 110, 110)
FAILED_INK: RGB = (170, 20, 20)
LETTERBOX: RGB = (24, 24, 24)
PANEL_BAND: RGB = (230, 236, 248)
FOOTER_INK: RGB = (255, 210, 90)
GRID_LINE: RGB = (232, 232, 232)
FRAME_LINE: RGB = (160, 160, 160)
AXIS_INK: RGB = (90, 90, 90)
LEGEND_INK: RGB = (60, 60, 60)
PAD = 8


# --- text and images ---------------------------------------------------------------------------------
def font(size: int = 14) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's bundled font at `size` (its bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError, AttributeError):
        return ImageFont.load_default()


def letterbox(image: Image.Image, size: tuple[int, int], fill: RGB = LETTERBOX) -> Image.Image:
    """`image` scaled to fit inside `size` (aspect ratio kept, Lanczos) and centred on `fill`."""
    width, height = size
    scale = min(width / image.width, height / image.height)
    fitted = image.convert("RGB").resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                                         Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", size, fill)
    canvas.paste(fitted, ((width - fitted.width) // 2, (height - fitted.height) // 2))
    return canvas


def text_size(draw: ImageDraw.ImageDraw, text: str, face: Any) -> tuple[int, int]:
    """(width, height) of `text` in `face`, in pixels."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=face)
    return right - left, bottom - top


def wrap(draw: ImageDraw.ImageDraw, text: str, face: Any, width: int, max_lines: int = 8) -> list[str]:
    """`text` broken into at most `max_lines` lines no wider than `width` pixels (long words are cut)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            while len(word) > 1 and text_size(draw, word, face)[0] > width:
                cut = len(word) - 1
                while cut > 1 and text_size(draw, word[:cut], face)[0] > width:
                    cut -= 1
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:cut])
                word = word[cut:]
            candidate = f"{line} {word}" if line else word
            if text_size(draw, candidate, face)[0] <= width:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][:-1] + "\u2026" if lines[-1] else "\u2026"
    return lines


# --- labelled grids ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AxisLabels:
    """One axis of a grid as drawn: its title and one label per value."""

    title: str
    labels: list[str]


@dataclass(frozen=True)
class Tile:
    """One cell of a grid as drawn, at `position` (column, row, panel).

    With an `image`, the image letterboxed, with `footer` (if any) on a dark band along its bottom.
    Without one, a grey tile with `title` (red when `alarm`) and `message` wrapped under it.
    """

    position: tuple[int, int, int]
    image: Image.Image | None = None
    title: str = ""
    message: str = ""
    alarm: bool = False
    footer: str = ""


def cell_size(images: list[Image.Image], cell_px: int) -> tuple[int, int]:
    """The cell size for these images: the largest one's aspect ratio, its longer side `cell_px`."""
    sizes = [image.size for image in images]
    if not sizes:
        return cell_px, cell_px
    width, height = max(sizes, key=lambda s: s[0] * s[1])
    scale = cell_px / max(width, height)
    return max(32, round(width * scale)), max(32, round(height * scale))


def status_tile(size: tuple[int, int], title: str, message: str = "", alarm: bool = False) -> Image.Image:
    """A grey tile saying `title` (red when `alarm`) with `message` wrapped under it."""
    tile = Image.new("RGB", size, TILE)
    draw = ImageDraw.Draw(tile)
    head, body = font(max(12, size[1] // 10)), font(max(10, size[1] // 24))
    draw.text((PAD, PAD), title, font=head, fill=FAILED_INK if alarm else MUTED)
    y = PAD + text_size(draw, title, head)[1] + PAD
    line_height = text_size(draw, "Ag", body)[1] + 3
    for line in wrap(draw, message, body, size[0] - 2 * PAD, max(1, (size[1] - y) // line_height)):
        draw.text((PAD, y), line, font=body, fill=INK)
        y += line_height
    return tile


def tile_image(tile: Tile, size: tuple[int, int]) -> Image.Image:
    """`tile` drawn at `size` (see `Tile`)."""
    if tile.image is None:
        return status_tile(size, tile.title, tile.message, tile.alarm)
    picture = letterbox(tile.image, size)
    if tile.footer:
        draw = ImageDraw.Draw(picture)
        face = font(max(10, size[1] // 28))
        lines = wrap(draw, tile.footer, face, size[0] - 2 * PAD, 3)
        line_height = text_size(draw, "Ag", face)[1] + 3
        top = size[1] - len(lines) * line_height - PAD
        draw.rectangle((0, top - 2, size[0], size[1]), fill=(0, 0, 0))
        for i, line in enumerate(lines):
            draw.text((PAD, top + i * line_height), line, font=face, fill=FOOTER_INK)
    return picture


@dataclass
class GridLayout:
    """Where everything of a grid image goes: cell size, label gutters and block heights, in pixels."""

    cell: tuple[int, int]
    row_w: int
    header_h: int
    panel_h: int
    title_h: int
    line_h: int
    columns: int
    rows: int
    panels: int

    @property
    def block_h(self) -> int:
        return self.panel_h + self.header_h + self.rows * (self.cell[1] + PAD)

    @property
    def size(self) -> tuple[int, int]:
        return self.row_w + self.columns * (self.cell[0] + PAD) + PAD, self.panels * self.block_h + PAD

    def cell_box(self, position: tuple[int, int, int]) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of the cell at (column, row, panel)."""
        column, row, panel = position
        left = self.row_w + PAD + column * (self.cell[0] + PAD)
        top = panel * self.block_h + self.panel_h + self.header_h + row * (self.cell[1] + PAD)
        return left, top, left + self.cell[0], top + self.cell[1]


def grid_layout(axes: list[AxisLabels], tiles: list[Tile], cell_px: int) -> GridLayout:
    """The layout `draw_grid` uses: `axes` are the column, row and panel axes (up to three, in that
    order); the cell size follows the tiles' images, its longer side `cell_px`."""
    sizes = [len(a.labels) for a in axes] + [1, 1, 1]
    cell_w, cell_h = cell_size([t.image for t in tiles if t.image is not None], cell_px)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_font, title_font = _grid_fonts(cell_h)
    col_axis, row_axis, panel_axis = (list(axes) + [None, None, None])[:3]
    line_h = text_size(probe, "Ag", label_font)[1] + 4
    title_h = text_size(probe, "Ag", title_font)[1] + 2 * PAD
    col_lines = max((len(wrap(probe, lab, label_font, cell_w - 2 * PAD, 3)) for lab in col_axis.labels),
                    default=1) if col_axis else 0
    header_h = title_h + col_lines * line_h + PAD if col_axis else PAD
    row_w = 0
    if row_axis:
        widest = max([text_size(probe, lab, label_font)[0] for lab in row_axis.labels]
                     + [text_size(probe, row_axis.title, title_font)[0]])
        row_w = min(widest, max(cell_w, 160)) + 2 * PAD
    return GridLayout(cell=(cell_w, cell_h), row_w=row_w, header_h=header_h, panel_h=title_h if panel_axis else 0,
                      title_h=title_h, line_h=line_h, columns=sizes[0], rows=sizes[1], panels=sizes[2])


def draw_grid(axes: list[AxisLabels], tiles: list[Tile], cell_px: int) -> Image.Image:
    """Draw a labelled grid: the column axis title and labels along the top, the row axis title (in the
    corner) and labels down the left, and one block per panel label under its own title. Images of
    different sizes are letterboxed into one cell size (see `grid_layout`)."""
    layout = grid_layout(axes, tiles, cell_px)
    (cell_w, cell_h), row_w, line_h, title_h = layout.cell, layout.row_w, layout.line_h, layout.title_h
    label_font, title_font = _grid_fonts(cell_h)
    col_axis, row_axis, panel_axis = (list(axes) + [None, None, None])[:3]
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    canvas = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for panel in range(layout.panels):
        top = panel * layout.block_h
        head_top, grid_top = top + layout.panel_h, top + layout.panel_h + layout.header_h
        if panel_axis:
            draw.rectangle((0, top, layout.size[0], head_top - 2), fill=PANEL_BAND)
            draw.text((PAD, top + PAD), f"{panel_axis.title}: {panel_axis.labels[panel]}", font=title_font, fill=INK)
        if col_axis:
            draw.text((row_w + PAD, head_top + PAD), col_axis.title, font=title_font, fill=INK)
            for c, label in enumerate(col_axis.labels):
                x = row_w + PAD + c * (cell_w + PAD)
                for i, line in enumerate(wrap(probe, label, label_font, cell_w - 2 * PAD, 3)):
                    draw.text((x, head_top + title_h + i * line_h), line, font=label_font, fill=INK)
        if row_axis:
            title_lines = wrap(probe, row_axis.title, title_font, row_w - 2 * PAD, 2)
            title_y = grid_top - len(title_lines) * (title_h - 2 * PAD + 4) - PAD
            for i, line in enumerate(title_lines):
                draw.text((PAD, title_y + i * (title_h - 2 * PAD + 4)), line, font=title_font, fill=INK)
            for r, label in enumerate(row_axis.labels):
                y = grid_top + r * (cell_h + PAD)
                for i, line in enumerate(wrap(probe, label, label_font, row_w - 2 * PAD, cell_h // line_h)):
                    draw.text((PAD, y + i * line_h), line, font=label_font, fill=INK)
    for tile in tiles:
        canvas.paste(tile_image(tile, layout.cell), layout.cell_box(tile.position)[:2])
    return canvas


def _grid_fonts(cell_h: int) -> tuple[Any, Any]:
    return font(max(12, cell_h // 18)), font(max(14, cell_h // 14))


# --- line plots --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    """One line of a plot: (x, y) points in order; a y of None breaks the line there."""

    points: list[tuple[float, float | None]]
    color: RGB
    dashed: bool = False


@dataclass(frozen=True)
class Plot:
    """One panel: its title, its lines, and the y range shown (low, high)."""

    title: str
    lines: list[Line]
    y_range: tuple[float, float]


def draw_line_plots(plots: list[Plot], x_max: float, x_label: str = "", styles: list[tuple[str, bool]] | None = None,
                    keys: list[tuple[str, RGB]] | None = None, width: int = 960, height: int = 640) -> Image.Image:
    """The plots two per row, sharing the x range 0..`x_max` (whole-number ticks), above a legend: first
    the line `styles` ((label, dashed) each), then the colour `keys` ((label, colour) each), three a row."""
    styles, keys = styles or [], keys or []
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    small, title_font = font(12), font(15)
    legend_h = 24 + 18 * ((len(keys) + 2) // 3)
    panel_w, panel_h = width // 2, (height - legend_h) // max(1, math.ceil(len(plots) / 2))
    x_max = max(1, x_max)
    for n, plot in enumerate(plots):
        left, top = (n % 2) * panel_w, (n // 2) * panel_h
        box = (left + 58, top + 30, left + panel_w - 16, top + panel_h - 34)
        draw.text((left + 58, top + 8), plot.title, font=title_font, fill=INK)
        low, high = plot.y_range
        draw.rectangle(box, outline=FRAME_LINE)
        for tick in _ticks(low, high):
            y = _scale(tick, low, high, box[3], box[1])
            draw.line((box[0], y, box[2], y), fill=GRID_LINE)
            label = f"{tick:g}" if abs(tick) < 1e5 else f"{tick:.1e}"
            draw.text((box[0] - 6 - text_size(draw, label, small)[0], y - 7), label, font=small, fill=AXIS_INK)
        for step in range(0, int(x_max) + 1, max(1, math.ceil(x_max / 10))):
            x = _scale(step, 0, x_max, box[0], box[2])
            draw.line((x, box[3], x, box[3] + 4), fill=FRAME_LINE)
            draw.text((x - 4, box[3] + 6), str(step), font=small, fill=AXIS_INK)
        if x_label:
            draw.text(((box[0] + box[2]) // 2 - 12, box[3] + 19), x_label, font=small, fill=AXIS_INK)
        for line in plot.lines:
            points = [(_scale(x, 0, x_max, box[0], box[2]), _scale(y, low, high, box[3], box[1]))
                      if y is not None else None for x, y in line.points]
            _polyline(draw, points, line.color, line.dashed)
    y = height - legend_h + 6
    for i, (label, dashed) in enumerate(styles):
        x = 12 + i * 228
        _polyline(draw, [(x, y + 7), (x + 30, y + 7)], LEGEND_INK, dashed, width=2, dots=False)
        draw.text((x + 36, y), label, font=small, fill=INK)
    for i, (label, color) in enumerate(keys):
        x, row_y = 12 + (i % 3) * (width // 3), y + 18 * (1 + i // 3)
        draw.rectangle((x, row_y + 3, x + 22, row_y + 11), fill=color)
        draw.text((x + 28, row_y), label, font=small, fill=INK)
    return canvas


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    raw = (high - low) / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step + 1e-9) + 1)]


def _scale(value: float, low: float, high: float, out_low: float, out_high: float) -> float:
    return out_low + (value - low) / (high - low) * (out_high - out_low) if high != low else out_low


def _polyline(draw: ImageDraw.ImageDraw, points: list[tuple[float, float] | None], color: RGB, dashed: bool,
              width: int = 2, dots: bool = True) -> None:
    """Segments between neighbouring points (none across a None); dashed lines are 1 pixel wide."""
    for a, b in zip(points, points[1:], strict=False):
        if a is None or b is None:
            continue
        if not dashed:
            draw.line((a, b), fill=color, width=width)
            continue
        length = math.dist(a, b)
        dashes = max(1, int(length // 6))
        for i in range(0, dashes, 2):
            t0, t1 = i / dashes, min(1.0, (i + 1) / dashes)
            draw.line(((a[0] + (b[0] - a[0]) * t0, a[1] + (b[1] - a[1]) * t0),
                       (a[0] + (b[0] - a[0]) * t1, a[1] + (b[1] - a[1]) * t1)), fill=color, width=1)
    if dots:
        for point in points:
            if point is not None:
                draw.ellipse((point[0] - 2, point[1] - 2, point[0] + 2, point[1] + 2), fill=color)


# --- strips ------------------------------------------------------------------------------------------
def captioned_row(items: list[tuple[Image.Image, str]], tile: tuple[int, int], caption_h: int = 22) -> Image.Image:
    """The images side by side, each letterboxed into `tile` under its caption."""
    frame = Image.new("RGB", (tile[0] * max(1, len(items)), tile[1] + caption_h), BACKGROUND)
    draw = ImageDraw.Draw(frame)
    caption_font = font(13)
    for i, (image, caption) in enumerate(items):
        frame.paste(letterbox(image, tile), (i * tile[0], caption_h))
        draw.text((i * tile[0] + 4, 4), caption, font=caption_font, fill=INK)
    return frame
