"""MCP: with Gradio's own GRADIO_MCP_SERVER=true the app serves every public action as an MCP tool,
described by the endpoint's docstring; keys travel per call and are never logged."""

from __future__ import annotations

import asyncio
import logging

import pytest
from gradio.utils import get_function_description
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

from playground.ui import api, compare_api

SECRET = "test-MCP-SECRET-4242"
PUBLIC = {"generate": api.generate, "estimate": api.estimate, "models": api.models,
          "presets_list": api.presets_list, "presets_load": api.presets_load, "presets_save": api.presets_save,
          "presets_delete": api.presets_delete, "inspect_image": api.inspect_image, "import_image": api.import_image,
          "compare": compare_api.compare, "compare_plan": compare_api.compare_plan, "drift": compare_api.drift,
          "drift_plan": compare_api.drift_plan}


@pytest.fixture(scope="module")
def mcp_url(model_paths, tmp_path_factory):
    from tests.conftest import running_app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_MCP_SERVER", "true")
        patch.setenv("PLAYGROUND_HOME", str(tmp_path_factory.mktemp("home")))
        with running_app(model_paths) as app:
            yield app.url.rstrip("/") + "/gradio_api/mcp/"


async def _session(url: str, action):
    async with streamablehttp_client(url) as (read, write, _), ClientSession(read, write) as session:
        await session.initialize()
        return await action(session)


def test_every_public_action_is_a_tool_described_by_its_docstring(mcp_url):
    tools = asyncio.run(_session(mcp_url, lambda s: s.list_tools())).tools
    served = {tool.name: tool for tool in tools}
    assert set(PUBLIC) <= set(served), sorted(set(PUBLIC) - set(served))
    for name, fn in PUBLIC.items():
        summary, _, _ = get_function_description(fn)
        assert served[name].description.startswith(summary.split("\n")[0]), name
    generate = served["generate"].inputSchema["properties"]
    assert {"model", "prompt", "params", "fal_key", "replicate_key"} <= set(generate)
    assert "key" in generate["fal_key"].get("description", "").lower()


def test_keys_are_per_call_and_never_logged(mcp_url, caplog, capfd):
    caplog.set_level(logging.DEBUG)

    async def call(session):
        return await session.call_tool("estimate", {"model": "flux-2-pro", "prompt": "a red fox",
                                                    "backend": "fal", "fal_key": SECRET})

    result = asyncio.run(_session(mcp_url, call))
    text = " ".join(getattr(part, "text", "") for part in result.content)
    assert not result.isError and "fal" in text
    captured = capfd.readouterr()
    assert SECRET not in text and SECRET not in captured.out and SECRET not in captured.err
    # The caller's own client runs in this process too; what it logs is the caller's business.
    server_side = [r for r in caplog.records if not r.name.startswith(("mcp.client", "httpx", "httpcore"))]
    leaked = sorted({r.name for r in server_side if SECRET in r.getMessage()})
    assert leaked == []
