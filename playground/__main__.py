"""Command line: `python -m playground models|run|inspect|rerun|presets ...`.

`models` lists every model with its modes and backends (`--json`: the full schemas).
`run` runs one request (from flags, or a `--preset` that flags override) and writes each image as
a PNG with its reproducibility record embedded, plus a `.json` sidecar, and copies of its inputs
under `OUT/inputs/` so `rerun` finds them. `inspect IMAGE` prints an image's record; `rerun IMAGE`
runs it again and says whether the pixels match. `presets` lists, shows, imports, exports,
renames and deletes presets.

Exit status: 0 success; 1 a backend failure, a missing or unreadable record, or a tampered one;
2 bad input (the message, on stderr, names the field, the value and what is allowed); 3 `rerun`
ran but the pixels differ. Keys for hosted backends come from FAL_KEY and REPLICATE_API_TOKEN:
whoever runs the command line is the operator. Keys never reach a record, a preset or a file.
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
from playground.params import Problem, ValidationError
from playground.request import Request, Result

EXIT_DIFFERENT = 3


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

    run = sub.add_parser("run", help="run one request and write its images with their records")
    run.add_argument("--preset", default=None, metavar="FILE",
                     help="start from a preset (a file, or a preset name or id); other flags override it")
    run.add_argument("--model", default=None, help="model id (see `models`); required without --preset")
    run.add_argument("--prompt", default=None, help="the prompt or edit instruction")
    run.add_argument("--negative-prompt", default=None, help="negative prompt (models that take one)")
    run.add_argument("--mode", default=None,
                     help="text-to-image, image-to-image or inpaint "
                          "(default: the preset's for its model, else from the inputs)")
    run.add_argument("--image", action="append", default=[], metavar="FILE",
                     help="input image (repeatable); replaces the preset's inputs")
    run.add_argument("--mask", default=None, metavar="FILE", help="inpaint mask: white = repaint")
    run.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="sets",
                     help="a parameter in canonical name (repeatable), e.g. --set num_inference_steps=20")
    run.add_argument("--seed", type=int, default=None, help="seed (default: the preset's, else random, and printed)")
    run.add_argument("--backend", default=None, help="auto, local, fal or replicate (default: the preset's, else auto)")
    run.add_argument("--out", required=True, metavar="DIR", help="folder to write the images to")
    run.add_argument("--save-preset", default=None, metavar="NAME",
                     help="also save this request as a user preset under $PLAYGROUND_HOME")
    run.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout")
    run.set_defaults(handler=cmd_run)

    inspect = sub.add_parser("inspect", help="print the reproducibility record of an image")
    inspect.add_argument("image", metavar="IMAGE", help="a PNG, JPEG or WebP (or a .json sidecar)")
    inspect.add_argument("--json", action="store_true", help="print the whole inspection as JSON")
    inspect.set_defaults(handler=cmd_inspect)

    rerun = sub.add_parser("rerun", help="re-run an image from its record and verify the output matches")
    rerun.add_argument("image", metavar="IMAGE", help="a PNG, JPEG or WebP made by the playground")
    rerun.add_argument("--image", action="append", default=None, dest="inputs", metavar="FILE",
                       help="an input image, if it cannot be found by its hash (repeatable)")
    rerun.add_argument("--mask", default=None, metavar="FILE", help="the inpaint mask, if it cannot be found")
    rerun.add_argument("--backend", default=None, help="run on this backend instead of the recorded one")
    rerun.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="sets",
                       help="change a parameter on purpose (reported among the differences)")
    rerun.add_argument("--out", default=None, metavar="DIR", help="also write the new image (with its record)")
    rerun.add_argument("--json", action="store_true", help="print the verdict as one JSON object")
    rerun.set_defaults(handler=cmd_rerun)

    presets = sub.add_parser("presets", help="list, show, import, export, rename or delete presets")
    actions = presets.add_subparsers(required=True, metavar="ACTION")
    p_list = actions.add_parser("list", help="shipped and user presets, and files that were skipped")
    p_list.add_argument("--json", action="store_true")
    p_list.set_defaults(handler=cmd_presets_list)
    p_show = actions.add_parser("show", help="print one preset (checked) as JSON")
    p_show.add_argument("ref", metavar="NAME|ID|FILE")
    p_show.set_defaults(handler=cmd_presets_show)
    p_import = actions.add_parser("import", help="copy a preset file (and its inputs) into the user folder")
    p_import.add_argument("file", metavar="FILE")
    p_import.add_argument("--name", default=None)
    p_import.add_argument("--overwrite", action="store_true")
    p_import.set_defaults(handler=cmd_presets_import)
    p_export = actions.add_parser("export", help="write a preset and its inputs to a folder")
    p_export.add_argument("ref", metavar="NAME|ID")
    p_export.add_argument("dest", metavar="DIR")
    p_export.set_defaults(handler=cmd_presets_export)
    p_rename = actions.add_parser("rename", help="rename a user preset")
    p_rename.add_argument("old")
    p_rename.add_argument("new")
    p_rename.set_defaults(handler=cmd_presets_rename)
    p_delete = actions.add_parser("delete", help="delete a user preset")
    p_delete.add_argument("name")
    p_delete.set_defaults(handler=cmd_presets_delete)
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
    from playground import backends, presets

    request = build_request(args)
    keys = operator_keys()
    result = backends.run(request, progress=None if args.json else _print_progress, keys=keys)
    files = write_images(result, Path(args.out), request, secrets=keys.values())
    saved = presets.save_request(request, args.save_preset, on_conflict="rename") if args.save_preset else None
    if args.json:
        out = {"files": [str(f) for f in files], **result.summary()}
        if saved:
            out["preset"] = saved
        print(json.dumps(out, indent=2, default=str))
    else:
        for path, seed in zip(files, result.seeds, strict=True):
            print(f"wrote {path} (seed {seed}) and {path.with_suffix('.json').name}")
        print(f"backend: {result.backend}  endpoint: {result.endpoint}")
        print("parameters as sent: " + json.dumps(result.native, default=str))
        if saved:
            print(f"saved preset {saved['id']} ({saved['path']})")
    return 0


def build_request(args: argparse.Namespace) -> Request:
    """The request from `run`'s flags, on top of `--preset` when given (flags win; `--set` merges)."""
    from playground import presets

    if args.preset:
        preset = presets.load_preset(args.preset)
        base = presets.preset_to_request(preset)
    elif not args.model:
        raise ValidationError([Problem("--model", None, "a model id (see `models`), or --preset FILE")])
    else:
        base = Request(model=args.model, prompt="")
    images = list(args.image) if args.image else list(base.images)
    mask = args.mask if args.mask is not None else (None if args.image else base.mask)
    model = args.model or base.model
    if args.mode:
        mode = args.mode
    elif args.preset and model == base.model:
        mode = base.mode
    else:
        mode = _infer_mode(model, images, mask)
    return Request(
        model=model,
        mode=mode,
        prompt=args.prompt if args.prompt is not None else base.prompt,
        negative_prompt=args.negative_prompt if args.negative_prompt is not None else base.negative_prompt,
        images=images,
        mask=mask,
        params={**base.params, **parse_sets(args.sets)},
        seed=args.seed if args.seed is not None else base.seed,
        backend=args.backend or base.backend or "auto",
    )


