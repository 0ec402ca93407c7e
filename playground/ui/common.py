"""What every tab and endpoint shares: the options private events are registered with, and `door` /
`readable_errors`, the one way a failure at an endpoint or event becomes a readable error."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import gradio as gr

from playground.ui import service

# Events the page uses and the API does not show.
PRIVATE: dict[str, Any] = {"api_visibility": "private"}
# Quick private events: no queue slot to wait for, no progress overlay. (Rendered events need the queue
# too: events registered with `queue=False` are unknown to /run/predict.)
LIGHT: dict[str, Any] = {**PRIVATE, "concurrency_limit": None, "show_progress": "hidden"}
# Handlers that read the form take raw values; see playground.ui.layout for why.
RAW: dict[str, Any] = {"preprocess": False}

F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def readable_errors(title: str | None = None) -> Iterator[None]:
    """Any failure inside raised as the readable `gr.Error` every door shows (`service.app_error`):
    the problem in the user's words (titled `title` when given), or for an unexpected error its type
    only (the traceback goes to the server log). A `gr.Error` passes unchanged; cancellation is never
    caught."""
    try:
        yield
    except gr.Error:
        raise
    except Exception as err:  # noqa: BLE001 - every failure becomes a readable gr.Error
        raise service.app_error(err, title) from None


def door(fn: F) -> F:
    """`fn` with any failure raised as a readable error (see `readable_errors`).

    The wrapper is of `fn`'s kind (plain, async, generator or async generator) and keeps its name,
    signature, type hints and docstring: Gradio reads them for streaming, the API page and MCP tools.
    """
    if inspect.isasyncgenfunction(fn):
        @functools.wraps(fn)
        async def stream_door(*args: Any, **kwargs: Any) -> Any:
            with readable_errors():
                async with contextlib.aclosing(fn(*args, **kwargs)) as stream:
                    async for item in stream:
                        yield item
        return stream_door  # type: ignore[return-value]

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator_door(*args: Any, **kwargs: Any) -> Any:
            with readable_errors():
                return (yield from fn(*args, **kwargs))
        return generator_door  # type: ignore[return-value]

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_door(*args: Any, **kwargs: Any) -> Any:
            with readable_errors():
                return await fn(*args, **kwargs)
        return async_door  # type: ignore[return-value]

    @functools.wraps(fn)
    def plain_door(*args: Any, **kwargs: Any) -> Any:
        with readable_errors():
            return fn(*args, **kwargs)
    return plain_door  # type: ignore[return-value]
