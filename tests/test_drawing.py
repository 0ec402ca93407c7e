"""Drawing from plain data (playground.drawing): grid images have the size and places their layout says,
labels and status text put ink where they belong, line plots and caption rows draw what they are given."""

from __future__ import annotations

import numpy as np
from PIL import Image

from playground.drawing import (
    BACKGROUND,
    FAILED_INK,
    FOOTER_INK,
    PAD,
    AxisLabels,
    Line,
    Plot,
    Tile,
    captioned_row,
    draw_grid,
    draw_line_plots,
    grid_layout,
    letterbox,
    tile_image,
)
from tests.conftest import make_image

COLUMNS = AxisLabels("Steps", ["1", "2", "3"])
ROWS = AxisLabels("Seed", ["5", "6"])


def tiles(columns: int = 3, rows: int = 2, panels: int = 1) -> list[Tile]:
    return [Tile((c, r, p), make_image(64, 48, color=(40 * c, 60 * r, 90)))
            for p in range(panels) for r in range(rows) for c in range(columns)]


def has(pixels: np.ndarray, color: tuple[int, int, int], tolerance: int = 0) -> bool:
    """Whether any pixel is `color`, each channel within `tolerance` (text is antialiased)."""
    distance = np.abs(pixels.reshape(-1, 3).astype(int) - np.array(color)).max(axis=1)
    return bool((distance <= tolerance).any())


def test_a_grid_image_has_the_size_and_cell_places_its_layout_says():
    cells = tiles()
    layout = grid_layout([COLUMNS, ROWS], cells, 96)
    # 64x48 images at a longer side of 96 pixels.
    assert layout.cell == (96, 72) and (layout.columns, layout.rows, layout.panels) == (3, 2, 1)
    assert layout.size == (layout.row_w + 3 * (96 + PAD) + PAD, layout.panel_h + layout.header_h + 2 * (72 + PAD) + PAD)
    image = draw_grid([COLUMNS, ROWS], cells, 96)
    assert image.size == layout.size
    for tile in cells:
        shown = np.asarray(image.crop(layout.cell_box(tile.position)))
        assert np.array_equal(shown, np.asarray(letterbox(tile.image, layout.cell)))
    # A third axis adds one block per panel value.
    panels = AxisLabels("Size", ["small", "large"])
    three = grid_layout([COLUMNS, ROWS, panels], tiles(panels=2), 96)
    assert three.panels == 2 and draw_grid([COLUMNS, ROWS, panels], tiles(panels=2), 96).size == three.size
    assert three.cell_box((0, 0, 1))[1] == three.block_h + three.panel_h + three.header_h


def test_column_labels_put_ink_in_the_band_above_their_own_column():
    cells = tiles()
    labelled = draw_grid([COLUMNS, ROWS], cells, 96)
    blank = draw_grid([AxisLabels("", ["", "", ""]), AxisLabels("", ["", ""])], cells, 96)
    for axes, image in (([COLUMNS, ROWS], labelled), ([AxisLabels("", ["", "", ""]), AxisLabels("", ["", ""])], blank)):
        layout = grid_layout(axes, cells, 96)
        for column in range(3):
            left, top, right, _ = layout.cell_box((column, 0, 0))
            band = np.asarray(image.crop((left, layout.title_h, right, top)))
            assert (band != BACKGROUND).any() == (image is labelled), (column, image is labelled)


def test_a_tile_without_an_image_says_why_and_a_footer_sits_on_the_image():
    failed = np.asarray(tile_image(Tile((0, 0, 0), title="FAILED", message="GPU fell over", alarm=True), (128, 96)))
    quiet = np.asarray(tile_image(Tile((0, 0, 0), title="n/a", message="no such parameter"), (128, 96)))
    assert has(failed, FAILED_INK, 40) and not has(quiet, FAILED_INK, 40)
    plain = np.asarray(tile_image(Tile((0, 0, 0), make_image()), (96, 96)))
    footed = np.asarray(tile_image(Tile((0, 0, 0), make_image(), footer="n/a: guidance_scale"), (96, 96)))
    assert has(footed[-40:], FOOTER_INK, 40) and not has(plain, FOOTER_INK, 40)
    assert np.array_equal(footed[:40], plain[:40])  # the footer only covers the bottom


def test_line_plots_draw_each_line_in_its_colour_and_break_at_missing_values():
    color = (31, 119, 180)

    def plot(points: list) -> np.ndarray:
        image = draw_line_plots([Plot("MSE", [Line(points, color)], (0.0, 4.0))], x_max=3, width=640, height=400)
        assert image.size == (640, 400)
        return np.asarray(image)

    drawn = plot([(0, 1.0), (1, 2.0), (2, 3.0), (3, 2.0)])
    missing = plot([(0, None), (1, None), (2, None), (3, None)])
    assert has(drawn, color) and not has(missing, color)
    # A None between two points breaks the segment: fewer pixels in the line's colour than the whole line.
    broken = plot([(0, 1.0), (1, None), (2, 3.0), (3, 2.0)])
    count = lambda pixels: int((pixels.reshape(-1, 3) == color).all(axis=1).sum())  # noqa: E731
    assert 0 < count(broken) < count(drawn)


def test_a_captioned_row_letterboxes_each_image_under_its_caption():
    wide, tall = make_image(80, 40), make_image(40, 80, color=(20, 200, 20))
    row = captioned_row([(wide, "first"), (tall, "second")], (64, 64))
    assert row.size == (128, 64 + 22)
    shown = np.asarray(row)
    assert np.array_equal(shown[22:, 64:], np.asarray(letterbox(tall, (64, 64))))
    assert (shown[:22, :64] != BACKGROUND).any() and (shown[:22, 64:] != BACKGROUND).any()
    assert np.asarray(captioned_row([(wide, "")], (64, 64)))[:22].min() == 255


def test_letterbox_keeps_the_aspect_ratio_centred_on_the_fill():
    boxed = letterbox(Image.new("RGB", (100, 50), (250, 0, 0)), (64, 64), fill=(0, 0, 255))
    pixels = np.asarray(boxed)
    assert tuple(pixels[0, 32]) == (0, 0, 255) and tuple(pixels[32, 32]) == (250, 0, 0)
    assert tuple(pixels[15, 32]) == (0, 0, 255) and tuple(pixels[17, 32]) == (250, 0, 0)  # 32 rows, 16 above
