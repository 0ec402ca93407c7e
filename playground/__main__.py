"""Command line: `python -m playground models|run|sweep|drift|inspect|rerun|presets ...`.

`models` lists every model with its modes and backends (`--json`: the full schemas).
`run` runs one request (from flags, or a `--preset` that flags override) and writes each image as
a PNG with its reproducibility record embedded, plus a `.json` sidecar, and copies of its inputs
under `OUT/inputs/` so `rerun` finds them. `sweep` runs a comparison grid (up to three `--axis`) and
writes the labelled grid, the manifest and a zip of every cell with its record; `drift` runs
"reproduce this image exactly" chains and writes the metrics plot, the GIF, the manifest and a zip.
`inspect IMAGE` prints an image's record (or the settings another tool embedded); `import IMAGE`
turns the settings AUTOMATIC1111/Forge, ComfyUI or InvokeAI embedded into a preset (JSON on
stdout; `--save NAME` keeps it among the user's presets); `rerun IMAGE`
runs it again and says whether the pixels match. `presets` lists, shows, imports, exports,
renames and deletes presets. `schemas check` checks every hosted route against the providers' published
input schemas shipped in playground/catalog/schemas/; `schemas refresh` downloads the current ones and
reports drift (see playground/provider_schemas.py).

Exit status: 0 success; 1 a backend failure (for `sweep`/`drift`: a cell or chain that failed), a
missing or unreadable record, or a tampered one;
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

from playground import importers, presets, provider_schemas, runs
from playground.catalog import MODELS, get_model, models_by_family
from playground.compare import Axis, GridSpec, plan_grid, run_grid
from playground.drift import DEFAULT_STEPS, ChainSpec, DriftSpec, check_drift, plan_drift, run_drift
from playground.errors import PlaygroundError
from playground.formats import FileFormat, choose
from playground.params import Problem, ValidationError
from playground.preset_store import (
    delete_preset,
    export_preset,
    import_preset,
    list_presets,
    load_preset,
    rename_preset,
    save_drift,
    save_grid,
    save_request,
)
from playground.presets import preset_json
from playground.records import for_image, inspect, save_image
from playground.request import Request
from playground.rerun import rerun_and_verify
from playground.storage import store_inputs

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
    run.add_argument("--format", default=None, dest="file_format", metavar="FORMAT",
                     help="image files as png, jpeg or webp, the record embedded in each (default: the "
                          "request's output_format, else png)")
    run.add_argument("--quality", default=None, type=int, metavar="1-100",
                     help="jpeg/webp quality (default: jpeg 95, webp lossless)")
    run.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout")
    run.set_defaults(handler=cmd_run)

    sweep = sub.add_parser("sweep", help="run a comparison grid: one request over up to three axes")
    sweep.add_argument("--preset", default=None, metavar="NAME|FILE", help="start from a grid preset; flags override")
    sweep.add_argument("--model", default=None, help="model id for every cell (not with a model axis)")
    sweep.add_argument("--backend", default=None, help="auto, local, fal or replicate for --model")
    sweep.add_argument("--mode", default=None, help="text-to-image (default), image-to-image or inpaint")
    sweep.add_argument("--prompt", default=None, help="the prompt shared by every cell")
    sweep.add_argument("--negative-prompt", default=None)
    sweep.add_argument("--image", action="append", default=[], metavar="FILE", help="input image (repeatable)")
    sweep.add_argument("--mask", default=None, metavar="FILE", help="inpaint mask: white = repaint")
    sweep.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="sets",
                       help="a shared parameter (repeatable)")
    sweep.add_argument("--seed", type=int, default=None, help="one seed for every cell (default: one random seed)")
    sweep.add_argument("--axis", action="append", default=[], metavar="SPEC", dest="axes",
                       help="up to three, first = columns: NAME=VALUES for a parameter (num_inference_steps=10:30:10), "
                            "seed=1,2,3, prompt:TEXT=A,B (replace TEXT), model=sdxl-base@local,flux-2-pro@fal")
    sweep.add_argument("--max-cells", type=int, default=None, help="refuse larger grids (default: the cap, 64)")
    sweep.add_argument("--max-cost", type=float, default=None, help="refuse grids estimated above these dollars")
    sweep.add_argument("--dry-run", action="store_true", help="print the plan (cells, backends, cost) and stop")
    sweep.add_argument("--out", required=True, metavar="DIR", help="folder for grid.png, manifest.json, grid.zip")
    sweep.add_argument("--save-preset", default=None, metavar="NAME", help="also save the grid as a user preset")
    sweep.add_argument("--json", action="store_true", help="print the manifest as JSON on stdout")
    sweep.add_argument("--format", default=None, dest="file_format", metavar="FORMAT",
                     help="image files as png, jpeg or webp, the record embedded in each (default: the "
                          "request's output_format, else png)")
    sweep.add_argument("--quality", default=None, type=int, metavar="1-100",
                     help="jpeg/webp quality (default: jpeg 95, webp lossless)")
    sweep.set_defaults(handler=cmd_sweep)

    drift = sub.add_parser("drift", help="apply edit models to their own output again and again; measure the drift")
    drift.add_argument("--preset", default=None, metavar="NAME|FILE", help="start from a drift preset; flags override")
    drift.add_argument("--prompt", default=None, help="the genesis prompt")
    drift.add_argument("--genesis-model", default=None, help="text-to-image model for the first image (flux-schnell)")
    drift.add_argument("--genesis-backend", default=None)
    drift.add_argument("--genesis-set", action="append", default=[], metavar="NAME=VALUE", dest="genesis_sets")
    drift.add_argument("--genesis-seed", type=int, default=None)
    drift.add_argument("--start-image", default=None, metavar="FILE", help="your own first image instead")
    drift.add_argument("--edit", action="append", default=[], metavar="MODEL[@BACKEND]",
                       help="an edit model; one chain each (repeatable)")
    drift.add_argument("--steps", type=int, default=None, help="steps per chain (default 10)")
    drift.add_argument("--instruction", default=None, help="the instruction at every step")
    drift.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="sets",
                       help="a parameter of every chain's edit model (repeatable)")
    drift.add_argument("--seed", type=int, default=None, help="seed of every chain (default: random per chain)")
    drift.add_argument("--max-steps", type=int, default=None)
    drift.add_argument("--dry-run", action="store_true", help="print the plan (backends, cost) and stop")
    drift.add_argument("--out", required=True, metavar="DIR",
                       help="folder for metrics.png, drift.gif, manifest.json, drift.zip")
    drift.add_argument("--save-preset", default=None, metavar="NAME", help="also save the drift as a user preset")
    drift.add_argument("--json", action="store_true", help="print the manifest as JSON on stdout")
    drift.add_argument("--format", default=None, dest="file_format", metavar="FORMAT",
                     help="image files as png, jpeg or webp, the record embedded in each (default: the "
                          "request's output_format, else png)")
    drift.add_argument("--quality", default=None, type=int, metavar="1-100",
                     help="jpeg/webp quality (default: jpeg 95, webp lossless)")
    drift.set_defaults(handler=cmd_drift)

    inspect = sub.add_parser("inspect", help="print the reproducibility record of an image")
    inspect.add_argument("image", metavar="IMAGE", help="a PNG, JPEG or WebP (or a .json sidecar)")
    inspect.add_argument("--json", action="store_true", help="print the whole inspection as JSON")
    inspect.set_defaults(handler=cmd_inspect)

    imported = sub.add_parser("import", help="turn another tool's image (A1111/Forge, ComfyUI, InvokeAI) into a "
                                             "preset; the preset JSON goes to stdout")
    imported.add_argument("image", metavar="IMAGE", help="a PNG, JPEG or WebP with generation settings")
    imported.add_argument("--save", default=None, metavar="NAME", help="also save it as a user preset named NAME")
    imported.set_defaults(handler=cmd_import)

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
    provider_schemas.add_commands(sub)
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
    request = build_request(args)
    out_dir(args.out)
    file_format = choose(args.file_format, args.quality, request.params)
    done = runs.run(request, keys=operator_keys(), progress=None if args.json else _print_progress)
    result = done.result
    files = write_images(done, Path(args.out), file_format)
    saved = save_request(request, args.save_preset, on_conflict="rename") if args.save_preset else None
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
    if args.preset:
        preset = load_preset(args.preset)
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


def out_dir(value: str) -> Path:
    """`--out` as a folder (new or existing), checked before anything runs or is paid for."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise ValidationError([Problem("--out", value, "a folder to write into (new or existing), not an existing "
                                                       "file")])
    return path