def operator_keys() -> dict[str, str]:
    """The operator's keys from FAL_KEY / REPLICATE_API_TOKEN (only those that are set)."""
    return {k: v for k, v in (("fal", os.environ.get("FAL_KEY", "")),
                               ("replicate", os.environ.get("REPLICATE_API_TOKEN", ""))) if v}


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`name=value` pairs; values are read as JSON where they parse (numbers, true/false), else text."""
    params: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise ValidationError([Problem("--set", item, "NAME=VALUE, e.g. num_inference_steps=20")])
        try:
            params[name.strip()] = json.loads(raw)
        except ValueError:
            params[name.strip()] = raw
    return params


def write_images(result: Result, out: Path, request: Request | None = None, *, secrets: Any = (),
                 fmt: str = "png") -> list[Path]:
    """Write each image into `out` named by model, seed and index, with its record embedded and a
    `.json` sidecar; copy the request's inputs into `out/inputs/` (named by hash) for `rerun`."""
    from playground.records import build_record, for_image, save_image, store_inputs

    out.mkdir(parents=True, exist_ok=True)
    record = build_record(result, request, secrets=secrets)
    if request is not None and (request.images or request.mask is not None):
        store_inputs(request, out / "inputs")
    paths = []
    for i, (image, seed) in enumerate(zip(result.images, result.seeds, strict=True)):
        path = out / f"{result.model}-{seed}-{i}.{fmt}"
        save_image(image, for_image(record, i), path, fmt)
        paths.append(path)
    return paths


