"""Benchmark: full-size models on a GPU, the playground against bare diffusers and its own speed settings.

For each model (FLUX.2 klein 4B, SDXL base, FLUX.1 schnell, FLUX.1 Kontext dev, FLUX.2 dev where
memory and disk allow) it builds the real architecture with random weights (bench/fullsize_models.py,
no download: the compute is the same as the real weights'), saves it once as safetensors in a scratch
folder, loads it back through the playground's own loader (playground.backends.local) and, at
1024x1024 with the model's usual steps (the catalog default), prints:

- time to first image from a fresh backend (load, run, record, PNG file);
- bare diffusers call (the loaded pipeline, same arguments) against the playground's whole local
  path (validate, run, record, encoded PNG file), medians of interleaved runs, and their ratio;
- the playground's own work per image (record, hashes, PNG encoding) and its ratio to the bare call;
- peak GPU memory, and images per second for a batch of 4;
- each speed setting (playground.speed) against the default, as a ratio, with compile time apart.

All ratios come from the same process. `--scale tiny` runs the same code on tiny configs on the CPU
in seconds (a test keeps it working); `--models` picks a subset; `--budget-s` stops early and prints
what it has. The scratch folder is emptied after each model.

    python bench/gpu_fullsize.py --budget-s 540
    python bench/gpu_fullsize.py --models sdxl-base,flux-2-klein-4b --settings attention,compile
    python bench/gpu_fullsize.py --scale tiny --budget-s 60
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

GIB = 1024**3
SETTING_NAMES = ("attention", "fuse_qkv", "channels_last", "vae_tiling", "vae_slicing", "compile", "dtype")
# Attention choices tried on CUDA; ones whose kernels are not installed print why and are skipped.
CUDA_ATTENTION = ("_native_cudnn", "_native_flash", "_native_efficient", "flash", "_flash_3", "sage", "xformers")
CPU_ATTENTION = ("_native_math",)
TINY_SIZE, TINY_STEPS = 64, 2
TINY_PARAMS: dict[str, Any] = {"max_sequence_length": 128, "auto_resize": False}
# Settings --scale tiny prints but does not measure unless --settings names them: compiling even a
# tiny denoiser takes tens of seconds on a CPU (tests/test_speed.py covers compile on CPU).
TINY_LEFT_OUT = ("compile",)


@dataclass
class Budget:
    """A soft deadline: steps check it before they start."""

    seconds: float
    start: float = field(default_factory=time.perf_counter)

    def left(self) -> float:
        return self.seconds - (time.perf_counter() - self.start)

    def spent(self) -> bool:
        return self.left() <= 0


@dataclass
class Row:
    """What was measured for one model (None: not measured)."""

    model: str
    bare_s: float | None = None
    playground_s: float | None = None
    overhead_ms: float | None = None
    first_image_s: float | None = None
    peak_gib: float | None = None
    batch_images_per_s: float | None = None
    settings: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", choices=("full", "tiny"), default="full")
    parser.add_argument("--models", default="all", help="comma-separated catalog ids (default: all); "
                        "choices: flux-2-klein-4b, sdxl-base, flux-schnell, flux-kontext-dev, flux-2-dev")
    parser.add_argument("--settings", default=None, help="comma-separated speed settings to measure, or all "
                        f"(default: all at full scale, all but compile at tiny): {', '.join(SETTING_NAMES)}")
    parser.add_argument("--budget-s", type=float, default=540.0, help="stop starting new steps after this long")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per median (default: 3; 1 at tiny "
                        "scale); speed settings use at most 2 after a warm-up")
    parser.add_argument("--scratch", default=None, help="folder for the saved weights (default: a temp folder)")
    args = parser.parse_args(argv)
    budget = Budget(args.budget_s)
    runs = args.runs or (3 if args.scale == "full" else 1)

    import diffusers
    import torch
    import transformers

    for library in (diffusers, transformers):  # progress bars and "guidance is ignored" notes, not figures
        library.utils.logging.set_verbosity_error()
        library.utils.logging.disable_progress_bar()

    from fullsize_models import MODELS

    wanted = list(MODELS) if args.models == "all" else [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in wanted if m not in MODELS]
    if unknown:
        parser.error(f"--models: unknown {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    settings = _settings_asked(args.settings, args.scale, parser)
    left_out = TINY_LEFT_OUT if args.scale == "tiny" and args.settings is None else ()
    device = "cuda" if torch.cuda.is_available() and args.scale == "full" else "cpu"
    if args.scale == "full" and device == "cpu":
        print("no GPU here: full-size models on a CPU would take hours; use --scale tiny")
        return 2
    if device == "cpu":
        torch.set_num_threads(max(1, min(torch.get_num_threads(), 2)))
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="gpu-fullsize-"))
    scratch.mkdir(parents=True, exist_ok=True)
    print(_header(args.scale, device, budget))
    rows: list[Row] = []
    try:
        for model_id in wanted:
            if rows and budget.spent():  # the first model always starts: slow imports must not leave no figure
                rows.append(Row(model_id, note="not run: budget spent"))
                print(f"== {model_id}: not run (budget spent)")
                continue
            rows.append(_bench_model(MODELS[model_id], args.scale, device, scratch, settings, left_out, runs,
                                     budget))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _print_summary(rows, args.scale, device)
    return 0


def _settings_asked(raw: str | None, scale: str, parser: argparse.ArgumentParser) -> list[str]:
    if raw is None:  # at tiny scale compile is listed but left out (see TINY_LEFT_OUT)
        return list(SETTING_NAMES)
    if raw == "all":
        return list(SETTING_NAMES)
    asked = [s.strip() for s in raw.split(",") if s.strip()]
    bad = [s for s in asked if s not in SETTING_NAMES]
    if bad:
        parser.error(f"--settings: unknown {', '.join(bad)}; choose from {', '.join(SETTING_NAMES)} or all")
    return asked


def _header(scale: str, device: str, budget: Budget) -> str:
    import diffusers
    import torch

    where = torch.cuda.get_device_name(0) if device == "cuda" else f"{torch.get_num_threads()} CPU threads"
    return (f"== gpu_fullsize: scale {scale}, device {device} ({where}), torch {torch.__version__}, "
            f"diffusers {diffusers.__version__}, budget {budget.seconds:.0f} s")


# -- one model ----------------------------------------------------------------------------------------

def _bench_model(spec: Any, scale: str, device: str, scratch: Path, settings: list[str], left_out: tuple[str, ...],
                 runs: int, budget: Budget) -> Row:
    import torch
    from fullsize_models import build_pipeline, parameter_counts

    from playground.backends.local import free_memory
    from playground.catalog import get_model

    model = get_model(spec.model_id)
    route_dtype = model.routes["local"].dtype if device == "cuda" else "float32"
    dtype = getattr(torch, route_dtype)
    counts = parameter_counts(spec, scale)
    params = sum(counts.values())
    need = params * torch.finfo(dtype).bits // 8
    size = 1024 if scale == "full" else TINY_SIZE
    row = Row(spec.model_id)
    print(f"== {spec.model_id}: {spec.pipeline}, {params / 1e9:.3f} B params "
          f"({', '.join(f'{k} {v / 1e9:.3f} B' for k, v in counts.items())}), {need / GIB:.1f} GiB {route_dtype}; "
          f"{size}x{size}, {spec.mode}")
    room = _room_for(need, device, scratch)
    if room:
        row.note = f"skipped: {room}"
        print(f"skipped: {room}")
        return row
    folder = scratch / spec.model_id
    try:
        started = time.perf_counter()
        pipe = build_pipeline(spec, scale, device, dtype)
        built = time.perf_counter()
        pipe.save_pretrained(folder)
        saved = time.perf_counter()
        del pipe
        free_memory()
        on_disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        print(f"build {built - started:.1f} s, save {saved - built:.1f} s "
              f"({on_disk / GIB:.2f} GiB safetensors on disk)")
        _measure(spec, model, folder, scale, device, settings, left_out, runs, budget, row)
    except Exception as err:  # noqa: BLE001 - one model failing must not lose the others' figures
        row.note = f"failed: {type(err).__name__}: {_first_line(err)}"
        print(row.note)
    finally:
        _release_backend(device)
        shutil.rmtree(folder, ignore_errors=True)
        free_memory()
    return row


def _release_backend(device: str) -> None:
    """Drop the model's backend (and so its weights in GPU memory) before the next model is sized."""
    from playground import backends
    from playground.backends.local import LocalBackend, LocalSettings

    backends.set_backend("local", LocalBackend(LocalSettings(device=device)))


