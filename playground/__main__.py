"""Command line: `python -m playground models|run ...`.

`models` lists every model with its modes and backends (`--json`: the full schemas).
`run` runs one request and writes its images; bad input exits with status 2 and the message on
stderr, a backend failure with status 1. Keys for hosted backends come from FAL_KEY and
REPLICATE_API_TOKEN: whoever runs the command line is the operator.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from playground.catalog import MODELS, get_model, models_by_family
from playground.errors import PlaygroundError
from playground.params import ValidationError
from playground.request import Request, Result


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ValidationError as err:
        print(err.describe(), file=sys.stderr)
        return 2
    except PlaygroundError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m playground", description="Image-model playground.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    models = sub.add_parser("models", help="list models, their modes and backends")
    models.add_argument("--json", action="store_true", help="print every model's full JSON schema")
    models.set_defaults(handler=cmd_models)

    run = sub.add_parser("run", help="run one request and write its images")
    run.add_argument("--model", required=True, help="model id (see `models`)")
    run.add_argument("--prompt", default="", help="the prompt or edit instruction")
    run.add_argument("--negative-prompt", default=None, help="negative prompt (models that take one)")
    run.add_argument("--mode", default=None,
                     help="text-to-image, image-to-image or inpaint (default: from the inputs given)")
    run.add_argument("--image", action="append", default=[], metavar="FILE", help="input image (repeatable)")
    run.add_argument("--mask", default=None, metavar="FILE", help="inpaint mask: white = repaint")
    run.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="sets",
                     help="a parameter in canonical name (repeatable), e.g. --set num_inference_steps=20")
    run.add_argument("--seed", type=int, default=None, help="seed (default: random, and printed)")
    run.add_argument("--backend", default="auto", help="auto, local, fal or replicate")
    run.add_argument("--out", required=True, metavar="DIR", help="folder to write the images to")
    run.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout")
    run.set_defaults(handler=cmd_run)
    return parser


def cmd_models(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps({mid: {**m.summary(), "schema": m.json_schema()} for mid, m in MODELS.items()}, indent=2))
        return 0
    for family, models in models_by_family().items():
        print(f"[{family}]")
        for model in models:
            backends = ", ".join(f"{b}: {'/'.join(model.modes_on(b))}" for b in model.backends)
            print(f"  {model.id:<18} {model.label}  —  {backends}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from playground import backends

    request = Request(
        model=args.model,
        mode=args.mode or _infer_mode(args.model, args.image, args.mask),
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        images=list(args.image),
        mask=args.mask,
        params=parse_sets(args.sets),
        seed=args.seed,
        backend=args.backend,
    )
    keys = {k: v for k, v in (("fal", os.environ.get("FAL_KEY", "")),
                               ("replicate", os.environ.get("REPLICATE_API_TOKEN", ""))) if v}
    result = backends.run(request, progress=None if args.json else _print_progress, keys=keys)
    files = write_images(result, Path(args.out))
    if args.json:
        print(json.dumps({"files": [str(f) for f in files], **result.summary()}, indent=2, default=str))
    else:
        for path, seed in zip(files, result.seeds, strict=True):
            print(f"wrote {path} (seed {seed})")
        print(f"backend: {result.backend}  endpoint: {result.endpoint}")
        print("parameters as sent: " + json.dumps(result.native, default=str))
    return 0


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`name=value` pairs; values are read as JSON where they parse (numbers, true/false), else text."""
    params: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise ValidationError([_problem("--set", item, "NAME=VALUE, e.g. num_inference_steps=20")])
        try:
            params[name.strip()] = json.loads(raw)
        except ValueError:
            params[name.strip()] = raw
    return params


def write_images(result: Result, out: Path) -> list[Path]:
    """Write each image as PNG into `out`, named by model, seed and index."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (image, seed) in enumerate(zip(result.images, result.seeds, strict=True)):
        path = out / f"{result.model}-{seed}-{i}.png"
        image.save(path, format="PNG")
        paths.append(path)
    return paths


def _infer_mode(model_id: str, images: list[str], mask: str | None) -> str:
    try:
        model = get_model(model_id)
    except ValidationError:
        return "text-to-image"  # validation reports the unknown model
    if mask:
        return "inpaint"
    if images and "image-to-image" in model.modes:
        return "image-to-image"
    return next(iter(model.modes))


def _print_progress(event: dict[str, Any]) -> None:
    if event.get("stage") == "step":
        print(f"step {event['step']}/{event['total']}", file=sys.stderr)
    elif event.get("message"):
        print(event["message"], file=sys.stderr)


def _problem(field: str, value: Any, allowed: str) -> Any:
    from playground.params import Problem

    return Problem(field, value, allowed)


if __name__ == "__main__":
    sys.exit(main())
