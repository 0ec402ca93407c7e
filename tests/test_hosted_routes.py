"""Every hosted route of every catalog model runs once through the real clients against the emulator.

The emulator checks each payload against what the real endpoint accepts (field names, types,
ranges, image field shape) and answers 422 otherwise, so a catalog route that builds a wrong
payload fails here.
"""

from __future__ import annotations

import pytest

from playground import backends
from playground.catalog import MODELS, HostedRoute
from playground.request import Request
from tests.conftest import make_image, make_mask
from tests.emulator import fake_version_id

ROUTES = [
    pytest.param(model.id, backend, mode, id=f"{model.id}-{backend}-{mode}")
    for model in MODELS.values()
    for backend in ("fal", "replicate")
    if isinstance(model.routes.get(backend), HostedRoute)
    for mode in model.modes_on(backend)
]


def request_for(model_id: str, backend: str, mode: str) -> Request:
    model = MODELS[model_id]
    images = []
    if mode != "text-to-image":
        # two distinct references where the route takes several, to exercise list-shaped fields
        wanted = min(2, model.max_images(mode, backend))
        images = [make_image(512, 512, pattern=i) for i in range(wanted)]
    return Request(model=model_id, mode=mode, prompt="a lighthouse on a cliff", images=images,
                   mask=make_mask(512, 512) if mode == "inpaint" else None, seed=1234, backend=backend)


@pytest.mark.parametrize(("model_id", "backend", "mode"), ROUTES)
def test_route_runs_through_the_real_client(hosted, monkeypatch, model_id, backend, mode):
    monkeypatch.setenv("PLAYGROUND_ENABLE_SEEDEDIT_FAL", "1")
    request = request_for(model_id, backend, mode)
    result = backends.run(request, keys={backend: "test-route-key"})
    route = MODELS[model_id].routes[backend]
    assert result.backend == backend and result.images
    assert all(image.size[0] > 0 for image in result.images)
    assert result.native["prompt"] == "a lighthouse on a cliff"
    if route.honours_seed:
        assert result.native[route.seed_field] == 1234
    else:  # the provider takes no seed: none is sent, and the record says the output is not reproducible
        assert "seed" not in result.native
        assert any("not reproducible from its seed" in w for w in result.warnings), result.warnings
    submitted = [r for r in hosted.emulator.requests if r["phase"] == "submit"]
    assert len(submitted) == 1 and submitted[0]["status"] in (200, 201)
    sent = submitted[0]["json"]
    if backend == "replicate":
        sent = sent["input"]
        expected = route.version or fake_version_id(route.endpoint(mode))
        assert result.model_version == expected
    field = route.image_fields.get(mode)
    if field is not None:
        value = sent[field.name]
        assert isinstance(value, str if field.shape == "single" else list)
        refs = [value] if field.shape == "single" else value
        assert all(ref.startswith("data:image/png;base64,") for ref in refs)
    assert result.endpoint.split(":")[0] == route.endpoint(mode)
    assert result.tried == [{"backend": backend, "outcome": "ran",
                             "reason": f"{'fal' if backend == 'fal' else 'Replicate'} key present"}]
