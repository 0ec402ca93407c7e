"""The Generate tab's event handlers (all private: the public API is playground.ui.api).

Handlers take the page's values as one dict (Gradio passes a dict when `inputs` is a set) and
return dicts of component updates. Failures become readable messages in the status line and a
`gr.Error` toast; the traceback of an unexpected error goes to the server log only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import gradio as gr
from PIL import Image

from playground import backends
from playground.images import load_mask
from playground.params import Problem, ValidationError
from playground.request import Request
from playground.ui import catalog_view, panels, samples, service
from playground.ui.form import Form, clamp_seed, gallery_paths
from playground.ui.layout import Page
from playground.ui.outputs import SCRATCH_DIR_NAME, fresh_folder, serve_copy

I2I, INPAINT = "image-to-image", "inpaint"
MASK_TIP = "Tip: in inpaint mode, paint over the part to repaint; your strokes are the mask."
# The colour the editor's brush paints with: a loaded mask is drawn in it, as if painted by hand.
MASK_COLOR = (255, 45, 117)


@dataclass
class Target:
    """What a refresh shows: the model, mode and backend asked for, the concrete backend whose
    panel is shown, each backend's health, and auto's plan (None unless backend is auto)."""

    model: Any
    mode: str
    backend: str
    shown: str
    health: dict[str, tuple[bool, str]]
    planned: dict[str, Any] | None


@dataclass
class Loaded:
    """What `Handlers.load_request` sets: component updates, the editor value to set afterwards
    (None: leave it), parameters the shown panel has no control for, and the panel shown."""

    updates: dict[Any, Any]
    editor: dict[str, Any] | None
    skipped: list[str]
    target: Target


class Handlers:
    """Event handlers bound to one page's components."""

    def __init__(self, page: Page):
        self.page = page

    # -- reading the page ---------------------------------------------------------------------
    def form(self, data: dict[Any, Any]) -> Form:
        p = self.page
        return Form(model=data[p.model], mode=data[p.mode], backend=data[p.backend] or "auto",
                    prompt=data[p.prompt] or "", negative_prompt=data[p.negative], refs=data[p.refs] or [],
                    editor=data[p.editor], seed=data[p.seed], random_seed=bool(data[p.random_seed]),
                    fal_key=data[p.fal_key] or "", replicate_key=data[p.replicate_key] or "",
                    use_server_keys=bool(data[p.use_server_keys]),
                    ctx=data[p.ctx] or {}, slots=[data[s] for s in p.slots],
                    typed=data.get(p.typed) or {}, out_format=data.get(p.out_format),
                    out_quality=data.get(p.out_quality))

    # -- model, mode, backend, keys: the panel ---------------------------------------------------
    def refresh_panel(self, data: dict[Any, Any]) -> dict[Any, Any]:
        """Show the chosen model's modes, backends (available or why not), inputs and parameter panel."""
        return self.refresh(self.form(data))

    def target(self, form: Form) -> Target:
        """The model, mode and backend `form` asks for (made consistent), and the panel they show."""
        model = catalog_view.get(form.model)
        backend = form.backend if form.backend in model.backends else "auto"
        modes = [m for _, m in catalog_view.mode_choices(model, backend)] or list(model.modes)
        mode = form.mode if form.mode in modes else modes[0]
        keys = form.keys()
        skeleton = service.skeleton(model.id, mode, backend)
        health = service.availability(skeleton, keys)
        planned = _plan(skeleton, keys) if backend == "auto" else None
        shown = panels.panel_backend(model, mode, backend, planned.get("backend") if planned else None)
        return Target(model, mode, backend, shown, health, planned)

    def refresh(self, form: Form, target: Target | None = None) -> dict[Any, Any]:
        """Updates for the panel of `form` (see `refresh_panel`); `target` when already worked out."""
        p = self.page
        t = target or self.target(form)
        model, mode, backend, shown = t.model, t.mode, t.backend, t.shown
        updates, slot_values = self._panel_updates(model, mode, shown, form)
        ctx = panels.context(model, mode, shown)
        now = replace(form, model=model.id, mode=mode, backend=backend).with_panel(ctx, slot_values)
        updates.update(_input_updates(p, model, mode, shown))
        updates.update({
            p.model_card: catalog_view.model_card(model),
            # A value is sent only when it must change, so a refresh never undoes a newer choice.
            p.mode: gr.update(choices=catalog_view.mode_choices(model, backend),
                              **({"value": mode} if mode != form.mode else {})),
            p.backend: gr.update(choices=catalog_view.backend_choices(model, t.health),
                                 **({"value": backend} if backend != form.backend else {})),
            p.availability: catalog_view.availability_markdown(model, t.health),
            p.counter: f"{len(form.prompt)} / {model.prompt_max} characters",
            p.panel_header: catalog_view.panel_header(model, shown, backend, t.planned),
            p.estimate: self.estimate_text(now, t.planned),
            p.ctx: ctx,
        })
        return updates

    # -- presets and records: set every control at once --------------------------------------------
    def load_request(self, data: dict[Any, Any], request: Request) -> Loaded:
        """Updates that set every control of the Generate tab to `request`: model, mode, backend,
        prompts, seed, the inputs it carries, and every slot of the panel (values it does not set
        go back to the panel's defaults). The inpaint editor's value comes back separately, to be
        set once the editor is on screen. `data` supplies the visitor's keys (they choose the panel
        `auto` shows)."""
        p = self.page
        model = catalog_view.get(request.model)
        mode = request.mode if request.mode in model.modes else next(iter(model.modes))
        images = [serve_copy(path) for path in request.images or [] if isinstance(path, (str, os.PathLike))]
        editor = _editor_value(images[0], request.mask) if mode == INPAINT and images else None
        form = replace(self.form(data), model=model.id, mode=mode, backend=request.backend or "auto",
                       prompt=request.prompt or "", negative_prompt=request.negative_prompt or "",
                       refs=images if mode == I2I else [], editor=editor, seed=request.seed,
                       random_seed=request.seed is None)
        t = self.target(form)
        form = replace(form, mode=t.mode, backend=t.backend)
        params = {param.name: param for param in panels.panel_params(model, t.mode, t.shown)}
        slots = list(form.slots)
        for name, param in params.items():
            value = request.params[name] if name in request.params else param.default
            slots[panels.slot_of(param)] = panels.display_value(param, value)
        updates = self.refresh(form.with_panel(panels.context(model, t.mode, t.shown), slots), t)
        updates.update({
            p.model: model.id,
            p.mode: gr.update(choices=catalog_view.mode_choices(model, t.backend), value=t.mode),
            p.backend: gr.update(choices=catalog_view.backend_choices(model, t.health), value=t.backend),
            p.prompt: {**updates[p.prompt], "value": form.prompt},
            p.negative: {**updates[p.negative], "value": form.negative_prompt},
            p.seed: clamp_seed(request.seed) if request.seed is not None else gr.update(),
            p.random_seed: request.seed is None,
        })
        if t.mode == I2I:
            updates[p.refs] = {**updates[p.refs], "value": numbered(images)}
        skipped = sorted(set(request.params) - set(params))
        return Loaded(updates, editor, skipped, t)

    def _panel_updates(self, model: Any, mode: str, shown: str, form: Form) -> tuple[dict[Any, Any], list[Any]]:
        """Slot updates for the panel of `model` in `mode` on `shown`, and the slot values after them."""
        p = self.page
        values = panels.next_values(model, mode, shown, form.ctx, form.slots)
        params = {panels.slot_of(param): param for param in panels.panel_params(model, mode, shown)}
        slot_values = list(form.slots)
        updates: dict[Any, Any] = {}
        for index, component in enumerate(p.slots):
            if index in params:
                updates[component] = gr.update(**panels.slot_props(params[index], values[index]))
                slot_values[index] = values[index]
            else:
                updates[component] = gr.update(visible=False)
        updates[p.advanced] = gr.update(visible=any(param.advanced for param in params.values()))
        return updates, slot_values

    def update_estimate(self, data: dict[Any, Any]) -> str:
        """The estimate line, recomputed when an input that changes the price or the checks changes."""
        return self.estimate_text(self.form(data))

    def estimate_text(self, form: Form, planned: dict[str, Any] | None = None) -> str:
        """Markdown: where a run would go and what it would cost, and what to fix before running."""
        problems: list[Problem] = []
        info: dict[str, Any] | None = None
        try:
            request = form.request()
            info = service.estimate(request, form.keys())
        except ValidationError as err:
            # Not yet filled in is not a mistake: the prompt's label says it is required, the mask is painted last.
            problems = [pr for pr in err.problems
                        if pr.field != "mask" and not (pr.field == "prompt" and not form.prompt.strip())]
            if not problems:
                info = service.estimate_unfinished(form.request(), form.keys())
        except Exception:  # noqa: BLE001 - an estimate must never break the page
            service.log.exception("estimate failed")
        if info is None:
            try:
                info = planned or _plan(service.skeleton(form.model, form.mode, form.backend), form.keys())
            except ValidationError:
                info = {}
        backend = info.get("backend")
        cost = info.get("cost_usd", info.get("cost"))
        if backend:
            label = catalog_view.BACKEND_LABELS.get(backend, backend)
            line = f"**Estimate:** runs on **{label}** · {service.cost_text(cost, backend)}"
            if info.get("output_size"):
                line += f" · output size **{info['output_size']}**"
        else:
            line = "**Estimate:** no backend can run this now (see why under *Backend*)."
        if problems:
            fixes = "\n".join(f"- {pr}" for pr in problems)
            line += f"\n\n**Before running:**\n{fixes}"
        return line

    def load_example(self, data: dict[Any, Any], label: str) -> dict[Any, Any]:
        """Set every control to the clicked example (like loading a preset)."""
        p = self.page
        request, editor = samples.example_request(label)
        loaded = self.load_request(data, request)
        return {**loaded.updates, p.pending_editor: editor or loaded.editor,
                p.status: "**Loaded the example.** Press **Run**, or change something first."}

    # -- Modify / Copy -----------------------------------------------------------------------------
    def edit_style(self, data: dict[Any, Any]) -> dict[Any, Any]:
        """Set the controls the chosen edit style drives (`request.EDIT_STYLE_DEFAULTS`): Copy's values, or
        back to the defaults for Modify."""
        p = self.page
        ctx = data[p.ctx] or {}
        model = catalog_view.get(ctx.get("model"))
        mode, backend = ctx.get("mode", I2I), ctx.get("backend", model.backends[0])
        style_slot = next((p.slots[i] for i, s in enumerate(panels.SLOTS) if s.name == "edit_style"), None)
        style = data.get(style_slot, "modify") if style_slot is not None else "modify"
        values = panels.edit_style_values(model, mode, backend, style)
        return {p.slots[i]: gr.update(value=v) for i, v in values.items()}

    # -- running -----------------------------------------------------------------------------------
    async def run_from_page(self, data: dict[Any, Any], progress: gr.Progress = gr.Progress()):  # noqa: B008
        """Validate and run; stream the status, then the results (or the error, readable)."""
        p = self.page
        form = self.form(data)
        # Nothing of the previous run stays on screen as if it described this one.
        cleared = {p.seed_used: None, p.backend_used: "", p.record: None}
        yield {**cleared, p.status: "Running…"}
        try:
            outcome = await service.run(form.request(), form.keys(), progress, file_format=form.file_format())
        except Exception as err:  # noqa: BLE001 - shown to the visitor, never as a traceback
            title, message = service.describe_error(err)
            tip = f"\n\n{MASK_TIP}" if _mask_problem(err) else ""
            yield {**cleared, p.status: _status_error(title, message) + tip}
            raise gr.Error(message + (f" {MASK_TIP}" if tip else ""), title=title, print_exception=False) from None
        result = outcome.result
        captions = [f"seed {s}" for s in result.seeds] + [""] * len(outcome.files)
        label = catalog_view.BACKEND_LABELS.get(outcome.backend, outcome.backend)
        ran_on = f"{label} · {result.endpoint}" if result.endpoint else label
        yield {
            p.results: list(zip(outcome.files, captions, strict=False)),
            p.seed_used: outcome.seed,
            p.backend_used: ran_on,
            p.record: outcome.record,
            p.last_seed: outcome.seed,
            p.status: _status_done(outcome),
        }

    @staticmethod
    def cancelled() -> str:
        return "**Cancelled.** The backend was told to stop."

    # -- seeds -------------------------------------------------------------------------------------
    @staticmethod
    def reuse_seed(last_seed: int | None) -> tuple[Any, Any]:
        if last_seed is None:
            gr.Warning("No run yet in this session: run once, then reuse its seed.")
            return gr.update(), gr.update()
        return clamp_seed(last_seed), False

    # -- reference images --------------------------------------------------------------------------
    @staticmethod
    def select_index(evt: gr.SelectData) -> int:
        return int(evt.index) if isinstance(evt.index, int) else int(evt.index[0])

    def limit_refs(self, data: dict[Any, Any]) -> Any:
        """Keep at most the model's number of reference images (the first ones), and say so."""
        p = self.page
        model = catalog_view.get(data[p.model])
        mode = data[p.mode]
        backend = data[p.backend]
        paths = gallery_paths(data[p.refs])
        limit = model.max_images(mode, None if backend in ("auto", None) else backend) if mode in model.modes else 0
        if limit and len(paths) > limit:
            gr.Warning(f"{model.label} takes at most {limit} reference image(s) here; kept the first {limit}.")
            paths = paths[:limit]
        return numbered(paths)

    @staticmethod
    def move_ref(refs: Any, selected: int | None, delta: int) -> tuple[Any, Any]:
        paths = gallery_paths(refs)
        if selected is None or not 0 <= selected < len(paths):
            gr.Warning("Click a reference image first, then move it.")
            return gr.update(), selected
        target = min(max(selected + delta, 0), len(paths) - 1)
        paths.insert(target, paths.pop(selected))
        return numbered(paths), target

    @staticmethod
    def remove_ref(refs: Any, selected: int | None) -> tuple[Any, Any]:
        paths = gallery_paths(refs)
        if selected is None or not 0 <= selected < len(paths):
            gr.Warning("Click a reference image first, then remove it.")
            return gr.update(), selected
        paths.pop(selected)
        return numbered(paths), None

    @staticmethod
    def renumber_refs(refs: Any) -> tuple[Any, Any]:
        """The reference images left after one was removed with its ✕, numbered from 1 again (and no
        selection, since the indices moved)."""
        return numbered(gallery_paths(refs)), None

    # -- results -----------------------------------------------------------------------------------
    def send_to_input(self, data: dict[Any, Any]) -> dict[Any, Any]:
        """Continue from a result: it becomes the reference image (edit) or the image to inpaint."""
        p = self.page
        paths = gallery_paths(data[p.results])
        if not paths:
            gr.Warning("Run something first: there is no result to send.")
            return {}
        index = data[p.result_selected] or 0
        path = paths[index if 0 <= index < len(paths) else 0]
        model = catalog_view.get(data[p.model])
        mode = data[p.mode]
        if mode == INPAINT or (mode != I2I and I2I not in model.modes and INPAINT in model.modes):
            return {p.mode: INPAINT, p.editor: {"background": path, "layers": [], "composite": path}}
        if I2I in model.modes:
            return {p.mode: I2I, p.refs: numbered([path])}
        gr.Warning(f"{model.label} takes no input image. Pick an editing model (for example FLUX.2 [dev] or "
                   f"FLUX.1 Kontext) to continue from this result.")
        return {}

    # -- keys in the browser -----------------------------------------------------------------------
    @staticmethod
    def restore_keys(saved: dict[str, str] | None) -> tuple[Any, Any, Any]:
        saved = saved if isinstance(saved, dict) else {}
        if not saved:
            return gr.update(), gr.update(), gr.update()
        return saved.get("fal", ""), saved.get("replicate", ""), True

    @staticmethod
    def save_keys(remember: bool, fal_key: str, replicate_key: str) -> dict[str, str]:
        return {"fal": fal_key or "", "replicate": replicate_key or ""} if remember else {}


