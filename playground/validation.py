"""Validation in one place: a Request becomes a Prepared request, or every problem at once.

Checks: unknown model, unknown mode or backend, a mode the model or backend lacks, unknown or
misplaced parameters, wrong types, out-of-range values, prompts that are missing or too long, a
negative prompt the model cannot take, too many or too few images, a missing or mismatched mask,
and unreadable images. Each problem names the field, the value and what is allowed.
"""

from __future__ import annotations

from typing import Any

from playground.adapters import LORA_PARAM, path_problems
from playground.catalog import BACKENDS, INPUT_FIELDS, HostedRoute, ModelSpec, get_model
from playground.images import InputImage, Limits, dedupe, load_image, load_mask
from playground.params import Param, Problem, ValidationError, parse_size
from playground.request import EDIT_STRENGTH, Prepared, Request, draw_seed, resolve_edit_style
from playground.speed import SpeedSettings

# Refuse absurd image lists before decoding anything.
MAX_IMAGES_SUBMITTED = 50


def validate(request: Request, backend: str | None = None, limits: Limits | None = None) -> Prepared:
    """Check `request` for `backend` (default: the request's own preference) and resolve it.

    With "auto", parameters are checked against what any backend of the model accepts; call
    `for_backend` to narrow a Prepared request to the backend that will run it.
    """
    target = backend or request.backend or "auto"
    model = get_model(request.model)  # an unknown model stops here: nothing else can be checked
    problems: list[Problem] = []
    target = _check_backend(model, target, problems)
    mode = _check_mode(model, request.mode, target, problems)
    prompt = _check_prompt(model, request.prompt, request.params, problems)
    explicit = _check_params(model, request.params, mode, target, problems)
    problems.extend(path_problems(explicit.get(LORA_PARAM), target, shape=_lora_shape(model, target)))
    seed = _check_seed(request.seed, problems)
    images, image_map, mask = _check_images(model, mode, target, request.images, request.mask, problems,
                                            limits or Limits.from_env())
    _check_negative(model, request.negative_prompt, target, problems)
    speed = _check_speed(request.speed, problems)
    if problems:
        raise ValidationError(problems)
    params = follow_input_size(model, mode, target, resolve_params(model, mode, target, explicit), explicit, images)
    return Prepared(
        model=model,
        mode=mode,
        prompt=prompt,
        negative_prompt=_negative_for(model, mode, target, request.negative_prompt, params),
        images=images,
        mask=mask,
        params=params,
        explicit=explicit,
        seed=draw_seed() if seed is None else seed,
        seed_drawn=seed is None,
        backend=target,
        image_map=image_map,
        negative_prompt_given=request.negative_prompt,
        speed=speed,
    )


def _lora_shape(model: ModelSpec, backend: str) -> str | None:
    """How adapters travel on `backend`'s route (None for local and "auto")."""
    route = model.routes.get(backend)
    return route.lora_shape if isinstance(route, HostedRoute) else None


def _check_speed(speed: Any, problems: list[Problem]) -> dict[str, Any] | None:
    """The request's local speed settings, checked (only the keys given; None when none)."""
    if not speed:
        return None
    try:
        checked = SpeedSettings().merged(speed)
    except ValidationError as err:
        problems.extend(err.problems)
        return None
    return {name: getattr(checked, name) for name in speed}


