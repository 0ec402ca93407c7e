"""Errors a user can see, and whether `auto` dispatch may fall back after them.

`ValidationError` (in playground.params) is the user's own mistake: never a reason to fall back.
`BackendUnavailable` and `TransportError` are availability failures: `auto` moves on to the next
backend. `ProviderError` is a provider refusing or failing the job: reported, no fallback.
Messages never contain API keys.
"""

from __future__ import annotations


class PlaygroundError(Exception):
    """Base class: `str(err)` is a message fit to show to the user."""


class BackendUnavailable(PlaygroundError):
    """The backend cannot run this request here: no weights, no device, no key, unknown route."""


class TransportError(PlaygroundError):
    """The request could not reach the provider or got no usable answer (timeouts, 5xx, dropped)."""


class ProviderError(PlaygroundError):
    """The provider answered with a refusal or a failed job (bad key, 422, failed prediction)."""


class Cancelled(PlaygroundError):
    """The run was cancelled by the user or by its timeout."""