def numbered(paths: list[str]) -> list[tuple[str, str]]:
    """Reference images captioned as prompts name them: "image 1", "image 2", ..."""
    return [(path, f"image {i}") for i, path in enumerate(paths, start=1)]


def _editor_value(background: str, mask: Any) -> dict[str, Any]:
    """An ImageEditor value: `background` with `mask` (a path or image; white = repaint) as a
    painted layer in the brush colour, and the composite showing it."""
    with Image.open(background) as img:
        picture = img.convert("RGBA")
    value: dict[str, Any] = {"background": background, "layers": [], "composite": background}
    if mask is None:
        return value
    alpha = load_mask(mask, picture.size).image
    layer = Image.new("RGBA", picture.size, (*MASK_COLOR, 0))
    layer.putalpha(alpha)
    folder = fresh_folder(SCRATCH_DIR_NAME)
    layer_path, composite_path = folder / "mask-layer.png", folder / "composite.png"
    layer.save(layer_path)
    Image.alpha_composite(picture, layer).convert("RGB").save(composite_path)
    return {"background": background, "layers": [str(layer_path)], "composite": str(composite_path)}


def fill_editor(value: dict[str, Any] | None) -> Any:
    """The inpaint editor's value, set once the editor is on screen (a hidden editor drops layers)."""
    return value if value else gr.update()


