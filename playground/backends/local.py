"""Local backend: runs catalog models with Hugging Face diffusers pipelines.

Weights load with the real `from_pretrained`, one component at a time so that loading reports
progress (backends.loading), from the hub id in the catalog route or from a folder named in the
JSON file at `PLAYGROUND_MODEL_PATHS` (`{"sdxl-base": "/models/sdxl"}`).
Loaded pipelines live in a bounded LRU cache; switching modes on the same weights derives the
mode's pipeline with `from_pipe`, sharing every module instead of loading again. Runs on one
device are serialised by a lock. torch and diffusers are imported only when a run needs them.

Settings (environment): PLAYGROUND_DEVICE (cuda, mps, cpu; default: best available),
PLAYGROUND_CPU_OFFLOAD (none, model, sequential), PLAYGROUND_MAX_PIPELINES (weights kept loaded,
default 1), and the speed settings of playground.speed: PLAYGROUND_DTYPE (default: the route's on
cuda, float16 on mps, float32 on cpu), PLAYGROUND_ATTENTION, PLAYGROUND_COMPILE,
PLAYGROUND_CHANNELS_LAST, PLAYGROUND_FUSE_QKV, PLAYGROUND_VAE_TILING, PLAYGROUND_VAE_SLICING. A
request's own `speed` wins over them key by key; the settings a run used go into its Result.
"""

from __future__ import annotations

import gc
import inspect
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from playground.backends import loading, lora, speedups
from playground.backends.base import Keys, Progress
from playground.catalog import LocalRoute, ModelSpec
from playground.environment import env_int
from playground.errors import BackendUnavailable, Cancelled, PlaygroundError
from playground.infotext import scheduler_facts
from playground.params import parse_size
from playground.request import Prepared, Result
from playground.speed import SpeedSettings
from playground.storage import multi_user

MIN_TOKENIZER_SIZE = 100


class BrokenWeights(BackendUnavailable):
    """A weights folder loaded but is incomplete (e.g. an empty tokenizer)."""


@dataclass
class LocalSettings:
    """Where weights come from and how they run; see the module docstring for the variables."""

    model_paths: dict[str, str] = field(default_factory=dict)
    device: str | None = None
    cpu_offload: str = "none"
    max_pipelines: int = 1
    speed: SpeedSettings = field(default_factory=SpeedSettings)

    @property
    def dtype(self) -> str | None:
        return self.speed.dtype

    @classmethod
    def from_env(cls) -> LocalSettings:
        paths: dict[str, str] = {}
        source = os.environ.get("PLAYGROUND_MODEL_PATHS")
        if source:
            try:
                paths = {str(k): str(v) for k, v in json.loads(Path(source).read_text()).items()}
            except (OSError, ValueError, AttributeError) as err:
                raise PlaygroundError(f"PLAYGROUND_MODEL_PATHS={source}: cannot read it as a JSON object of "
                                      f"model id to folder ({err})") from None
        return cls(
            model_paths=paths,
            device=os.environ.get("PLAYGROUND_DEVICE") or None,
            cpu_offload=os.environ.get("PLAYGROUND_CPU_OFFLOAD", "none"),
            max_pipelines=env_int("PLAYGROUND_MAX_PIPELINES", 1, minimum=1),
            speed=SpeedSettings.from_env(),
        )


@dataclass
class _Loaded:
    """One set of weights in memory: the first pipeline loaded and its siblings per class."""

    source: str
    revision: str | None
    by_class: dict[str, Any]
    scheduler_config: dict[str, Any]
    scheduler: Any
    adapters: lora.AdapterState = field(default_factory=lora.AdapterState)
    speed_state: dict[str, Any] = field(default_factory=dict)  # speed settings switched on now


