"""The command line on hosted backends: keys from FAL_KEY / REPLICATE_API_TOKEN, hosts from the
PLAYGROUND_*_URL settings, through the real clients and the emulator."""

from __future__ import annotations

import json

from tests.conftest import cli_in_process

cli = cli_in_process


def test_cli_runs_on_fal_with_the_operator_key(emulator, tmp_path):
    emulator.reset()
    env = {"PLAYGROUND_FAL_URL": emulator.fal_gateway_url, "FAL_KEY": "test-operator-fal"}
    done = cli("run", "--model", "flux-2-dev", "--prompt", "a lighthouse", "--backend", "fal", "--seed", "9",
               "--set", "image_size=square", "--out", str(tmp_path), "--json", env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["backend"] == "fal" and result["endpoint"] == "fal-ai/flux-2" and result["seeds"] == [9]
    assert result["native"]["image_size"] == "square" and "test-operator-fal" not in done.stdout + done.stderr
    (submit,) = [r for r in emulator.requests if r["phase"] == "submit"]
    assert submit["auth"] == "Key test-operator-fal"


def test_cli_auto_falls_back_to_replicate_and_says_why(emulator, tmp_path):
    emulator.reset()
    env = {"PLAYGROUND_FAL_URL": emulator.fal_gateway_url, "PLAYGROUND_REPLICATE_URL": emulator.replicate_url,
           "REPLICATE_API_TOKEN": "test-operator-rep"}
    done = cli("run", "--model", "flux-2-pro", "--prompt", "a lighthouse", "--out", str(tmp_path), "--json", env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [(t["backend"], t["outcome"]) for t in result["tried"]] == [("fal", "skipped"), ("replicate", "ran")]


def test_cli_without_any_key_explains_what_to_set(emulator, tmp_path):
    done = cli("run", "--model", "flux-2-pro", "--prompt", "x", "--backend", "fal", "--out", str(tmp_path),
               env={"PLAYGROUND_FAL_URL": emulator.fal_gateway_url})
    assert done.returncode == 1 and "No fal API key" in done.stderr and "Traceback" not in done.stderr
