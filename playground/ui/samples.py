"""Ready examples for the Generate tab, with small sample pictures shipped in `examples/`.

The pictures are drawn with Pillow by `draw_samples` (flat shapes, a few KB each); regenerate
them with `python -m playground.ui.samples`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.request import Request

EXAMPLES_DIR = Path(__file__).parent / "examples"
LANDSCAPE = EXAMPLES_DIR / "landscape.png"
MOON_LAYER = EXAMPLES_DIR / "landscape-paint.png"
MOON_MASK = EXAMPLES_DIR / "landscape-mask.png"
# The landscape with the painted area drawn in: the editor does not draw a layer set by the server,
# so the example's picture shows what will be repainted.
LANDSCAPE_PAINTED = EXAMPLES_DIR / "landscape-painted.png"
CAT = EXAMPLES_DIR / "cat.png"
SOFA = EXAMPLES_DIR / "sofa.png"

# (label, model, mode, prompt, reference images, inpaint editor value)
EXAMPLES: list[tuple[str, str, str, str, list[str] | None, dict[str, Any] | None]] = [
    ("FLUX.2 [dev] · text to image", "flux-2-dev", "text-to-image",
     "a lighthouse on a cliff at dusk, oil painting, warm light", None, None),
    ("FLUX.2 [dev] · combine two references", "flux-2-dev", "image-to-image",
     "the cat from image 1 sitting on the sofa from image 2, cozy evening light", [str(CAT), str(SOFA)], None),
    ("FLUX.1 Kontext [dev] · edit by instruction", "flux-kontext-dev", "image-to-image",
     "make it a snowy winter night", [str(LANDSCAPE)], None),
    ("SDXL · inpaint the sun", "sdxl-base", "inpaint", "a full moon in a dark sky", None,
     {"background": str(LANDSCAPE_PAINTED), "layers": [str(MOON_LAYER)], "composite": str(LANDSCAPE_PAINTED)}),
    ("Seedream 4.5 · poster with text", "seedream-4.5", "text-to-image",
     "a retro travel poster that says 'PLAYGROUND' in bold letters", None, None),
]


@dataclass
class ExampleBox:
    """The examples table and the hidden textbox holding the clicked example's label."""

    examples: Any
    chosen: Any


def add() -> ExampleBox:
    """The examples table (call where it should appear); `wire` makes clicking one fill the form."""
    import gradio as gr

    chosen = gr.Textbox(visible=False)
    examples = gr.Examples([[e[0]] for e in EXAMPLES], [chosen], example_labels=[e[0] for e in EXAMPLES],
                           label="Examples (click one to fill the form)", elem_id="examples",
                           api_visibility="private")
    return ExampleBox(examples, chosen)


def example_request(label: str) -> tuple[Request, dict[str, Any] | None]:
    """The request an example sets (every control: model, mode, prompt, its pictures, default
    parameters, no negative prompt, a random seed, backend auto) and its inpaint editor value."""
    _, model_id, mode, prompt, refs, editor = next(e for e in EXAMPLES if e[0] == label)
    return Request(model=model_id, mode=mode, prompt=prompt, images=list(refs or []), seed=None), editor


def draw_samples(folder: Path = EXAMPLES_DIR) -> list[Path]:
    """Draw the sample pictures (flat shapes so each PNG stays a few KB)."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    landscape = Image.new("RGB", (256, 192), (120, 170, 225))
    draw = ImageDraw.Draw(landscape)
    draw.ellipse((180, 24, 224, 68), fill=(255, 214, 80))
    draw.polygon([(0, 150), (70, 95), (140, 140), (200, 100), (256, 135), (256, 192), (0, 192)], fill=(70, 140, 80))
    draw.polygon([(0, 192), (0, 170), (120, 150), (256, 175), (256, 192)], fill=(50, 110, 60))
    landscape.save(LANDSCAPE, optimize=True)

    paint = Image.new("RGBA", landscape.size, (0, 0, 0, 0))
    ImageDraw.Draw(paint).ellipse((172, 16, 232, 76), fill=(255, 45, 117, 255))
    paint.save(MOON_LAYER, optimize=True)
    paint.getchannel("A").point(lambda v: 255 if v else 0).save(MOON_MASK, optimize=True)
    Image.alpha_composite(landscape.convert("RGBA"), paint).convert("RGB").save(LANDSCAPE_PAINTED, optimize=True)

    cat = Image.new("RGB", (192, 192), (235, 230, 220))
    draw = ImageDraw.Draw(cat)
    draw.polygon([(45, 80), (60, 25), (95, 65)], fill=(230, 140, 50))
    draw.polygon([(147, 80), (132, 25), (97, 65)], fill=(230, 140, 50))
    draw.ellipse((40, 50, 152, 160), fill=(230, 140, 50))
    draw.ellipse((68, 90, 84, 106), fill=(40, 40, 40))
    draw.ellipse((108, 90, 124, 106), fill=(40, 40, 40))
    draw.polygon([(88, 118), (104, 118), (96, 128)], fill=(220, 90, 110))
    cat.save(CAT, optimize=True)

    sofa = Image.new("RGB", (256, 192), (240, 225, 200))
    draw = ImageDraw.Draw(sofa)
    draw.rectangle((0, 150, 256, 192), fill=(150, 110, 80))
    draw.rectangle((40, 80, 216, 120), fill=(60, 90, 150))
    draw.rectangle((30, 110, 226, 150), fill=(70, 105, 170))
    draw.rectangle((22, 95, 46, 150), fill=(55, 85, 145))
    draw.rectangle((210, 95, 234, 150), fill=(55, 85, 145))
    draw.rectangle((180, 20, 236, 70), fill=(250, 250, 245), outline=(120, 90, 60), width=4)
    sofa.save(SOFA, optimize=True)
    return [LANDSCAPE, LANDSCAPE_PAINTED, MOON_LAYER, MOON_MASK, CAT, SOFA]


if __name__ == "__main__":
    for path in draw_samples():
        print(f"{path} {path.stat().st_size} bytes")
