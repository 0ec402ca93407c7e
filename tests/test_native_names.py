"""Native parameter names: `strength` (denoising strength) in image-to-image, the name diffusers,
AUTOMATIC1111 and the providers use, reaches the pipeline or payload unchanged; given together with
the Modify/Copy control's reference strength it is a clear error."""

from __future__ import annotations

import pytest

from playground import backends
from playground.params import ValidationError
from playground.request import Request
from playground.validation import validate
from tests.conftest import make_image

I2I = dict(mode="image-to-image", prompt="a red fox", seed=3)


def test_strength_reaches_the_local_pipeline_unchanged(local):
    request = Request(model="sdxl-base", images=[make_image()], backend="local",
                      params={"strength": 0.1234567, "num_inference_steps": 4}, **I2I)
    result = backends.run(request)
    assert result.native["strength"] == 0.1234567
    assert result.params["strength"] == 0.1234567 and result.params["reference_strength"] == 0.876543
    # Without it, the Modify control still decides (1 - reference strength).
    plain = backends.run(Request(model="sdxl-base", images=[make_image()], backend="local",
                                 params={"reference_strength": 0.8, "num_inference_steps": 4}, **I2I))
    assert plain.native["strength"] == 0.2


@pytest.mark.parametrize(("backend", "field"), [("fal", "strength"), ("replicate", "prompt_strength")])
def test_strength_reaches_the_provider_payload_unchanged(hosted, backend, field):
    request = Request(model="sdxl-base", images=[make_image(512, 512)], backend=backend,
                      params={"strength": 0.1234567}, **I2I)
    backends.run(request, keys={backend: "test-key"})
    sent = [r for r in hosted.emulator.requests if r["phase"] == "submit"][-1]["json"]
    sent = sent["input"] if backend == "replicate" else sent
    assert sent[field] == 0.1234567  # not rounded through reference strength


@pytest.mark.parametrize("model", ["sdxl-base", "sdxl-turbo"])
def test_both_names_are_a_clear_error(model):
    request = Request(model=model, images=[make_image()], params={"strength": 0.3, "reference_strength": 0.5}, **I2I)
    with pytest.raises(ValidationError) as err:
        validate(request)
    assert [str(p) for p in err.value.problems] == [
        "params.strength: got 0.3; allowed: either strength (denoising strength) or reference_strength "
        "(= 1 - strength), not both"]
    with pytest.raises(ValidationError, match="no strength with edit_style copy"):
        validate(Request(model=model, images=[make_image()], params={"strength": 0.3, "edit_style": "copy"}, **I2I))
    with pytest.raises(ValidationError, match="params.strength: got 1.5; allowed: a number from 0 to 1"):
        validate(Request(model=model, images=[make_image()], params={"strength": 1.5}, **I2I))


def test_strength_stays_unknown_where_nothing_takes_it():
    # FLUX.2's edit pipeline and endpoints have no denoising strength; the name is refused, not ignored.
    with pytest.raises(ValidationError, match="params.strength: got 0.3; allowed: a parameter of flux-2-dev"):
        validate(Request(model="flux-2-dev", images=[make_image()], params={"strength": 0.3}, **I2I))
    with pytest.raises(ValidationError, match="params.strength: got 0.3; allowed: not used in text-to-image"):
        validate(Request(model="sdxl-base", prompt="x", params={"strength": 0.3}))
