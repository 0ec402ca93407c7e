"""What the presets bar of the Generate tab does (its components are built in `layout`): pick a preset
(shipped or yours) and load it into every control; save the current controls as a preset; rename,
delete, import and export yours.

User presets live in PLAYGROUND_HOME on a single-user machine, and in the visitor's own folder on
a shared server (see `playground.storage`). Keys are never part of a preset: saving reads the
request, not the key fields.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import gradio as gr

from playground import preset_store, presets
from playground.params import Problem, ValidationError
from playground.storage import IMAGE_SUFFIXES
from playground.ui import catalog_view, service
from playground.ui.common import LIGHT, RAW, readable_errors
from playground.ui.handlers import Handlers, Loaded, fill_editor
from playground.ui.layout import PRESETS_HELP, Page, PresetsView, preset_choices
from playground.ui.outputs import SCRATCH_DIR_NAME, fresh_folder

MAX_IMPORT_BYTES = 64 * 1024 * 1024
# Deleting asks first, in the page; a declined confirmation reaches the handler as KEPT.
KEPT = "__kept__"
CONFIRM_DELETE = (f"(id) => (!id || window.confirm('Delete the preset ' + id.replace(/^user:/, '') + '? This cannot "
                  f"be undone.')) ? id : '{KEPT}'")


class PresetHandlers:
    """The presets bar's events; loading goes through `Handlers.load_request`."""

    def __init__(self, view: PresetsView, handlers: Handlers):
        self.view = view
        self.h = handlers
        self.page: Page = handlers.page

    def describe(self, preset_id: str | None) -> str:
        """What the chosen preset is: name, model, mode, inputs and description."""
        if not preset_id:
            return PRESETS_HELP
        try:
            preset = preset_store.load_preset(service.preset_ref(preset_id))
        except Exception as err:  # noqa: BLE001 - shown, not raised: choosing must not fail loudly
            return f"**This preset does not load.** {service.describe_error(err)[1]}"
        model = catalog_view.get(preset["model"])
        mode = catalog_view.MODE_LABELS.get(preset["mode"], preset["mode"])
        text = f"**{preset['name']}** · {model.label} · {mode}"
        if preset["seed"] is not None:
            text += f" · seed {preset['seed']}"
        inputs = _inputs_text(preset["inputs"])
        if inputs:
            text += f" · {inputs}"
        if preset["description"]:
            text += f"\n\n{preset['description']}"
        return text + "\n\nPress **Load preset** to set every control to it."

    def refresh_list(self, current: str | None = None) -> tuple[Any, str]:
        """The picker's choices read again (keeping the choice if it still exists), and its description."""
        choices, problems = preset_choices()
        value = current if current in {c for _, c in choices} else None
        text = self.describe(value)
        if problems:
            text += "\n\n" + _skipped_text(problems)
        return gr.update(choices=choices, value=value), text

    def load(self, data: dict[Any, Any]) -> dict[Any, Any]:
        """Set every control of the Generate tab to the chosen preset."""
        v, p = self.view, self.page
        preset_id = data[v.choice]
        if not preset_id:
            raise gr.Error("Choose a preset first.", title="No preset chosen", print_exception=False)
        with readable_errors("Invalid preset"):
            preset = preset_store.load_preset(service.preset_ref(preset_id))
            request = presets.preset_to_request(preset)
            loaded = self.h.load_request(data, request)
        notes = _missing_inputs(preset["inputs"], request) + _skipped_params(loaded)
        text = f"Loaded **{preset['name']}** ({catalog_view.get(preset['model']).label})."
        if notes:
            text += "\n\n" + "\n".join(f"- {n}" for n in notes)
        status = f"**Loaded preset:** {preset['name']}. Press **Run**, or change something first."
        return {**loaded.updates, p.pending_editor: loaded.editor, v.info: text, p.status: status}

    def save(self, data: dict[Any, Any]) -> tuple[Any, str]:
        """Save the Generate tab's current settings (and input images) as a user preset."""
        v = self.view
        name = (data[v.name] or "").strip()
        if not name:
            raise gr.Error("Type a name for the preset first.", title="No name", print_exception=False)
        with readable_errors("Cannot save this preset"):
            request = self.h.form(data).request()
            saved = preset_store.save_request(request, name, (data[v.description] or "").strip(),
                                         on_conflict="overwrite" if data[v.overwrite] else "error")
        choices, text = self.refresh_list(saved["id"])
        return choices, f"Saved as **{saved['name']}** in your presets.\n\n{text}"

    def rename(self, preset_id: str | None, new_name: str) -> tuple[Any, str]:
        if not preset_id or not (new_name or "").strip():
            raise gr.Error("Choose one of your presets and type its new name.", title="Nothing to rename",
                           print_exception=False)
        with readable_errors("Cannot rename this preset"):
            saved = preset_store.rename_preset(service.preset_ref(preset_id), new_name.strip())
        choices, text = self.refresh_list(saved["id"])
        return choices, f"Renamed to **{saved['name']}**.\n\n{text}"

    def delete(self, preset_id: str | None) -> tuple[Any, str]:
        if preset_id == KEPT:  # the visitor said no to "Delete ...?"
            return gr.update(), gr.update()
        if not preset_id:
            raise gr.Error("Choose one of your presets first.", title="Nothing to delete", print_exception=False)
        with readable_errors("Cannot delete this preset"):
            deleted = preset_store.delete_preset(service.preset_ref(preset_id))
        choices, text = self.refresh_list(None)
        return choices, f"Deleted **{deleted['deleted'].split(':', 1)[1]}**.\n\n{text}"

    def import_file(self, path: str | None) -> tuple[Any, str, Any]:
        """Import an uploaded preset (.json, or an exported .zip with its inputs) into your presets."""
        if not path:
            return gr.update(), gr.update(), gr.update()
        with readable_errors("Cannot import this preset"):
            saved, dropped = import_upload(Path(path))
        choices, text = self.refresh_list(saved["id"])
        note = (f" Its {dropped} input image(s) were not in the upload: add them before running."
                if dropped else "")
        return choices, f"Imported **{saved['name']}**.{note}\n\n{text}", None

    def export(self, preset_id: str | None) -> Any:
        """A .zip of the chosen preset and its input images, to download and import elsewhere."""
        if not preset_id:
            raise gr.Error("Choose a preset to export first.", title="Nothing to export", print_exception=False)
        with readable_errors("Cannot export this preset"):
            return gr.update(value=export_zip(service.preset_ref(preset_id)), visible=True)