def _room_for(need: int, device: str, scratch: Path) -> str | None:
    """Why a model of `need` bytes cannot be built, saved and loaded here (None: it can)."""
    import torch

    free_disk = shutil.disk_usage(scratch).free
    if need * 1.05 > free_disk:
        return f"needs {need / GIB:.0f} GiB of disk for its safetensors, {free_disk / GIB:.0f} GiB free in {scratch}"
    if device == "cuda":
        free_gpu, _ = torch.cuda.mem_get_info()
        if need * 1.15 > free_gpu:
            return f"needs about {need * 1.15 / GIB:.0f} GiB of GPU memory, {free_gpu / GIB:.0f} GiB free"
    return None


def _measure(spec: Any, model: Any, folder: Path, scale: str, device: str, settings: list[str],
             left_out: tuple[str, ...], runs: int, budget: Budget, row: Row) -> None:
    import torch

    from playground import backends
    from playground.backends.local import LocalBackend, LocalSettings
    from playground.speed import SpeedSettings
    from playground.validation import for_backend, validate

    request = _request(spec, model, scale)
    _reset_peak(device)
    start = time.perf_counter()
    local = LocalBackend(LocalSettings(model_paths={spec.model_id: str(folder)}, device=device,
                                       speed=SpeedSettings()))
    backends.set_backend("local", local)
    first, _ = _whole_path(request, folder.parent)
    row.first_image_s = time.perf_counter() - start
    print(f"time to first image (fresh backend: load, run, record, PNG file): {row.first_image_s:.2f} s "
          f"(load {first.timings.get('load_s', 0.0):.2f} s)")

    prepared = for_backend(validate(request), "local")
    pipe, _ = local.pipeline(prepared.model, prepared.mode)
    call, _ = local.call_args(prepared, pipe)

    def bare() -> None:
        with torch.inference_mode():
            pipe(**call, generator=[torch.Generator("cpu").manual_seed(request.seed)])
        _sync(device)

    def playground() -> None:
        _whole_path(request, folder.parent)

    warm = scale == "full"  # on a GPU the first call of a shape pays for kernels and allocations
    times = _interleaved({"bare": bare, "playground": playground}, runs, budget, warm)
    row.bare_s, row.playground_s = times.get("bare"), times.get("playground")
    if row.bare_s is None or row.playground_s is None:
        print("bare / playground: not measured (budget spent)")
        return
    print(f"bare diffusers call:          median {row.bare_s:.3f} s ({_runs(runs)})")
    print(f"playground local path:        median {row.playground_s:.3f} s ({_runs(runs)}); "
          f"ratio playground / bare {row.playground_s / row.bare_s:.3f}")
    row.overhead_ms = _overhead(first, request, row.bare_s)
    row.peak_gib = _peak(device)
    print(f"peak memory (1 image): {_peak_text(device, row.peak_gib)}")
    batch, batch_s = _batch_request(request), None
    if budget.spent():
        print("batch of 4: not measured (budget spent)")
    else:
        if warm:
            _whole_path(batch, folder.parent)
        _reset_peak(device)
        batch_s = _timed(lambda: _whole_path(batch, folder.parent))
        row.batch_images_per_s = 4 / batch_s
        print(f"batch of 4: {row.batch_images_per_s:.3f} images/s ({batch_s:.2f} s through the playground "
              f"path); peak memory {_peak_text(device, _peak(device))}")
    _measure_settings(model, request, batch, batch_s, folder.parent, device, settings, left_out, min(2, runs), warm,
                      budget, row)


