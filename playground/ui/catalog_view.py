"""What the page says about the catalog: picker labels, model cards, mode and backend names.

Pure functions over `playground.catalog`; no Gradio here, so they are cheap to test.
"""

from __future__ import annotations

from typing import Any

from playground.catalog import FAMILIES, MODELS, HostedRoute, ModelSpec, models_by_family

MODE_LABELS: dict[str, str] = {
    "text-to-image": "Text to image",
    "image-to-image": "Edit (image to image)",
    "inpaint": "Inpaint",
}
BACKEND_LABELS: dict[str, str] = {"auto": "Auto", "local": "Local", "fal": "fal", "replicate": "Replicate"}
DEFAULT_MODEL = "flux-2-dev"


def model_choices() -> list[tuple[str, str]]:
    """(label, id) pairs for the model picker, grouped by family in catalog order."""
    return [(f"{FAMILIES[family]} › {model.label}", model.id)
            for family, models in models_by_family().items() for model in models]


def mode_choices(model: ModelSpec, backend: str = "auto") -> list[tuple[str, str]]:
    """The modes `model` has (on `backend`, unless auto), as (label, id) pairs."""
    modes = model.modes if backend in ("auto", None) else model.modes_on(backend)
    return [(MODE_LABELS.get(m, m), m) for m in model.modes if m in modes]


def backend_choices(model: ModelSpec, health: dict[str, tuple[bool, str]] | None = None) -> list[tuple[str, str]]:
    """auto plus the model's backends; a backend that cannot run now says so in its label."""
    choices = [(BACKEND_LABELS["auto"], "auto")]
    for name in model.backends:
        mark = ""
        if health is not None and name in health:
            mark = "" if health[name][0] else " (unavailable)"
        choices.append((BACKEND_LABELS[name] + mark, name))
    return choices


def price_text(model: ModelSpec, backend: str) -> str:
    """A short price note for one backend of the model."""
    if backend == "local":
        return "free on your own hardware"
    price = model.price(backend)
    return price.describe() if price else "price not published"


def model_card(model: ModelSpec) -> str:
    """Markdown: what the model is, its modes, and where it runs at what price."""
    modes = ", ".join(_mode_text(model, m) for m in model.modes)
    rows = "\n".join(f"| {BACKEND_LABELS[b]} | {', '.join(MODE_LABELS[m] for m in model.modes_on(b))} "
                     f"| {price_text(model, b)} |" for b in model.backends)
    return (f"**{model.label}** · `{model.id}` · {FAMILIES[model.family]}\n\n{model.description}\n\n"
            f"**Modes:** {modes}\n\n**LoRA adapters:** {lora_text(model)}\n\n"
            f"| Runs on | Modes | Price |\n|---|---|---|\n{rows}")


def lora_text(model: ModelSpec) -> str:
    """Where the model takes LoRA adapters, with each route's limits, or that it takes none."""
    param = model.param("loras")
    takers = [b for b in model.backends if param is not None and param.applies(backend=b)]
    if not takers:
        return "not supported by any of its backends"
    parts = []
    for backend in takers:
        spec = param.for_backend(backend)
        parts.append(f"{BACKEND_LABELS[backend]} (up to {spec.max_items}, scale {spec.min:g} to {spec.max:g})")
    return ", ".join(parts)


def catalog_markdown() -> str:
    """Every model, grouped by family: description, modes, backends and prices (the Models tab)."""
    parts = []
    for family, models in models_by_family().items():
        parts.append(f"## {FAMILIES[family]}")
        rows = ["| Model | What it does | Modes | Runs on (price) |", "|---|---|---|---|"]
        for m in models:
            where = "; ".join(f"{BACKEND_LABELS[b]} ({price_text(m, b)})" for b in m.backends)
            modes = ", ".join(MODE_LABELS[x] for x in m.modes)
            rows.append(f"| **{m.label}**<br>`{m.id}` | {m.description} | {modes} | {where} |")
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


def availability_markdown(model: ModelSpec, health: dict[str, tuple[bool, str]]) -> str:
    """One line per backend: available now, or why not."""
    lines = []
    for name in model.backends:
        ok, why = health.get(name, (False, "unknown"))
        state = "ready" if ok else "unavailable"
        lines.append(f"- **{BACKEND_LABELS[name]}** ({state}): {why}")
    return "\n".join(lines)


def panel_header(model: ModelSpec, shown: str, backend: str, planned: dict[str, Any] | None = None) -> str:
    """Markdown above the parameters: which model, on which backend, and why that one under auto."""
    label = BACKEND_LABELS[shown]
    if backend == "auto":
        why = "auto would use it now" if planned and planned.get("backend") == shown else "auto tries it first"
        label = f"{label} ({why})"
    text = f"### Parameters · {model.label} on {label}\nDefaults are filled in; only values you change are sent."
    route = model.routes.get(shown)
    if isinstance(route, HostedRoute) and not route.honours_seed:
        text += (f"\n\n**Seed: not used.** {label.split(' (')[0]} takes no seed for this model, so the seed is "
                 f"not sent and the result cannot be reproduced from it.")
    return text


def get(model_id: str | None) -> ModelSpec:
    """The model for a picker value (the default model when the value is unknown)."""
    return MODELS.get(model_id or "", MODELS[DEFAULT_MODEL])


def _mode_text(model: ModelSpec, mode: str) -> str:
    spec = model.modes[mode]
    if spec.max_images > 1:
        return f"{MODE_LABELS[mode]} (up to {spec.max_images} reference images)"
    return MODE_LABELS[mode]