def _plan(prepared: Any, keys: dict[str, str]) -> dict[str, Any]:
    try:
        return backends.plan(prepared, keys)
    except Exception:  # noqa: BLE001 - a plan only informs the page
        service.log.exception("plan failed")
        return {"backend": None, "ready": False, "cost": None, "passed": []}


def _input_updates(p: Page, model: Any, mode: str, shown: str) -> dict[Any, Any]:
    """The inputs the mode needs (reference images, the inpaint editor) and the prompt fields."""
    default_negative = model.default_negative.get(mode, "")
    return {
        p.refs_group: gr.update(visible=mode == I2I),
        p.refs: gr.update(label=f"Reference images: {model.modes[mode].description or 'the image to edit'}"),
        p.inpaint_group: gr.update(visible=True if mode == INPAINT else "hidden"),
        p.negative: gr.update(visible=shown in model.negative_prompt, placeholder=(
            f"Empty uses the default: {default_negative}" if default_negative else "What to avoid")),
        p.prompt: gr.update(max_length=model.prompt_max, label=_prompt_label(model, mode),
                            placeholder=_prompt_placeholder(mode)),
    }


def _prompt_label(model: Any, mode: str) -> str:
    need = "optional" if not model.prompt_required else "required"
    what = "Prompt" if mode == "text-to-image" else "Instruction / prompt"
    return f"{what} ({need}, up to {model.prompt_max} characters)"