def for_backend(prepared: Prepared, backend: str) -> Prepared:
    """Re-check and re-resolve an already validated request for one concrete backend."""
    model, problems = prepared.model, []
    _check_backend(model, backend, problems)
    if not problems and prepared.mode not in model.modes_on(backend):
        problems.append(Problem("mode", prepared.mode, f"on {backend}: one of {', '.join(model.modes_on(backend))}"))
    explicit = _check_params(model, prepared.explicit, prepared.mode, backend, problems)
    problems.extend(path_problems(explicit.get(LORA_PARAM), backend, shape=_lora_shape(model, backend)))
    limit = model.max_images(prepared.mode, backend)
    if len(prepared.images) > limit:
        problems.append(Problem("images", f"{len(prepared.images)} images", f"at most {limit} on {backend}"))
    _check_negative(model, prepared.negative_prompt_given, backend, problems)
    if problems:
        raise ValidationError(problems)
    params = follow_input_size(model, prepared.mode, backend, resolve_params(model, prepared.mode, backend, explicit),
                               explicit, prepared.images)
    return Prepared(
        model=model, mode=prepared.mode, prompt=prepared.prompt,
        negative_prompt=_negative_for(model, prepared.mode, backend, prepared.negative_prompt_given, params),
        images=prepared.images, mask=prepared.mask, params=params, explicit=explicit, seed=prepared.seed,
        seed_drawn=prepared.seed_drawn, backend=backend, image_map=prepared.image_map,
        negative_prompt_given=prepared.negative_prompt_given, speed=prepared.speed,
    )


def resolve_params(model: ModelSpec, mode: str, backend: str, explicit: dict[str, Any]) -> dict[str, Any]:
    """Every parameter of the mode on the backend: the user's value, else the backend's default."""
    specs = model.params_for(mode, None if backend == "auto" else backend)
    params = {p.name: explicit.get(p.name, p.default) for p in specs}
    if model.edit_styles and "edit_style" in params:
        params = resolve_edit_style(params, explicit)
    return params


def follow_input_size(model: ModelSpec, mode: str, backend: str, params: dict[str, Any], explicit: dict[str, Any],
                      images: list[InputImage]) -> dict[str, Any]:
    """Image modes follow the first input's size unless the visitor chose one: a default output size
    preset (say SDXL's square 1024) becomes the input's size, scaled into the allowed sides and
    rounded to the model's multiple. Resolved per concrete backend ("auto" is left as it is until
    `for_backend`). Sizes that already follow the input (None, `auto`) are left alone, and so is a
    hosted default given in pixels: such a provider sets its own area rules (Seedream's minimum)."""
    value = params.get("image_size")
    size = parse_size(value) if value is not None else None
    if backend == "auto" or not images or "image_size" in explicit or size is None or size.pixels() is None:
        return params
    spec = model.param("image_size")
    if spec is None:
        return params
    spec = spec.for_backend(backend, mode)
    if backend != "local" and size.preset is None:
        return params
    width, height = fit_size(images[0].size, spec)
    return {**params, "image_size": {"width": width, "height": height}}


