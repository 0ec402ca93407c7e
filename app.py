"""Space entry point: build the playground's Gradio app and serve it.

    python app.py            # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT to change)

Heavy libraries (torch, diffusers, fal_client, replicate) load only when a run needs them.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from playground.ui import build_app, launch  # noqa: E402

demo = build_app()

if __name__ == "__main__":
    launch(demo)