def _measure_settings(model: Any, request: Any, batch: Any, batch_s: float | None, outdir: Path, device: str,
                      settings: list[str], left_out: tuple[str, ...], runs: int, warm: bool, budget: Budget,
                      row: Row) -> None:
    base = row.playground_s or 1.0
    print(f"speed settings against the default (playground path, median of {runs}"
          f"{' after a warm-up' if warm else ''}; ratio < 1 is faster):")
    for name in settings:
        for label, speed, batched in _variants(name, model, device):
            if name in left_out:
                print(f"  {label:<28} not measured at --scale tiny (compiling takes tens of seconds on a CPU; "
                      f"--settings all measures it)")
                row.settings.append((label, "left out"))
                continue
            if budget.spent():
                print(f"  {label:<28} not measured (budget spent)")
                row.settings.append((label, "budget spent"))
                continue
            reference = batch_s if batched else base
            if reference is None:
                print(f"  {label:<28} not measured (budget spent)")
                row.settings.append((label, "budget spent"))
                continue
            req = _with_speed(batch if batched else request, speed)
            try:
                first_start = time.perf_counter()
                result, _ = _whole_path(req, outdir)
                first = time.perf_counter() - first_start
                timed = [_timed(lambda r=req: _whole_path(r, outdir)) for _ in range(runs)] if warm else [first]
                median = statistics.median(timed)
            except Exception as err:  # noqa: BLE001 - a kernel that is not installed is a finding, not a crash
                print(f"  {label:<28} unavailable: {type(err).__name__}: {_first_line(err)}")
                row.settings.append((label, "unavailable"))
                continue
            used = result.speed or {}
            skipped = [k for k, v in speed.items() if used.get(k) != v]
            if skipped:
                why = "; ".join(result.warnings) or "not applied"
                print(f"  {label:<28} n/a here ({why})")
                row.settings.append((label, "n/a"))
                continue
            extra = ""
            if name == "compile":
                extra = f"; compile {first - median:.1f} s (first run minus median)"
            elif name == "dtype":
                extra = f"; reload {result.timings.get('load_s', 0.0):.1f} s"
            what = "batch of 4" if batched else "1 image"
            print(f"  {label:<28} median {median:.3f} s ({what}), ratio {median / reference:.3f}{extra}")
            row.settings.append((label, f"{median / reference:.3f}"))


