"""The model catalog: every model the playground knows, declared once as data.

`MODELS` maps canonical ids to `ModelSpec`s. Families live in their own modules; this package
imports nothing heavy.
"""

from __future__ import annotations

from playground.catalog import flux1, flux2, kontext, sdxl, seedream
from playground.catalog.spec import (
    BACKENDS,
    FAMILIES,
    INPUT_FIELDS,
    MODES,
    HostedRoute,
    ImageField,
    LocalRoute,
    ModelSpec,
    ModeSpec,
    Price,
)
from playground.params import Problem, ValidationError

MODELS: dict[str, ModelSpec] = {
    m.id: m for family in (flux2, kontext, seedream, sdxl, flux1) for m in family.MODELS
}

__all__ = [
    "BACKENDS", "FAMILIES", "INPUT_FIELDS", "MODELS", "MODES", "HostedRoute", "ImageField", "LocalRoute",
    "ModelSpec", "ModeSpec", "Price", "get_model", "models_by_family",
]


def get_model(model_id: str) -> ModelSpec:
    """The spec for `model_id`, or a ValidationError naming the known ids."""
    try:
        return MODELS[model_id]
    except (KeyError, TypeError):
        raise ValidationError([Problem("model", model_id, "one of " + ", ".join(MODELS))]) from None


def models_by_family() -> dict[str, list[ModelSpec]]:
    """Models grouped by family, in catalog order."""
    grouped: dict[str, list[ModelSpec]] = {f: [] for f in FAMILIES}
    for model in MODELS.values():
        grouped[model.family].append(model)
    return {f: ms for f, ms in grouped.items() if ms}