def write_images(done: runs.Run, out: Path, file_format: FileFormat | None = None) -> list[Path]:
    """Write each image of a run into `out` named by model, seed and index, with its record embedded
    and a `.json` sidecar; copy the request's inputs into `out/inputs/` (named by hash) for `rerun`."""
    result, record, request = done.result, done.record, done.request
    file_format = file_format or FileFormat()
    out.mkdir(parents=True, exist_ok=True)
    if request.images or request.mask is not None:
        store_inputs(request, out / "inputs")
    paths = []
    for i, (image, seed) in enumerate(zip(result.images, result.seeds, strict=True)):
        path = out / f"{result.model}-{seed}-{i}.{file_format.suffix}"
        save_image(image, for_image(record, i), path, file_format.format, **file_format.save_args())
        paths.append(path)
    return paths


def cmd_sweep(args: argparse.Namespace) -> int:
    spec = build_grid(args)
    out_dir(args.out)
    file_format = choose(args.file_format, args.quality)
    keys = operator_keys()
    grid = plan_grid(spec, keys)
    summary = grid.summary()
    print(f"{summary['cells']} cells, {summary['to_run']} to run {summary['by_backend']}, estimated "
          f"${summary['estimated_cost']:g}", file=sys.stderr)
    if args.dry_run:
        print(json.dumps({**summary, "cells": [c.as_dict() for c in grid.cells]}, indent=2, default=str))
        return 0
    run_grid(grid, keys, on_cell=lambda cell: cell.status == "running" or print(
        f"cell {cell.index + 1}/{len(grid.cells)}: {cell.caption()}", file=sys.stderr))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    grid.grid_image().save(out / "grid.png")
    manifest = grid.manifest(file_format)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    grid.to_zip(out / "grid.zip", file_format=file_format)
    if args.save_preset:
        saved = save_grid(spec, args.save_preset, on_conflict="rename")
        print(f"saved preset {saved['id']} ({saved['path']})", file=sys.stderr)
    if args.json:
        print(json.dumps(manifest, indent=2, default=str))
    else:
        print(f"wrote {out / 'grid.png'}, {out / 'manifest.json'} and {out / 'grid.zip'}")
    return 1 if grid.counts()["failed"] else 0