def _variants(name: str, model: Any, device: str) -> list[tuple[str, dict[str, Any], bool]]:
    """(label, speed overrides, whether it is measured on the batch of 4) for one setting."""
    if name == "attention":
        return [(f"attention={a}", {"attention": a}, False)
                for a in (CUDA_ATTENTION if device == "cuda" else CPU_ATTENTION)]
    if name == "compile":
        return [("compile=regional", {"compile": "regional"}, False), ("compile=full", {"compile": "full"}, False)]
    if name == "dtype":
        default = model.routes["local"].dtype if device == "cuda" else "float32"
        other = {"float16": "bfloat16", "bfloat16": "float16", "float32": "bfloat16"}[default]
        return [(f"dtype={other}", {"dtype": other}, False)]
    if name == "vae_slicing":
        return [("vae_slicing=true", {"vae_slicing": True}, True)]
    return [(f"{name}=true", {name: True}, False)]


# -- the playground's path and its parts ---------------------------------------------------------------

def _request(spec: Any, model: Any, scale: str) -> Any:
    from PIL import Image

    from playground.request import Request

    size = 1024 if scale == "full" else TINY_SIZE
    params: dict[str, Any] = {"image_size": f"{size}x{size}"}
    if scale == "tiny":  # seconds on a CPU: few steps, short prompts, no snapping to ~1 MP
        params["num_inference_steps"] = TINY_STEPS
        accepted = {p.name for p in model.params_for(spec.mode, "local")}
        params.update({k: v for k, v in TINY_PARAMS.items() if k in accepted})
    images = []
    if spec.mode != "text-to-image":
        images = [Image.new("RGB", (size, size), (120, 90, 60))]
    return Request(model=model.id, mode=spec.mode, prompt="a lighthouse on a cliff at dusk, detailed",
                   images=images, params=params, seed=1, backend="local")