class LocalBackend:
    """Runs Prepared requests on local diffusers pipelines. Thread-safe; one run per device at a time."""

    name = "local"
    uses_gpu = True

    def __init__(self, settings: LocalSettings | None = None):
        self.settings = settings or LocalSettings.from_env()
        self._cache: OrderedDict[tuple[str, str, str, str], _Loaded] = OrderedDict()
        self._lock = threading.RLock()
        self.stats = {"loads": 0, "from_pipe": 0, "runs": 0}

    # -- where and how -------------------------------------------------------------------------
    def source(self, model: ModelSpec) -> str:
        """The folder or hub id the weights of `model` load from."""
        return self.settings.model_paths.get(model.id) or _route(model).repo

    def device(self) -> str:
        if self.settings.device:
            return self.settings.device
        import torch

        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"

    def dtype_name(self, model: ModelSpec, speed: SpeedSettings | None = None) -> str:
        chosen = (speed or self.settings.speed).dtype
        if chosen:
            return chosen
        device = self.device()
        if device.startswith("cuda"):
            return _route(model).dtype
        return "float16" if device == "mps" else "float32"

    def health(self, model: ModelSpec, *, keys: Keys | None = None, auto: bool = False) -> tuple[bool, str]:
        """Whether this backend can run `model` now, and why not; under `auto` a machine without a
        GPU declines (a CPU run is for those who ask for local by name). Keys play no part.

        Weights are checked first so that a machine without them never imports torch just to
        answer (the page asks on every model change)."""
        if "local" not in model.routes:
            return False, f"{model.id} has no local route"
        src = self.source(model)
        if model.id in self.settings.model_paths:
            if not (Path(src) / "model_index.json").is_file():
                return False, f"{shown_source(src)} (from PLAYGROUND_MODEL_PATHS) has no model_index.json"
            where = f"weights in {shown_source(src)}"
        elif _hub_snapshot(src) is None:
            return False, f"weights for {model.id} are not downloaded: {_download_hint(model)}"
        else:
            where = f"weights cached from {src}"
        if auto and self.device() == "cpu":
            return False, "no GPU on this machine (set backend to local to run on CPU anyway)"
        return True, where

    # -- loading ---------------------------------------------------------------------------------
    def is_loaded(self, model: ModelSpec, speed: SpeedSettings | None = None) -> bool:
        """Whether `model`'s weights are already in memory (a run starts without loading them)."""
        return (model.id, self.source(model), self.device(), self.dtype_name(model, speed)) in self._cache

    def pipeline(self, model: ModelSpec, mode: str, speed: SpeedSettings | None = None,
                 progress: Progress | None = None) -> tuple[Any, _Loaded]:
        """The pipeline for `mode`, loading the weights once (per dtype) and sharing them across modes;
        while loading, `progress` hears `{"stage": "loading", "model", "component", "done", "total"}`
        before each component and once more with done == total (component None) at the end."""
        route = _route(model)
        class_name = route.pipelines[mode]
        key = (model.id, self.source(model), self.device(), self.dtype_name(model, speed))
        with self._lock:
            loaded = self._cache.get(key)
            if loaded is None:
                loaded = self._load(model, class_name, key[3], progress)
                self._cache[key] = loaded
                while len(self._cache) > self.settings.max_pipelines:
                    self._cache.popitem(last=False)
                    free_memory()
            self._cache.move_to_end(key)
            if class_name not in loaded.by_class:
                import diffusers

                first = next(iter(loaded.by_class.values()))
                sibling = getattr(diffusers, class_name).from_pipe(first)
                sibling.set_progress_bar_config(disable=True)
                loaded.by_class[class_name] = sibling
                self.stats["from_pipe"] += 1
            return loaded.by_class[class_name], loaded

    def _load(self, model: ModelSpec, class_name: str, dtype_name: str, progress: Progress | None = None) -> _Loaded:
        import torch

        src = self.source(model)
        is_folder = model.id in self.settings.model_paths
        if is_folder and not (Path(src) / "model_index.json").is_file():
            raise BackendUnavailable(f"{src} (PLAYGROUND_MODEL_PATHS entry for {model.id}) is not a diffusers "
                                     f"folder: it has no model_index.json. {_download_hint(model)}")
        if not is_folder and _offline() and _hub_snapshot(src) is None:
            raise BackendUnavailable(f"Weights for {model.id} are not on this machine and HF_HUB_OFFLINE is set. "
                                     f"{_download_hint(model)}")
        dtype = getattr(torch, dtype_name)

        def report(component: str | None, done: int, total: int) -> None:
            if progress is not None:
                progress({"stage": "loading", "model": model.id, "component": component, "done": done,
                          "total": total})

        try:
            pipe = loading.load_pipeline(class_name, src, dtype, report)
        except (OSError, ValueError) as err:
            raise BackendUnavailable(f"Could not load {model.id} from {src}: {err}. {_download_hint(model)}") from None
        self.stats["loads"] += 1
        pipe.set_progress_bar_config(disable=True)  # progress goes through our callback instead
        check_whole(pipe, src)
        for component in pipe.components.values():
            if isinstance(component, torch.nn.Module):
                component.eval()
        self._place(pipe)
        revision = None if is_folder else _commit_of(_hub_snapshot(src))
        return _Loaded(src, revision, {class_name: pipe}, dict(pipe.scheduler.config), pipe.scheduler)

    def _place(self, pipe: Any) -> None:
        device = self.device()
        if self.settings.cpu_offload == "model" and device != "cpu":
            pipe.enable_model_cpu_offload()
        elif self.settings.cpu_offload == "sequential" and device != "cpu":
            pipe.enable_sequential_cpu_offload()
        else:
            pipe.to(device)

    # -- running ---------------------------------------------------------------------------------
    def estimate(self, prepared: Prepared) -> float | None:
        """A local run costs nothing in dollars."""
        return 0.0

    def run(self, prepared: Prepared, *, progress: Progress | None = None, cancel: threading.Event | None = None,
            keys: Keys | None = None) -> Result:
        """Run a request prepared for the local backend; returns images, seeds and what was sent."""
        import torch

        model, mode = prepared.model, prepared.mode
        route = _route(model)
        started = time.perf_counter()
        adapters = lora.fetch(prepared.params.get("loras"))
        asked = self.settings.speed.merged(prepared.speed)
        with self._lock:
            loads_before = self.stats["loads"]
            pipe, loaded = self.pipeline(model, mode, asked, progress)
            loaded_at = time.perf_counter()
            speed, speed_warnings = speedups.apply(pipe, loaded.speed_state, asked)
            speed = replace(speed, dtype=self.dtype_name(model, asked))
            self._set_scheduler(pipe, loaded, route, prepared.params.get("scheduler"))
            weighted = lora.activate(pipe, loaded.adapters, adapters)
            args, shown = self.call_args(prepared, pipe)
            if weighted:
                shown["set_adapters"] = weighted
            generator_device = "cpu"
            n = prepared.num_images
            seeds = [(prepared.seed + i) % 2**32 for i in range(n)]
            args["generator"] = [torch.Generator(generator_device).manual_seed(s) for s in seeds]
            args["callback_on_step_end"] = _step_callback(progress, cancel, args.get("num_inference_steps"))
            if cancel is not None and cancel.is_set():
                raise Cancelled("Cancelled before the run started.")
            with torch.inference_mode(), speedups.call_context(loaded.speed_state):
                output = pipe(**args)
            self.stats["runs"] += 1
            finished = time.perf_counter()
        return Result(
            images=list(output.images),
            seeds=seeds,
            backend="local",
            model=model.id,
            mode=mode,
            endpoint=f"{route.repo} ({type(pipe).__name__})",
            params=dict(prepared.params),
            native={**shown, "generator": f"torch.Generator('{generator_device}').manual_seed(seed + i)",
                    "scheduler": scheduler_facts(pipe.scheduler)},
            prompt=prepared.prompt,
            negative_prompt=prepared.negative_prompt,
            model_version=loaded.revision,
            timings={"load_s": round(loaded_at - started, 4) if self.stats["loads"] > loads_before else 0.0,
                     "inference_s": round(finished - loaded_at, 4), "total_s": round(finished - started, 4)},
            cost=0.0,
            device={"device": self.device(), "dtype": speed.dtype, "generator_device": generator_device,
                    "source": shown_source(loaded.source), "pipeline": type(pipe).__name__},
            input_hashes=[img.sha256 for img in prepared.images],
            mask_hash=prepared.mask.sha256 if prepared.mask else None,
            adapters=[adapter.describe(scale) for adapter, scale in adapters],
            warnings=speed_warnings,
            speed=speed.as_dict(),
        )

    def call_args(self, prepared: Prepared, pipe: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """`__call__` arguments for the pipeline, and a JSON-ready copy with images as hashes."""
        route = _route(prepared.model)
        accepted = set(inspect.signature(type(pipe).__call__).parameters)
        args: dict[str, Any] = dict(route.call_args)
        shown: dict[str, Any] = dict(route.call_args)
        params = prepared.params
        controls = prepared.model.controls(prepared.mode, self.name)
        for name, value in params.items():
            if value is None or name in controls:
                continue
            native = route.native.get(name, name)
            args[native] = value
            shown[native] = value
        args["prompt"] = shown["prompt"] = prepared.prompt
        if prepared.negative_prompt and "negative_prompt" in accepted:
            args["negative_prompt"] = shown["negative_prompt"] = prepared.negative_prompt
        self._size_args(prepared, accepted, route, args, shown)
        if prepared.images:
            pictures = [img.image for img in prepared.images]
            single = prepared.model.modes[prepared.mode].max_images == 1
            args["image"] = pictures[0] if single else pictures
            hashes = [img.sha256 for img in prepared.images]
            shown["image"] = hashes[0] if single else hashes
        if prepared.mask is not None:
            args["mask_image"] = prepared.mask.image
            shown["mask_image"] = prepared.mask.sha256
        _ensure_one_step(args, shown)
        unknown = sorted(set(args) - accepted)
        if unknown:
            raise PlaygroundError(f"Catalog error: {type(pipe).__name__} does not take {', '.join(unknown)} "
                                  f"(model {prepared.model.id}, mode {prepared.mode}).")
        return args, shown

    @staticmethod
    def _size_args(prepared: Prepared, accepted: set[str], route: LocalRoute, args: dict[str, Any],
                   shown: dict[str, Any]) -> None:
        value = prepared.params.get("image_size")
        size = parse_size(value) if value is not None else None
        pixels = size.pixels() if size else None
        if pixels is None or "height" not in accepted:
            return
        width, height = pixels
        args["width"] = shown["width"] = width
        args["height"] = shown["height"] = height
        # Kontext sizes its output from max_area; keep it consistent with an explicit size.
        if "max_area" in accepted and "max_area" not in prepared.explicit:
            args["max_area"] = shown["max_area"] = width * height

    @staticmethod
    def _set_scheduler(pipe: Any, loaded: _Loaded, route: LocalRoute, name: str | None) -> None:
        """The sampler `name` from the route's table (a fresh one from the checkpoint's config), or the
        checkpoint's own for none and for an entry without a class ("Default")."""
        if name and name not in route.schedulers:
            raise PlaygroundError(f"Catalog error: scheduler {name!r} is not in the local route's table "
                                  f"(one of {', '.join(route.schedulers) or 'none'}).")
        class_name, options = route.schedulers[name] if name else ("", {})
        if not class_name:
            pipe.scheduler = loaded.scheduler
            return
        import diffusers

        pipe.scheduler = getattr(diffusers, class_name).from_config(loaded.scheduler_config, **options)


def check_whole(pipe: Any, source: str) -> None:
    """Fail loudly when a loaded pipeline is missing parts (an empty tokenizer folder loads silently)."""
    optional = set(getattr(pipe, "_optional_components", []) or [])
    for name, component in pipe.components.items():
        if component is None and name not in optional:
            raise BrokenWeights(f"{source}: component '{name}' is missing; the folder is incomplete.")
        if name.startswith("tokenizer") and component is not None:
            tokenizer = getattr(component, "tokenizer", component)
            size = len(tokenizer)
            if size <= MIN_TOKENIZER_SIZE:
                raise BrokenWeights(f"{source}: '{name}' has only {size} tokens, so its files are missing or "
                                    f"broken; every prompt would encode to nothing. Re-download the folder.")


def _step_callback(progress: Progress | None, cancel: threading.Event | None,
                   steps: int | None) -> Callable[..., dict[str, Any]]:
    def on_step_end(pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"Cancelled after step {step + 1}.")
        if progress is not None:
            total = getattr(pipe, "_num_timesteps", None) or steps or 0
            progress({"stage": "step", "step": step + 1, "total": int(total)})
        return kwargs

    return on_step_end


def _ensure_one_step(args: dict[str, Any], shown: dict[str, Any]) -> None:
    """img2img runs int(steps x strength) steps; raise steps so at least one runs (Copy: 15 x 0.05)."""
    strength, steps = args.get("strength"), args.get("num_inference_steps")
    if strength and steps and int(steps * strength) < 1:
        needed = int(-(-1 // strength))
        while int(needed * strength) < 1:
            needed += 1
        args["num_inference_steps"] = shown["num_inference_steps"] = needed


def _route(model: ModelSpec) -> LocalRoute:
    route = model.routes.get("local")
    if not isinstance(route, LocalRoute):
        raise BackendUnavailable(f"{model.id} cannot run locally; backends: {', '.join(model.backends)}")
    return route


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def _hub_snapshot(repo: str) -> str | None:
    """The local snapshot folder of a hub repo, if it is fully cached; never touches the network."""
    if Path(repo).is_dir():
        return repo
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo, local_files_only=True)
    except Exception:  # noqa: BLE001 - any failure here means "not cached"
        return None


def _commit_of(snapshot: str | None) -> str | None:
    if snapshot and "/snapshots/" in snapshot.replace(os.sep, "/"):
        return Path(snapshot).name
    return None


def shown_source(source: str) -> str:
    """Where weights come from, as visitors and records may see it: a hub repo id as it is, a local
    folder by its name alone on a shared server (the server's folders are nobody else's business)."""
    path = Path(source)
    return path.name if multi_user() and path.is_absolute() else source


def _download_hint(model: ModelSpec) -> str:
    repo = _route(model).repo
    return (f"Download it with `hf download {repo}` (into the Hugging Face cache, HF_HOME), or save it to a "
            f"folder and name that folder for \"{model.id}\" in the JSON file given by PLAYGROUND_MODEL_PATHS.")


def free_memory() -> None:
    """Let go of what dropped pipelines held: Python garbage, then the GPU's cached blocks."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()