def build_grid(args: argparse.Namespace) -> Any:
    """The GridSpec from `sweep`'s flags, on top of `--preset` when given (flags win; `--set` merges)."""
    spec = presets.preset_grid(load_preset(args.preset)) if args.preset else GridSpec()
    for name in ("model", "backend", "mode", "prompt", "negative_prompt", "seed", "max_cells", "max_cost"):
        if getattr(args, name) is not None:
            setattr(spec, name, getattr(args, name))
    if args.image:
        spec.images, spec.mask = list(args.image), args.mask
    elif args.mask is not None:
        spec.mask = args.mask
    if args.image and not args.mode and spec.mode == "text-to-image":
        spec.mode = "inpaint" if spec.mask else "image-to-image"
    spec.params = {**spec.params, **parse_sets(args.sets)}
    if args.axes:
        spec.axes = [parse_axis(text) for text in args.axes]
    return spec


def parse_axis(text: str) -> Any:
    """`--axis`: NAME=VALUES (a parameter), seed=VALUES, prompt:TEXT=VALUES or model=VALUES."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not name or not values.strip():
        raise ValidationError([Problem("--axis", text, "NAME=VALUES, seed=1,2, prompt:TEXT=A,B or "
                                                       "model=ID,ID@BACKEND")])
    if name in ("seed", "model"):
        return Axis(name, values)
    if name.startswith("prompt:"):
        return Axis("prompt", values, name[len("prompt:"):])
    return Axis("param", values, name)


def cmd_drift(args: argparse.Namespace) -> int:
    spec = check_drift(build_drift(args))
    out_dir(args.out)
    file_format = choose(args.file_format, args.quality)
    keys = operator_keys()
    planned = plan_drift(spec, keys)
    print(f"{planned['steps']} edit steps, estimated ${planned['estimated_cost']:g}", file=sys.stderr)
    if args.dry_run:
        print(json.dumps(planned, indent=2, default=str))
        return 0

    def report(step: Any) -> None:
        where = "genesis" if step.chain is None else f"chain {step.chain + 1} step {step.index}"
        ssim = f" SSIM vs first {step.vs_first.ssim:.3f}" if step.vs_first else ""
        print(f"{where}: {step.status}{ssim}{' - ' + step.error if step.error else ''}", file=sys.stderr)

    drift = run_drift(spec, keys, on_step=report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    drift.plot().save(out / "metrics.png")
    manifest = drift.manifest(file_format)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    gif = drift.gif(out / "drift.gif") if drift.genesis is not None and drift.genesis.image is not None else None
    drift.to_zip(out / "drift.zip", file_format=file_format, gif=gif)
    written = [out / "metrics.png", *([gif] if gif else []), out / "manifest.json", out / "drift.zip"]
    if args.save_preset:
        saved = save_drift(spec, args.save_preset, on_conflict="rename")
        print(f"saved preset {saved['id']} ({saved['path']})", file=sys.stderr)
    if args.json:
        print(json.dumps(manifest, indent=2, default=str))
    else:
        print("wrote " + ", ".join(str(p) for p in written))
    failed = drift.error or any(c.status != "done" for c in drift.chains)
    if failed:
        print("Error: " + (drift.error or "; ".join(c.error or "" for c in drift.chains if c.error)), file=sys.stderr)
    return 1 if failed else 0


def build_drift(args: argparse.Namespace) -> Any:
    """The DriftSpec from `drift`'s flags, on top of `--preset` when given (flags win)."""
    spec = presets.preset_drift(load_preset(args.preset)) if args.preset else DriftSpec(chains=[])
    for flag, name in (("prompt", "prompt"), ("genesis_model", "genesis_model"), ("genesis_backend", "genesis_backend"),
                       ("genesis_seed", "genesis_seed"), ("max_steps", "max_steps"), ("start_image", "start_image")):
        if getattr(args, flag) is not None:
            setattr(spec, name, getattr(args, flag))
    spec.genesis_params = {**spec.genesis_params, **parse_sets(args.genesis_sets)}
    if args.edit:
        spec.chains = []
        for text in args.edit:
            model, _, backend = text.partition("@")
            spec.chains.append(ChainSpec(model=model.strip(), backend=backend.strip() or "auto"))
    for chain in spec.chains:
        chain.steps = args.steps if args.steps is not None else (chain.steps or DEFAULT_STEPS)
        chain.instruction = args.instruction or chain.instruction
        chain.params = {**chain.params, **parse_sets(args.sets)}
        chain.seed = args.seed if args.seed is not None else chain.seed
    return spec