def _batch_request(request: Any) -> Any:
    from dataclasses import replace

    return replace(request, params={**request.params, "num_images": 4})


def _with_speed(request: Any, speed: dict[str, Any]) -> Any:
    from dataclasses import replace

    return replace(request, speed=dict(speed))


def _whole_path(request: Any, outdir: Path) -> tuple[Any, list[Path]]:
    """What a page or CLI run does: validate, run, build the record, write each image as PNG with it."""
    from playground import backends
    from playground.records import build_record, for_image, save_image

    result = backends.run(request)
    record = build_record(result, request)
    files = [save_image(img, for_image(record, i), outdir / f"out-{i}.png", "png", sidecar=False)
             for i, img in enumerate(result.images)]
    return result, files


def _overhead(result: Any, request: Any, bare_s: float) -> float:
    """Print and return the playground's own work per image, in ms: record, hashes, PNG encoding."""
    from playground.images import content_hash
    from playground.records import build_record, encode_image, for_image

    image = result.images[0]
    record_s = _best(lambda: build_record(result, request))
    hash_s = _best(lambda: content_hash(image))
    record = for_image(build_record(result, request), 0)
    png_s = _best(lambda: encode_image(image, record, "png"))
    png6_s = _best(lambda: encode_image(image, record, "png", compress_level=6))
    per_image = record_s + png_s  # build_record hashes every output once
    print(f"playground work per image:    record {record_s * 1000:.1f} ms (of which pixel hash "
          f"{hash_s * 1000:.1f} ms), PNG {png_s * 1000:.1f} ms (compress level 1; level 6: "
          f"{png6_s * 1000:.1f} ms); total {per_image * 1000:.1f} ms, ratio to bare call {per_image / bare_s:.4f}")
    return per_image * 1000


def _interleaved(fns: dict[str, Callable[[], None]], runs: int, budget: Budget, warm: bool) -> dict[str, float]:
    for fn in fns.values() if warm else ():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        if budget.spent() and all(times.values()):
            break
        for name, fn in fns.items():
            times[name].append(_timed(fn))
    return {name: statistics.median(t) for name, t in times.items() if t}


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _best(fn: Callable[[], Any], repeat: int = 3) -> float:
    return min(_timed(fn) for _ in range(repeat))


# -- device bits -----------------------------------------------------------------------------------

def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def _reset_peak(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats()


def _peak(device: str) -> float:
    if device == "cuda":
        import torch

        return torch.cuda.max_memory_allocated() / GIB
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB


def _peak_text(device: str, gib: float) -> str:
    return f"{gib:.2f} GiB (torch.cuda.max_memory_allocated)" if device == "cuda" else \
        f"{gib:.2f} GiB (CPU: the process's peak RSS so far)"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else "")[:200]


def _print_summary(rows: list[Row], scale: str, device: str) -> None:
    print(f"== summary (scale {scale}, {device}; seconds per image unless said; ratios from this run)")
    print("| model | bare diffusers s | playground s | ratio | playground work ms/img | first image s "
          "| peak GiB | batch-4 img/s | note |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r.playground_s / r.bare_s:.3f}" if r.bare_s and r.playground_s else "-"
        print(f"| {r.model} | {_fmt(r.bare_s)} | {_fmt(r.playground_s)} | {ratio} | {_fmt(r.overhead_ms, 1)} "
              f"| {_fmt(r.first_image_s, 1)} | {_fmt(r.peak_gib, 1)} | {_fmt(r.batch_images_per_s)} | {r.note} |")
    labels = sorted({label for r in rows for label, _ in r.settings})
    if labels:
        print("| setting (ratio to default) | " + " | ".join(r.model for r in rows) + " |")
        print("|---|" + "---|" * len(rows))
        for label in labels:
            cells = [dict(r.settings).get(label, "-") for r in rows]
            print(f"| {label} | " + " | ".join(cells) + " |")
    print("== done")


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


if __name__ == "__main__":
    sys.exit(main())
