"""Where presets are kept: the shipped folder and the user's folder; list, load, save, rename, delete,
import and export preset files (the format itself is `playground.presets`).

Shipped presets live in `presets/` next to the package and are read-only here; user presets live
in `$PLAYGROUND_HOME/presets` (default `~/.playground/presets`, or the visitor's own folder on a
shared server). Writes go to a temporary file in the same folder and are then linked or renamed
into place, so a reader never sees half a file and concurrent saves never lose one. Input images a
preset names are copied, by hash, into the folder's `inputs/`.

Functions take and return JSON-ready values. Problems with a preset raise `ValidationError` (every
problem at once, each naming the field, the value and what is allowed); problems with the folder
raise `PresetStoreError`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from playground.compare import GridSpec, grid_from_dict, grid_to_dict
from playground.drift import DriftSpec, drift_from_dict, drift_to_dict
from playground.params import Problem, ValidationError
from playground.presets import (
    INPUTS_FOLDER,
    LOCATION_FIELD,
    as_document,
    drift_request,
    grid_request,
    parse_preset,
    preset_json,
    preset_kind,
    preset_slug,
    request_to_preset,
    resolve_input_path,
)
from playground.request import Request
from playground.storage import StorageError, atomic_write, ensure_folder, os_reason, shipped_presets_dir, user_dir

# The preset folder cannot be read or written (permissions, a full disk, a missing preset).
PresetStoreError = StorageError


# -- where presets live -----------------------------------------------------------------------------

def shipped_dir() -> Path:
    """The folder of presets shipped with the playground (read-only for the preset functions)."""
    return shipped_presets_dir()


# -- the folders ------------------------------------------------------------------------------------

def list_presets(home: Path | None = None, *, include_shipped: bool = True) -> dict[str, Any]:
    """Every loadable preset, shipped first then the user's, and every file that was skipped and why.

    Returns `{"presets": [{"id", "name", "slug", "description", "model", "mode", "source", "path", "kind"}],
    "problems": [{"id", "path", "error"}]}` (kind: "run", "grid" or "drift"). A corrupt or invalid file is
    reported and skipped.
    """
    found: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    sources = [("shipped", shipped_dir())] if include_shipped else []
    try:
        sources.append(("user", user_dir(home)))
    except StorageError:  # a shared server outside a visit: only the shipped presets are anyone's
        pass
    for source, folder in sources:
        for path in _preset_files(folder, skipped, source):
            ident = f"{source}:{path.stem}"
            try:
                preset = _read_preset_file(path)
            except (ValidationError, PresetStoreError) as err:
                skipped.append({"id": ident, "path": str(path), "error": _message(err)})
                continue
            found.append({"id": ident, "name": preset["name"], "slug": path.stem,
                          "description": preset["description"], "model": preset["model"], "mode": preset["mode"],
                          "source": source, "path": str(path), "kind": preset_kind(preset)})
    return {"presets": found, "problems": skipped}


def load_preset(ref: str | os.PathLike[str], home: Path | None = None) -> dict[str, Any]:
    """Load and check one preset by id (`shipped:NAME`, `user:NAME`), by name (shipped first, then
    the user's), or by file path. The result carries `location: {"source", "path"}`."""
    path, source = _locate(ref, home)
    preset = _read_preset_file(path)
    preset[LOCATION_FIELD] = {"source": source, "path": str(path)}
    return preset


def save_preset(preset: dict[str, Any], name: str | None = None, *, base_dir: Path | None = None,
                home: Path | None = None, on_conflict: str = "error") -> dict[str, Any]:
    """Check and save a preset in the user folder, atomically. Returns `{"id", "name", "slug", "path"}`.

    `name` (default: the preset's own) sets both the file name and the `name` field. Input files the
    preset names are read relative to `base_dir` (default: the folder it was loaded from) and copied
    into the user folder's `inputs/`. `on_conflict`: "error" refuses an existing name, "overwrite"
    replaces it, "rename" saves as "name (2)", "name (3)", ... Names of shipped presets are
    refused, so a user preset never hides a shipped one.
    """
    if on_conflict not in ("error", "overwrite", "rename"):
        raise ValidationError([Problem("on_conflict", on_conflict, "one of 'error', 'overwrite', 'rename'")])
    doc = dict(as_document(preset))
    location = doc.pop(LOCATION_FIELD, None)
    if base_dir is None and isinstance(location, dict) and location.get("path"):
        base_dir = Path(location["path"]).parent
    if name is not None:
        doc["name"] = name
    checked = parse_preset(doc, base_dir)
    folder = user_dir(home)
    base_name, slug = checked["name"].strip(), preset_slug(checked["name"])
    _refuse_shipped(slug, checked["name"])
    _ensure_folder(folder)
    if base_dir is not None and base_dir.resolve() != folder.resolve():
        checked = _copy_inputs(checked, base_dir, folder)
    for attempt in range(1, 1000):
        if attempt > 1:
            checked["name"] = f"{base_name} ({attempt})"
            slug = preset_slug(checked["name"])
            _refuse_shipped(slug, checked["name"])
        path = folder / f"{slug}.json"
        try:
            atomic_write(path, preset_json(checked).encode("utf-8"), overwrite=on_conflict == "overwrite")
        except FileExistsError:
            if on_conflict == "rename":
                continue
            raise ValidationError([Problem("name", checked["name"], "a name not used by another of your presets "
                                                                    "(or choose to overwrite it)")]) from None
        return {"id": f"user:{slug}", "name": checked["name"], "slug": slug, "path": str(path)}
    raise PresetStoreError(f"Too many presets named like '{base_name}'.")


def save_request(request: Request, name: str, description: str = "", *, home: Path | None = None,
                 on_conflict: str = "error") -> dict[str, Any]:
    """Save the current state of the UI as a user preset, with its input images stored next to it
    (content-addressed under the user folder's `inputs/`) so loading it later restores them."""
    folder = user_dir(home)
    _ensure_folder(folder)
    preset = request_to_preset(request, name, description, store_inputs_in=folder / INPUTS_FOLDER,
                               relative_to=folder)
    return save_preset(preset, base_dir=folder, home=home, on_conflict=on_conflict)


# -- experiments: grids and drifts ------------------------------------------------------------------

def save_grid(spec: GridSpec | dict[str, Any], name: str, description: str = "", *, home: Path | None = None,
              on_conflict: str = "error") -> dict[str, Any]:
    """Save a comparison grid (a `GridSpec` or its dict) as a user preset; its input images are stored
    next to it like `save_request`'s. The preset's own fields are the grid's shared request on its first
    model (the parameters that model takes), so it also loads as a plain run. Returns what
    `save_preset` returns."""
    grid = grid_from_dict(spec) if isinstance(spec, dict) else spec
    return _save_experiment("grid", grid_to_dict(grid), grid_request(grid), name, description, home, on_conflict)


def save_drift(spec: DriftSpec | dict[str, Any], name: str, description: str = "", *, home: Path | None = None,
               on_conflict: str = "error") -> dict[str, Any]:
    """Save a drift (a `DriftSpec` or its dict) as a user preset. The preset's own fields are the genesis
    run, or for an uploaded start image the first chain's edit of it (the image stored as its input)."""
    drift = drift_from_dict(spec) if isinstance(spec, dict) else spec
    return _save_experiment("drift", drift_to_dict(drift), drift_request(drift), name, description, home,
                            on_conflict)


def _save_experiment(key: str, data: dict[str, Any], request: Request, name: str, description: str,
                     home: Path | None, on_conflict: str) -> dict[str, Any]:
    folder = user_dir(home)
    _ensure_folder(folder)
    preset = request_to_preset(request, name, description, store_inputs_in=folder / INPUTS_FOLDER,
                               relative_to=folder)
    preset[key] = data
    return save_preset(preset, base_dir=folder, home=home, on_conflict=on_conflict)



# -- changing the user's presets -------------------------------------------------------------------

def delete_preset(name: str, home: Path | None = None) -> dict[str, Any]:
    """Delete a user preset (by name, slug or `user:` id). Shipped presets cannot be deleted.
    Returns `{"deleted": id}`. Stored inputs are kept: other presets may share them."""
    slug = _user_slug(name, home)
    path = user_dir(home) / f"{slug}.json"
    try:
        path.unlink()
    except FileNotFoundError:
        raise PresetStoreError(f"No user preset named '{name}'.") from None
    except OSError as err:
        raise PresetStoreError(f"Cannot delete preset '{name}': {os_reason(err)}.") from None
    return {"deleted": f"user:{slug}"}


def rename_preset(old: str, new: str, home: Path | None = None) -> dict[str, Any]:
    """Rename a user preset (file and `name` field). Refuses an existing or shipped new name.
    Returns what `save_preset` returns for the new name."""
    old_slug = _user_slug(old, home)
    folder = user_dir(home)
    source = folder / f"{old_slug}.json"
    if not source.is_file():
        raise PresetStoreError(f"No user preset named '{old}'.")
    preset = _read_preset_file(source)
    if preset_slug(new) == old_slug:
        return save_preset(preset, new, base_dir=folder, home=home, on_conflict="overwrite")
    saved = save_preset(preset, new, base_dir=folder, home=home, on_conflict="error")
    with contextlib.suppress(FileNotFoundError):
        source.unlink()
    return saved


def import_preset(source: Any, name: str | None = None, *, home: Path | None = None,
                  on_conflict: str = "error") -> dict[str, Any]:
    """Import a preset from a file path, JSON text, bytes or dict into the user folder.

    Input files it names (relative to the file) are copied into the user folder's `inputs/`.
    Returns what `save_preset` returns.
    """
    base: Path | None = None
    if isinstance(source, os.PathLike) or (isinstance(source, str) and not source.lstrip().startswith("{")):
        path = Path(source)
        if not path.is_file():
            raise PresetStoreError(f"No preset file {path}.")
        base = path.parent
        try:
            source = path.read_bytes()
        except OSError as err:
            raise PresetStoreError(f"Cannot read {path.name}: {os_reason(err)}.") from None
    return save_preset(as_document(source), name, base_dir=base, home=home, on_conflict=on_conflict)


def export_preset(ref: str, dest: Path, home: Path | None = None) -> list[Path]:
    """Write a preset as `dest/<slug>.json`, with the input files it names copied under
    `dest/inputs/`, so the folder can be shared and imported elsewhere. Returns the files written."""
    preset = load_preset(ref, home)
    base = Path(preset[LOCATION_FIELD]["path"]).parent
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for entry in preset["inputs"]:
        resolved = resolve_input_path(entry["path"], base) if entry.get("path") else None
        if resolved is not None and resolved.is_file():
            target = dest / INPUTS_FOLDER / resolved.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(resolved, target)
            entry["path"] = f"{INPUTS_FOLDER}/{resolved.name}"
            written.append(target)
        else:
            entry.pop("path", None)  # the export still names the input by its hash
    path = dest / f"{preset_slug(preset['name'])}.json"
    atomic_write(path, preset_json(preset).encode("utf-8"), overwrite=True)
    return [path, *written]


# -- files ------------------------------------------------------------------------------------------

def _ensure_folder(folder: Path) -> None:
    ensure_folder(folder, not_inside=shipped_dir())


def _preset_files(folder: Path, skipped: list[dict[str, Any]], source: str) -> list[Path]:
    try:
        return sorted(p for p in folder.glob("*.json") if not p.name.startswith(".") and p.is_file())
    except OSError as err:
        skipped.append({"id": f"{source}:", "path": str(folder), "error": f"cannot list: {os_reason(err)}"})
        return []


def _read_preset_file(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PresetStoreError(f"No preset file {path.name}.") from None
    except OSError as err:
        raise PresetStoreError(f"Cannot read {path.name}: {os_reason(err)}.") from None
    return parse_preset(data, path.parent)


def _locate(ref: str | os.PathLike[str], home: Path | None) -> tuple[Path, str]:
    text = os.fspath(ref)
    source, sep, rest = text.partition(":")
    if sep and source in ("shipped", "user"):
        slug = preset_slug(rest)
        path = (shipped_dir() if source == "shipped" else user_dir(home)) / f"{slug}.json"
        if not path.is_file():
            raise PresetStoreError(f"No {source} preset named '{rest}'.")
        return path, source
    if text.endswith(".json") or os.sep in text or "/" in text:
        path = Path(text)
        if not path.is_file():
            raise PresetStoreError(f"No preset file {text}.")
        return path, "file"
    slug = preset_slug(text)
    for source, folder in (("shipped", shipped_dir()), ("user", user_dir(home))):
        if (folder / f"{slug}.json").is_file():
            return folder / f"{slug}.json", source
    raise PresetStoreError(f"No preset named '{text}' (shipped or yours).")


def _user_slug(ref: str, home: Path | None) -> str:
    """The slug of an existing user preset named by `ref`; shipped presets are refused."""
    if ref.startswith("shipped:"):
        raise PresetStoreError(f"'{ref[len('shipped:'):]}' is a shipped preset: shipped presets cannot be changed.")
    explicit = ref.startswith("user:")
    slug = preset_slug(ref[len("user:"):] if explicit else ref)
    if not explicit and not (user_dir(home) / f"{slug}.json").is_file() and (shipped_dir() / f"{slug}.json").is_file():
        raise PresetStoreError(f"'{ref}' is a shipped preset: shipped presets cannot be changed.")
    return slug


def _refuse_shipped(slug: str, name: str) -> None:
    if (shipped_dir() / f"{slug}.json").exists():
        raise ValidationError([Problem("name", name, f"a name not used by a shipped preset ('{slug}' is shipped; "
                                                     f"save under another name)")])


def _copy_inputs(preset: dict[str, Any], base: Path, folder: Path) -> dict[str, Any]:
    """Copy the input files a preset names into the user folder's inputs/, by hash."""
    inputs = []
    for entry in preset["inputs"]:
        entry = dict(entry)
        resolved = resolve_input_path(entry["path"], base) if entry.get("path") else None
        if resolved is not None and resolved.is_file():
            target = folder / INPUTS_FOLDER / f"{entry['sha256']}{resolved.suffix.lower() or '.png'}"
            if not target.is_file():
                _ensure_folder(target.parent)
                atomic_write(target, resolved.read_bytes(), overwrite=True)
            entry["path"] = target.relative_to(folder).as_posix()
        inputs.append(entry)
    return {**preset, "inputs": inputs}


def _message(err: Exception) -> str:
    return err.describe() if isinstance(err, ValidationError) else str(err)


__all__ = [
    "PresetStoreError", "delete_preset", "export_preset", "import_preset", "list_presets", "load_preset",
    "rename_preset", "save_drift", "save_grid", "save_preset", "save_request", "shipped_dir",
]