def cmd_inspect(args: argparse.Namespace) -> int:
    report = inspect(args.image)
    if report["status"] == "no record":
        report["import"] = importers.import_image(args.image)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    elif report["record"] is not None:
        width = max(len(field) for field, _ in report["table"])
        for field, value in report["table"]:
            print(f"{field:<{width}}  {value}")
    elif report.get("import"):
        _print_foreign(report["import"])
    for note in report["notes"]:
        print(f"note: {note}", file=sys.stderr)
    if report["status"] != "ok":
        print(f"{args.image}: {report['message']}", file=sys.stderr)
        return 1
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    report = importers.import_image(args.image, args.save)
    if report["preset"] is None:
        print(f"{Path(args.image).name}: {report['message']}", file=sys.stderr)
        return 1
    print(preset_json(report["preset"]), end="")
    _print_foreign(report, sys.stderr)
    if args.save:
        saved = importers.save_imported(report, args.save)
        print(f"saved as {saved['id']}", file=sys.stderr)
    return 0


def _print_foreign(report: dict[str, Any], out: Any = None) -> None:
    """What another tool's metadata held: the mapping, the model choice and what did not map."""
    out = out or sys.stdout
    if report["preset"] is None:
        return
    print(report["message"], file=out)
    for source, value, target in report["mapped"]:
        print(f"  {source}: {value}  ->  {target}", file=out)
    for source, value, why in report["unmapped"]:
        print(f"  not mapped: {source}: {value}  ({why})", file=out)
    for note in report["notes"]:
        print(f"  note: {note}", file=out)


def cmd_rerun(args: argparse.Namespace) -> int:
    if args.out:
        out_dir(args.out)
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
    preset = load_preset(args.ref)
    print(json.dumps(preset, indent=2, ensure_ascii=False))
    return 0


def cmd_presets_import(args: argparse.Namespace) -> int:
    saved = import_preset(args.file, args.name, on_conflict="overwrite" if args.overwrite else "error")
    print(f"imported {saved['id']} ({saved['path']})")
    return 0


def cmd_presets_export(args: argparse.Namespace) -> int:
    for path in export_preset(args.ref, Path(args.dest)):
        print(f"wrote {path}")
    return 0


def cmd_presets_rename(args: argparse.Namespace) -> int:
    saved = rename_preset(args.old, args.new)
    print(f"renamed to {saved['id']} ({saved['path']})")
    return 0


def cmd_presets_delete(args: argparse.Namespace) -> int:
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