def wire(demo: gr.Blocks, view: PresetsView, handlers: Handlers, everything: set[Any],
         refresh_outputs: list[Any]) -> None:
    """Connect the presets bar (all events private)."""
    ph = PresetHandlers(view, handlers)
    page = handlers.page
    listed = [view.choice, view.info]
    demo.load(ph.refresh_list, None, listed, **LIGHT)
    view.choice.input(ph.describe, [view.choice], [view.info], **LIGHT)
    load_outputs = [*refresh_outputs, page.model, page.seed, page.random_seed, page.pending_editor, page.status,
                    view.info]
    loaded = view.load.click(ph.load, {view.choice, *everything}, load_outputs, **LIGHT, **RAW)
    loaded.success(fill_editor, [page.pending_editor], [page.editor], **LIGHT)
    saving = {view.name, view.description, view.overwrite, *everything}
    view.save.click(ph.save, saving, listed, **LIGHT, **RAW)
    view.rename.click(ph.rename, [view.choice, view.new_name], listed, **LIGHT)
    view.delete.click(ph.delete, [view.choice], listed, js=CONFIRM_DELETE, **LIGHT)
    view.upload.upload(ph.import_file, [view.upload], [*listed, view.upload], **LIGHT)
    view.export.click(ph.export, [view.choice], [view.download], **LIGHT)


# -- files -------------------------------------------------------------------------------------------

def import_upload(path: Path) -> tuple[dict[str, Any], int]:
    """Import an uploaded .json or .zip; returns what `preset_store.import_preset` returns and how many
    inputs came without their file (they stay named by their hash)."""
    if path.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory(prefix="playground-import-") as tmp:
            preset_file = _unpack(path, Path(tmp))
            return _import_json(preset_file)
    return _import_json(path)


