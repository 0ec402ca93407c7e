"""Loading a diffusers pipeline one component at a time, so that loading can report how far it is.

The components come from the pipeline's model_index.json (`Pipeline.load_config`): every entry
the pipeline class takes whose library and class are not null. Each loads with its own class's
`from_pretrained`, from its subfolder and with the dtype for torch modules only, as diffusers'
`DiffusionPipeline.from_pretrained` loads them itself; then the pipeline is assembled with the
documented `Pipeline.from_pretrained(folder, dtype=..., **components)`, which loads none of the
components it is given. A hub repo id resolves to its snapshot folder first with
`Pipeline.download` (what from_pretrained does; offline it is the cached snapshot). torch and
diffusers are imported only when loading.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

# report(component, done, total): before each component (done = how many are loaded), then once
# with component None and done == total when all are loaded and the pipeline is being assembled.
LoadReport = Callable[[str | None, int, int], None]


def components_to_load(pipeline_class: type, config: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, library, class name) of each component in a model_index.json `config` that
    `pipeline_class` takes and that is not null, in the file's order."""
    accepted = set(inspect.signature(pipeline_class.__init__).parameters) - {"self"}
    found = []
    for name, value in config.items():
        if name.startswith("_") or name not in accepted or not isinstance(value, (list, tuple)) or len(value) != 2:
            continue
        library, class_name = value
        if library is not None and class_name is not None:
            found.append((name, str(library), str(class_name)))
    return found


def load_component(folder: str, name: str, library: str, class_name: str, dtype: Any) -> Any:
    """One component from `folder`: from its subfolder `name` (from the folder itself when there is
    none), with `dtype` for torch modules (both diffusers models and transformers >= 4.56 name it
    `dtype`); schedulers, tokenizers and processors take no dtype."""
    import diffusers
    import torch

    # A component whose library is a diffusers pipeline module (e.g. a safety checker) lives there.
    module = (getattr(diffusers.pipelines, library) if hasattr(diffusers.pipelines, library)
              else importlib.import_module(library))
    component_class = getattr(module, class_name)
    where = Path(folder) / name
    path = str(where) if where.is_dir() else str(folder)
    options = {"dtype": dtype} if issubclass(component_class, torch.nn.Module) else {}
    return component_class.from_pretrained(path, **options)


def load_pipeline(class_name: str, source: str, dtype: Any, report: LoadReport | None = None) -> Any:
    """The diffusers pipeline `class_name` from `source` (a folder or a hub repo id), loaded one
    component at a time with `report` called before each; the same pipeline as
    `Pipeline.from_pretrained(source, dtype=dtype)`. Raises what from_pretrained raises."""
    import diffusers

    pipeline_class = getattr(diffusers, class_name)
    # A hub repo resolves to its snapshot folder, as from_pretrained itself does (offline: the cache).
    folder = source if Path(source).is_dir() else pipeline_class.download(source)
    plan = components_to_load(pipeline_class, pipeline_class.load_config(folder))
    total = len(plan)
    components: dict[str, Any] = {}
    for done, (name, library, component_class) in enumerate(plan):
        if report is not None:
            report(name, done, total)
        components[name] = load_component(folder, name, library, component_class, dtype)
    if report is not None:
        report(None, total, total)
    pipe = pipeline_class.from_pretrained(folder, dtype=dtype, **components)
    # Assembled from the resolved folder (no second trip to the hub); it names where it came from.
    pipe.register_to_config(_name_or_path=source)
    return pipe