def _prompt_placeholder(mode: str) -> str:
    if mode == I2I:
        return "Describe the change, e.g. “make it a watercolor” or “put the cat from image 1 on the sofa of image 2”"
    if mode == INPAINT:
        return "Describe what to paint in the masked area, e.g. “a full moon”"
    return "Describe the image, e.g. “a lighthouse on a cliff at dusk, oil painting”"


def _status_error(title: str, message: str) -> str:
    """Markdown for the status line: the title in bold, then the message (its own title not repeated)."""
    head, sep, rest = message.partition(":")
    if sep and head.startswith(title):
        return f"**{head}:**{rest}"
    return f"**{title}:** {message}"


def _status_done(outcome: service.Outcome) -> str:
    result = outcome.result
    label = catalog_view.BACKEND_LABELS.get(outcome.backend, outcome.backend)
    count = len(outcome.files)
    text = (f"**Done:** {count} image{'s' if count != 1 else ''} in {outcome.seconds:.1f} s on **{label}** · "
            f"seed {outcome.seed}")
    if result.cost:
        text += f" · estimated {service.dollars(result.cost)}"
    skipped = [t for t in result.tried if t.get("outcome") != "ran"]
    if skipped:
        text += "\n\n" + "\n".join(f"- auto passed over {t['backend']}: {t['reason']}" for t in skipped)
    if outcome.warnings:
        text += "\n\n" + "\n".join(f"- Warning: {w}" for w in outcome.warnings)
    return text


def _mask_problem(err: BaseException) -> bool:
    return isinstance(err, ValidationError) and any(pr.field == "mask" for pr in err.problems)
