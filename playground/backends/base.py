"""What a backend is: the one interface dispatch calls, whatever runs the model.

Every backend (local diffusers, fal, Replicate, any other registered by name) answers the same
three questions with the same signatures, so dispatch never asks which one it holds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from playground.catalog import ModelSpec
from playground.request import Prepared, Result

Progress = Callable[[dict[str, Any]], None]
Keys = dict[str, str]


@runtime_checkable
class Backend(Protocol):
    """A way to run catalog models.

    `name`: the key of the model routes it serves. `uses_gpu`: its runs compute on this machine's
    accelerator (so on a ZeroGPU Space dispatch runs them inside a `spaces.GPU` allocation, where
    no progress callback, cancel event or keys cross).
    """

    name: str
    uses_gpu: bool

    def health(self, model: ModelSpec, *, keys: Keys | None = None, auto: bool = False) -> tuple[bool, str]:
        """Whether it can run `model` now, and why not. `auto`: the request let dispatch choose, so a
        backend may decline what it would only do badly (the local backend without a GPU)."""
        ...

    def run(self, prepared: Prepared, *, progress: Progress | None = None, cancel: threading.Event | None = None,
            keys: Keys | None = None) -> Result:
        """Run a request already narrowed to this backend (`validation.for_backend`); `keys` are the
        visitor's API keys per provider, `progress` receives stage events, `cancel` stops the run."""
        ...

    def estimate(self, prepared: Prepared) -> float | None:
        """Estimated dollars for running `prepared` here (None: price unknown)."""
        ...