def fit_size(pixels: tuple[int, int], spec: Param) -> tuple[int, int]:
    """`pixels` scaled (keeping the aspect ratio where it can) so each side lies within the
    param's min and max, and rounded to its multiple."""
    width, height = pixels
    step = spec.multiple_of or 1
    scale = 1.0
    if spec.max is not None and max(width, height) > spec.max:
        scale = spec.max / max(width, height)
    if spec.min is not None and min(width, height) * scale < spec.min:
        scale = spec.min / min(width, height)
    lo = step * -(-int(spec.min or step) // step)
    hi = step * (int(spec.max) // step) if spec.max is not None else None

    def side(n: int) -> int:
        rounded = max(step, step * round(n * scale / step))
        rounded = max(rounded, lo)
        return min(rounded, hi) if hi is not None else rounded

    return side(width), side(height)


def _check_backend(model: ModelSpec, backend: str, problems: list[Problem]) -> str:
    if backend == "auto" or backend in model.backends:
        return backend
    if backend in BACKENDS:
        allowed = f"for {model.id}: auto, " + ", ".join(model.backends)
    else:
        allowed = "one of auto, " + ", ".join(BACKENDS)
    problems.append(Problem("backend", backend, allowed))
    return "auto"


def _check_mode(model: ModelSpec, mode: str, backend: str, problems: list[Problem]) -> str:
    if mode not in model.modes:
        problems.append(Problem("mode", mode, f"for {model.id}: one of {', '.join(model.modes)}"))
        return next(iter(model.modes))
    if backend != "auto" and mode not in model.modes_on(backend):
        served = ", ".join(model.modes_on(backend))
        problems.append(Problem("mode", mode, f"for {model.id} on {backend}: one of {served}"))
    return mode


def _check_prompt(model: ModelSpec, prompt: Any, params: dict[str, Any], problems: list[Problem]) -> str:
    if prompt is None:
        prompt = ""
    if not isinstance(prompt, str):
        problems.append(Problem("prompt", prompt, "text"))
        return ""
    if len(prompt) > model.prompt_max:
        problems.append(Problem("prompt", f"{len(prompt)} characters", f"at most {model.prompt_max} characters"))
    copying = isinstance(params, dict) and params.get("edit_style") == "copy"
    if model.prompt_required and not prompt.strip() and not copying:
        problems.append(Problem("prompt", prompt, f"a non-empty prompt (required by {model.id})"))
    return prompt


def _check_params(model: ModelSpec, given: Any, mode: str, backend: str, problems: list[Problem]) -> dict[str, Any]:
    if given is None:
        return {}
    if not isinstance(given, dict):
        problems.append(Problem("params", given, "an object of parameter names to values"))
        return {}
    concrete = None if backend == "auto" else backend
    accepted = [p.name for p in model.params_for(mode, concrete)]
    explicit: dict[str, Any] = {}
    for name, value in given.items():
        field = f"params.{name}"
        if name in INPUT_FIELDS:
            problems.append(Problem(field, value, f"{name} goes in its own field, not in params"))
            continue
        spec: Param | None = model.param(name)
        if name == "strength" and _edit_strength_applies(model, mode, concrete):
            spec = EDIT_STRENGTH
        if spec is not None:
            spec = spec.for_backend(concrete, mode)
        if spec is None:
            problems.append(Problem(field, value, f"a parameter of {model.id} in {mode}: {', '.join(accepted)}"))
            continue
        if not spec.applies(mode=mode):
            problems.append(Problem(field, value, f"not used in {mode}; used in {', '.join(sorted(spec.modes or ()))}"))
            continue
        if concrete and not spec.applies(backend=concrete):
            problems.append(Problem(field, value, f"not accepted by {concrete}; accepted by "
                                                  f"{', '.join(sorted(spec.backends or ()))}"))
            continue
        if value is None:
            continue
        try:
            explicit[name] = spec.coerce(value, field)
        except ValidationError as err:
            problems.extend(err.problems)
    if "strength" in explicit and _edit_strength_applies(model, mode, concrete):
        _check_edit_strength(explicit, problems)
    return explicit


def _edit_strength_applies(model: ModelSpec, mode: str, backend: str | None) -> bool:
    """Whether `strength` is the native alternative to reference strength here (Modify/Copy modes)."""
    style = model.param("edit_style")
    return bool(model.edit_styles and style is not None and style.applies(mode=mode)
                and (backend is None or style.applies(backend=backend)))


def _check_edit_strength(explicit: dict[str, Any], problems: list[Problem]) -> None:
    strength = explicit["strength"]
    if "reference_strength" in explicit:
        problems.append(Problem("params.strength", strength, "either strength (denoising strength) or "
                                "reference_strength (= 1 - strength), not both"))
    if explicit.get("edit_style") == "copy":
        problems.append(Problem("params.strength", strength, "no strength with edit_style copy (Copy sets the "
                                "denoising strength itself, at most 0.05); use edit_style modify"))


def _check_seed(seed: Any, problems: list[Problem]) -> int | None:
    """None, "" and -1 mean "draw a random seed"."""
    if seed is None or seed == "" or (seed == -1 and not isinstance(seed, bool)):
        return None
    try:
        return Param("seed", "seed").coerce(seed)
    except ValidationError:
        problems.append(Problem("seed", seed, Param("seed", "seed").allowed() + " (or -1 for random)"))
        return None


def usable_side(model: ModelSpec, mode: str, backend: str) -> int | None:
    """The longest image side `model` can produce in `mode` on `backend` (on `auto`, on any of its
    backends): input images larger than this carry pixels no route can use. None when a backend
    sizes its output otherwise (aspect ratio, resolution names), so no such bound is known."""
    size = model.param("image_size")
    if size is None:
        return None
    sides = []
    for name in model.backends if backend == "auto" else (backend,):
        if mode not in model.modes_on(name):
            continue
        narrowed = size.for_backend(name, mode)
        if not narrowed.applies(mode, name) or narrowed.max is None:
            return None
        sides.append(int(narrowed.max))
    return max(sides) if sides else None


def _check_images(model: ModelSpec, mode: str, backend: str, given: Any, mask_value: Any, problems: list[Problem],
                  limits: Limits) -> tuple[list[InputImage], list[int], InputImage | None]:
    given = [] if given is None else given
    if not isinstance(given, (list, tuple)):
        given = [given]
    spec = model.modes.get(mode)
    if spec is None:
        return [], [], None
    limit = model.max_images(mode, None if backend == "auto" else backend)
    if spec.max_images == 0 and given:
        problems.append(Problem("images", f"{len(given)} images", f"none in {mode} for {model.id}"))
        return [], [], None
    if len(given) > MAX_IMAGES_SUBMITTED:
        problems.append(Problem("images", f"{len(given)} images", f"at most {limit} for {model.id} in {mode}"))
        return [], [], None
    loaded: list[InputImage] = []
    fit = usable_side(model, mode, backend)
    for i, value in enumerate(given):
        try:
            loaded.append(load_image(value, f"images[{i}]", limits, fit))
        except ValidationError as err:
            problems.extend(err.problems)
    images, image_map = dedupe(loaded)
    if len(loaded) == len(given):
        if len(images) > limit:
            shown = f"{len(images)} distinct images" if len(images) < len(given) else f"{len(images)} images"
            problems.append(Problem("images", shown, f"at most {limit} for {model.id} in {mode}"
                                                     + ("" if backend == "auto" else f" on {backend}")))
        elif len(images) < spec.min_images:
            problems.append(Problem("images", f"{len(images)} images",
                                    f"at least {spec.min_images} for {model.id} in {mode}"))
    mask = None
    if mode == "inpaint":
        if mask_value is None:
            problems.append(Problem("mask", None, "a mask image (white = area to repaint) in inpaint mode"))
        elif images:
            try:
                mask = load_mask(mask_value, images[0].size, "mask", limits)
            except ValidationError as err:
                problems.extend(err.problems)
    elif mask_value is not None:
        problems.append(Problem("mask", "a mask", "a mask only in inpaint mode"))
    return images, image_map, mask


def _check_negative(model: ModelSpec, negative: Any, backend: str, problems: list[Problem]) -> None:
    if negative is None or negative == "":
        return
    if not isinstance(negative, str):
        problems.append(Problem("negative_prompt", negative, "text"))
        return
    if len(negative) > model.prompt_max:
        problems.append(Problem("negative_prompt", f"{len(negative)} characters", f"at most {model.prompt_max}"))
    takers = model.negative_prompt
    if (backend == "auto" and not takers) or (backend != "auto" and backend not in takers):
        where = f"on {backend}" if backend != "auto" else ""
        allowed = f"accepted by {model.id} only on {', '.join(sorted(takers))}" if takers else \
            f"none: {model.id} takes no negative prompt"
        problems.append(Problem("negative_prompt", negative, f"{allowed} {where}".strip()))


def _negative_for(model: ModelSpec, mode: str, backend: str, given: str | None, params: dict[str, Any]) -> str:
    """The negative prompt to send: the user's, else the mode's default (never in Copy mode)."""
    if given is not None:
        return given
    takes = bool(model.negative_prompt) if backend == "auto" else backend in model.negative_prompt
    if not takes or params.get("edit_style") == "copy":
        return ""
    return model.default_negative.get(mode, "")
