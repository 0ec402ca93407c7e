"""Benchmark: how fast `python app.py` serves its page, and what the API adds to a run.

1. Start-up: time from starting `python app.py` to the first HTTP 200 on its page, against a bare
   Gradio hello-world started the same way (same interpreter, same environment, interleaved runs);
   prints the medians and their ratio (target: at most 1.3).
2. Round trip: the same tiny-SDXL text-to-image request through `gradio_client` against the
   launched app versus a direct `playground.backends.run` call; prints the medians and the
   overhead (upload/queue/download/record embedding) in milliseconds and as a ratio.

    python bench/startup.py [--runs 5] [--calls 20]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

HELLO = """import gradio as gr

with gr.Blocks() as demo:
    gr.Markdown("Hello")

demo.launch(ssr_mode=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_to_first_200(script: Path, timeout_s: float = 120.0) -> float:
    """Seconds from starting `python script` to the first HTTP 200 on its page."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(script)], cwd=script.parent, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < timeout_s:
            if process.poll() is not None:
                raise RuntimeError(f"{script.name} exited with status {process.returncode} before serving")
            try:
                with urllib.request.urlopen(url, timeout=1.0) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.02)
        raise TimeoutError(f"{script.name} did not answer within {timeout_s:g} s")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def startup(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-hello-") as folder:
        hello = Path(folder) / "hello.py"
        hello.write_text(HELLO)
        app = ROOT / "app.py"
        time_to_first_200(hello)  # warm the OS file cache for both before timing
        time_to_first_200(app)
        app_times, hello_times = [], []
        for _ in range(runs):
            hello_times.append(time_to_first_200(hello))
            app_times.append(time_to_first_200(app))
    app_median, hello_median = statistics.median(app_times), statistics.median(hello_times)
    print(f"start-up to first HTTP 200, median of {runs} (interleaved):")
    print(f"  gradio hello-world: {hello_median:6.2f} s   runs: {', '.join(f'{t:.2f}' for t in hello_times)}")
    print(f"  python app.py:      {app_median:6.2f} s   runs: {', '.join(f'{t:.2f}' for t in app_times)}")
    print(f"  ratio app / hello:  {app_median / hello_median:6.2f}   (target <= 1.3)")


def round_trip(calls: int) -> None:
    from gradio_client import Client

    from playground import backends
    from playground.backends.local import LocalBackend, LocalSettings
    from playground.request import Request
    from playground.ui import build_app, launch
    from tests.tiny_pipelines import build_sdxl

    folder = build_sdxl(Path(tempfile.mkdtemp(prefix="bench-sdxl-")) / "sdxl")
    backends.set_backend("local", LocalBackend(LocalSettings(model_paths={"sdxl-base": str(folder)}, device="cpu")))
    params = {"image_size": "64x64", "num_inference_steps": 4}
    request = Request(model="sdxl-base", prompt="a lighthouse at dusk", params=params, seed=1, backend="local")
    demo = build_app()
    launch(demo, server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False, download_files=tempfile.mkdtemp(prefix="bench-downloads-"))

        def api_call() -> None:
            client.predict(model="sdxl-base", prompt=request.prompt, params=params, seed=1, backend="local",
                           api_name="/generate")

        def direct_call() -> None:
            backends.run(request)

        api_call()  # load the pipeline and warm both paths
        direct_call()
        api_times, direct_times = [], []
        for _ in range(calls):
            for fn, times in ((direct_call, direct_times), (api_call, api_times)):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
    finally:
        demo.close()
    api_median, direct_median = statistics.median(api_times), statistics.median(direct_times)
    print(f"tiny SDXL 64x64, 4 steps, {calls} calls each (interleaved):")
    print(f"  direct backends.run:        {direct_median * 1000:8.1f} ms")
    print(f"  gradio_client /generate:    {api_median * 1000:8.1f} ms")
    print(f"  round-trip overhead:        {(api_median - direct_median) * 1000:8.1f} ms "
          f"(ratio {api_median / direct_median:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="start-ups of each app (median reported)")
    parser.add_argument("--calls", type=int, default=20, help="calls of each kind for the round trip")
    args = parser.parse_args()
    startup(args.runs)
    round_trip(args.calls)


if __name__ == "__main__":
    main()