def cmd_inspect(args: argparse.Namespace) -> int:
    from playground.records import inspect

    report = inspect(args.image)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    elif report["record"] is not None:
        width = max(len(field) for field, _ in report["table"])
        for field, value in report["table"]:
            print(f"{field:<{width}}  {value}")
    elif report["parameters"]:
        print(report["parameters"])
    for note in report["notes"]:
        print(f"note: {note}", file=sys.stderr)
    if report["status"] != "ok":
        print(f"{args.image}: {report['message']}", file=sys.stderr)
        return 1
    return 0


def cmd_rerun(args: argparse.Namespace) -> int:
    from playground.records import rerun_and_verify, save_image

    keys = operator_keys()
    verdict = rerun_and_verify(args.image, keys, images=args.inputs, mask=args.mask, backend=args.backend,
                               overrides=parse_sets(args.sets) or None,
                               progress=None if args.json else _print_progress)
    written = None
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        record = verdict["record"]
        written = save_image(verdict["image"], record, out / f"{record['model']}-{record['seed']}-rerun.png")
    if args.json:
        shown = {k: v for k, v in verdict.items() if k not in ("image", "images")}
        if written:
            shown["file"] = str(written)
        print(json.dumps(shown, indent=2, ensure_ascii=False, default=str))
    else:
        print(verdict["message"])
        for item in verdict["differences"]:
            print(f"  {item['field']}: {json.dumps(item['recorded'], default=str)} -> "
                  f"{json.dumps(item['now'], default=str)}")
        for line in verdict["problems"] + verdict["notes"]:
            print(f"note: {line}", file=sys.stderr)
        if written:
            print(f"wrote {written}")
    return 0 if verdict["identical"] else EXIT_DIFFERENT


def cmd_presets_list(args: argparse.Namespace) -> int:
    from playground.presets import list_presets

    listing = list_presets()
    if args.json:
        print(json.dumps(listing, indent=2, ensure_ascii=False))
    else:
        for item in listing["presets"]:
            print(f"{item['id']:<40} {item['model']:<18} {item['mode']:<15} {item['name']}")
    for skipped in listing["problems"]:
        print(f"skipped {skipped['path']}: {skipped['error']}", file=sys.stderr)
    return 0


def cmd_presets_show(args: argparse.Namespace) -> int:
    from playground.presets import load_preset

    preset = load_preset(args.ref)
    print(json.dumps(preset, indent=2, ensure_ascii=False))
    return 0


def cmd_presets_import(args: argparse.Namespace) -> int:
    from playground.presets import import_preset

    saved = import_preset(args.file, args.name, on_conflict="overwrite" if args.overwrite else "error")
    print(f"imported {saved['id']} ({saved['path']})")
    return 0


def cmd_presets_export(args: argparse.Namespace) -> int:
    from playground.presets import export_preset

    for path in export_preset(args.ref, Path(args.dest)):
        print(f"wrote {path}")
    return 0


def cmd_presets_rename(args: argparse.Namespace) -> int:
    from playground.presets import rename_preset

    saved = rename_preset(args.old, args.new)
    print(f"renamed to {saved['id']} ({saved['path']})")
    return 0


def cmd_presets_delete(args: argparse.Namespace) -> int:
    from playground.presets import delete_preset

    print(f"deleted {delete_preset(args.name)['deleted']}")
    return 0


def _infer_mode(model_id: str, images: list[Any], mask: Any) -> str:
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


if __name__ == "__main__":
    sys.exit(main())