def _import_json(path: Path) -> tuple[dict[str, Any], int]:
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ValidationError([Problem("preset", f"{path.name}: not JSON ({err})", "a preset .json file")]) from None
    dropped = 0
    if isinstance(doc, dict) and isinstance(doc.get("inputs"), list):
        for entry in doc["inputs"]:
            # An input whose file did not come along is kept by its hash; the user brings the image.
            # (A path that leaves the folder is left in place: the preset check refuses it.)
            if isinstance(entry, dict) and isinstance(entry.get("path"), str) and _safe_member(entry["path"]) \
                    and not (path.parent / entry["path"]).is_file():
                entry.pop("path")
                dropped += 1
    if isinstance(doc, dict) and _is_shipped_name(doc.get("name")):
        doc["name"] = f"{doc['name']} (imported)"  # shipped names are taken; the user cannot pick one here
    return preset_store.save_preset(doc, base_dir=path.parent, on_conflict="rename"), dropped


def _is_shipped_name(name: Any) -> bool:
    try:
        return (preset_store.shipped_dir() / f"{presets.preset_slug(name)}.json").is_file()
    except ValidationError:
        return False


def _unpack(path: Path, folder: Path) -> Path:
    """Extract an exported preset (one .json at the top, images under inputs/) and return the .json."""
    wanted = "a .zip made by Export: one preset .json and its inputs/ folder"
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise ValidationError([Problem("file", path.name, wanted)]) from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        documents = [m for m in members if _safe_member(m.filename) and "/" not in m.filename
                     and m.filename.lower().endswith(".json")]
        if len(documents) != 1 or sum(m.file_size for m in members) > MAX_IMPORT_BYTES:
            raise ValidationError([Problem("file", path.name, wanted)])
        for member in members:
            parts = PurePosixPath(member.filename).parts
            is_input = len(parts) == 2 and parts[0] == presets.INPUTS_FOLDER and \
                PurePosixPath(parts[1]).suffix.lower() in IMAGE_SUFFIXES
            if member is documents[0] or (is_input and _safe_member(member.filename)):
                target = folder.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(member))
        return folder / documents[0].filename


def _safe_member(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return bool(parts) and "\\" not in name and not name.startswith("/") and \
        all(part not in ("", ".", "..") and not part.startswith(".") for part in parts)


def export_zip(ref: str) -> str:
    """Export a preset and its inputs (`preset_store.export_preset`) as one .zip under Gradio's upload folder."""
    folder = fresh_folder(SCRATCH_DIR_NAME)
    written = preset_store.export_preset(ref, folder / "preset")
    target = folder / f"{written[0].stem}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in written:
            archive.write(file, file.relative_to(folder / "preset").as_posix())
    return str(target)


# -- helpers -----------------------------------------------------------------------------------------

def _inputs_text(inputs: list[dict[str, Any]]) -> str:
    images = sum(1 for e in inputs if e.get("role") == "image")
    masks = sum(1 for e in inputs if e.get("role") == "mask")
    parts = ([f"{images} image{'s' if images != 1 else ''}"] if images else []) + (["a mask"] if masks else [])
    return f"inputs: {' and '.join(parts)}" if parts else ""


def _missing_inputs(expected: list[dict[str, Any]], request: Any) -> list[str]:
    want_images = sum(1 for e in expected if e.get("role") == "image")
    want_mask = any(e.get("role") == "mask" for e in expected)
    notes = []
    if len(request.images or []) < want_images:
        notes.append(f"The preset expects {want_images} input image(s) and {len(request.images or [])} came with "
                     f"it: add the missing one(s) before running.")
    if want_mask and request.mask is None:
        notes.append("The preset expects a mask that did not come with it: paint the area to repaint.")
    return notes


def _skipped_params(loaded: Loaded) -> list[str]:
    if not loaded.skipped:
        return []
    backend = catalog_view.BACKEND_LABELS.get(loaded.target.shown, loaded.target.shown)
    return [f"Not used on {backend}, so not shown: {', '.join(loaded.skipped)}."]


def _skipped_text(problems: list[dict[str, Any]]) -> str:
    lines = [f"- `{p['id']}`: {p['error']}" for p in problems[:5]]
    return f"**{len(problems)} preset file(s) could not be read and are not listed:**\n" + "\n".join(lines)
