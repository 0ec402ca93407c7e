"""The Generate tab's inputs read as one `Request`: images from the gallery or the editor, the mask
from the editor's painted layers, params from the panel (only what the visitor changed).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image, ImageChops

from playground.params import SEED_MAX
from playground.request import Request
from playground.ui import catalog_view, panels
from playground.ui.service import visitor_keys


@dataclass
class Form:
    """The values of the Generate tab at one moment."""

    model: str
    mode: str
    backend: str = "auto"
    prompt: str = ""
    negative_prompt: str | None = None
    refs: list[Any] = field(default_factory=list)
    editor: Any = None
    seed: Any = None
    random_seed: bool = True
    fal_key: str = ""
    replicate_key: str = ""
    use_server_keys: bool = False
    ctx: dict[str, Any] = field(default_factory=dict)
    slots: list[Any] = field(default_factory=list)
    # Slot key → text typed in a slider's box that the slider clamped (see playground.ui.browser).
    typed: dict[str, Any] = field(default_factory=dict)
    out_format: str | None = None
    out_quality: Any = None

    def with_panel(self, ctx: dict[str, Any], slots: list[Any]) -> Form:
        return replace(self, ctx=ctx, slots=slots)

    def panel_backend(self) -> str | None:
        """The backend whose panel the slots show, or None when they show another model or mode."""
        if self.ctx.get("model") == self.model and self.ctx.get("mode") == self.mode:
            return self.ctx.get("backend")
        return None

    def request(self) -> Request:
        """The request these values describe (unchecked: validation happens in one place, later)."""
        model = catalog_view.get(self.model)
        shown = self.panel_backend()
        params = panels.explicit_params(model, self.mode, shown, self.slots) if shown else {}
        if shown:
            params.update(panels.typed_params(model, self.mode, shown, self.typed))
        images: list[Any] = []
        mask = None
        if self.mode == "image-to-image":
            images = gallery_paths(self.refs)
        elif self.mode == "inpaint":
            background, mask = editor_inputs(self.editor)
            images = [background] if background is not None else []
        takes_negative = bool(model.negative_prompt) and (shown is None or shown in model.negative_prompt)
        negative = self.negative_prompt if takes_negative and (self.negative_prompt or "").strip() else None
        return Request(model=self.model, mode=self.mode, prompt=self.prompt or "", negative_prompt=negative,
                       images=images, mask=mask, params=params, seed=self.chosen_seed(), backend=self.backend or "auto")

    def chosen_seed(self) -> int | None:
        """None (draw one) when "random" is ticked or the box is empty; else the box's value."""
        if self.random_seed or self.seed is None or self.seed == "":
            return None
        try:
            value = float(self.seed)
        except (TypeError, ValueError):
            return self.seed  # validation says what a seed may be
        return int(value) if value.is_integer() else self.seed

    def file_format(self) -> tuple[Any, Any]:
        """(format, quality) for `formats.choose`: None where the visitor left the default."""
        quality = None if self.out_quality in (None, "", 0) else self.out_quality  # 0: the format's default
        return self.out_format or None, quality

    def keys(self) -> dict[str, str]:
        return visitor_keys(self.fal_key, self.replicate_key, self.use_server_keys)


def gallery_paths(value: Any) -> list[str]:
    """File paths of a Gallery value: paths, (path, caption) pairs, or raw `{"image": {"path"}}` items."""
    paths = []
    for item in value or []:
        if isinstance(item, (list, tuple)):
            item = item[0]
        if isinstance(item, dict):
            item = file_path(item.get("image")) or file_path(item)
        if item:
            paths.append(str(item))
    return paths


def file_path(value: Any) -> Any:
    """The path inside a raw Gradio file value (`{"path": ...}`), or the value itself."""
    return value.get("path") if isinstance(value, dict) else value


def editor_inputs(value: Any) -> tuple[Any, Image.Image | None]:
    """The image and the mask from an ImageEditor value (PIL images, or raw file dicts): the
    background, and the union of the painted layers' alpha (painted = 255 = repaint). No paint
    gives no mask."""
    if not isinstance(value, dict):
        return None, None
    background = file_path(value.get("background")) or file_path(value.get("composite"))
    mask = None
    for layer in value.get("layers") or []:
        layer = file_path(layer)
        if layer is None:
            continue
        layer = layer if isinstance(layer, Image.Image) else _open(layer)
        alpha = layer.getchannel("A") if "A" in layer.getbands() else layer.convert("L")
        mask = alpha if mask is None else ImageChops.lighter(mask, alpha.resize(mask.size))
    if mask is not None:
        mask = mask.point(lambda v: 255 if v > 0 else 0)
        if mask.getextrema() == (0, 0):
            mask = None
    return background, mask


def _open(path: str) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.copy()


def clamp_seed(value: Any) -> int:
    """A seed in range for the seed box."""
    try:
        return min(max(int(value), 0), SEED_MAX)
    except (TypeError, ValueError):
        return 0
