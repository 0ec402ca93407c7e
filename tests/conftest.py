"""Shared fixtures: offline settings, tiny random-weight pipelines saved to disk, sample images.

The tiny pipelines are built in code once per source version of tests/tiny_pipelines.py and kept
under the pytest cache, so later runs load them straight away through the real `from_pretrained`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from types import SimpleNamespace

# Before anything imports huggingface_hub: fail fast instead of hanging on the network, and use an
# empty hub cache so "weights not downloaded" is the truth in tests.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_CACHE"] = tempfile.mkdtemp(prefix="playground-empty-hub-")
os.environ.pop("PLAYGROUND_MODEL_PATHS", None)
os.environ.pop("FAL_KEY", None)
os.environ.pop("REPLICATE_API_TOKEN", None)
# Tiny pipelines run tiny tensors: torch's thread pool only spins against the app server, the
# browser and the other tests (a run on two threads costs ten times the CPU of one). Set before
# torch is imported; subprocesses (the command line tests) inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _one_certificate_bundle() -> str:
    """A CA file with certifi's first certificate. Every connection in the suite is plain HTTP to
    127.0.0.1, yet each httpx client (gradio_client opens one per call, fal_client and replicate one
    per run) loads its trust store first: certifi's whole bundle costs ~25 ms of CPU a client, about a
    tenth of the suite's Python time. Verification itself is unchanged (httpx honours SSL_CERT_FILE)."""
    import certifi

    bundle = Path(certifi.where()).read_text()
    end = bundle.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    path = Path(tempfile.mkdtemp(prefix="playground-ca-")) / "one.pem"
    path.write_text(bundle[bundle.index("-----BEGIN CERTIFICATE-----"):end] + "\n")
    return str(path)


os.environ["SSL_CERT_FILE"] = _one_certificate_bundle()

import pytest  # noqa: E402
from PIL import Image  # noqa: E402

TESTS = Path(__file__).parent
# How the suite spreads over xdist workers (tests/pytest.ini runs `-n auto --dist loadfile`).
pytest_plugins = ["tests.parallel"]
# Which tiny folder serves which catalog model.
TINY_FOR_MODEL = {
    "sdxl-base": "sdxl",
    "sdxl-turbo": "sdxl",
    "flux-kontext-dev": "kontext",
    "flux-schnell": "flux-schnell",
    "flux-2-dev": "flux2",
    "flux-2-klein-4b": "flux2-klein",
    "flux-2-klein-9b": "flux2-klein",
}


@pytest.fixture(scope="session")
def tiny_root(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders of the tiny pipelines, built once per version of tiny_pipelines.py (kept in the pytest
    cache; built afresh in a temporary folder when the cache is switched off). Parallel workers share
    one build: the first builds it under a file lock, the others wait and read it."""
    from filelock import FileLock

    from tests import tiny_pipelines

    digest = hashlib.sha256((TESTS / "tiny_pipelines.py").read_bytes()).hexdigest()[:12]
    cache = getattr(pytestconfig, "cache", None)
    name = f"tiny-pipelines-{digest}"
    if cache is not None:
        root = Path(cache.mkdir(name))
    else:
        # Under xdist each worker has its own base folder; their parent is this run's, shared.
        base = tmp_path_factory.getbasetemp()
        root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
        root.mkdir(parents=True, exist_ok=True)
    done = root / "built.json"
    with FileLock(str(root) + ".lock"):
        if not done.is_file():
            built = tiny_pipelines.build_all(root)
            done.write_text(json.dumps({k: str(v) for k, v in built.items()}))
    return {k: Path(v) for k, v in json.loads(done.read_text()).items()}


@pytest.fixture(scope="session")
def model_paths(tiny_root: dict[str, Path]) -> dict[str, str]:
    """Catalog model id → tiny folder, as PLAYGROUND_MODEL_PATHS would map them."""
    return {model: str(tiny_root[key]) for model, key in TINY_FOR_MODEL.items()}


@pytest.fixture(scope="session")
def model_paths_file(model_paths: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "model-paths.json"
    path.write_text(json.dumps(model_paths))
    return path


@pytest.fixture
def local_backend(model_paths: dict[str, str]):
    """A fresh local backend on CPU over the tiny folders (its own cache, so load counts are exact)."""
    from playground.backends.local import LocalBackend, LocalSettings

    return LocalBackend(LocalSettings(model_paths=model_paths, device="cpu", max_pipelines=2))


def make_image(width: int = 64, height: int = 64, color: tuple[int, int, int] = (200, 40, 40),
               pattern: int = 0) -> Image.Image:
    """A deterministic test picture: a colour with a diagonal pattern so it is not flat."""
    image = Image.new("RGB", (width, height), color)
    pixels = image.load()
    for y in range(height):
        for x in range(width):
            if (x + y + pattern) % 8 < 3:
                pixels[x, y] = (color[2], color[0], color[1])
    return image


def make_mask(width: int = 64, height: int = 64) -> Image.Image:
    """White square in the middle (repaint), black around it (keep)."""
    mask = Image.new("L", (width, height), 0)
    mask.paste(255, (width // 4, height // 4, 3 * width // 4, 3 * height // 4))
    return mask


@pytest.fixture(scope="session")
def emulator():
    """The fal + Replicate protocol emulator on 127.0.0.1 (random port), for the whole session."""
    from tests.emulator import ProviderEmulator

    emu = ProviderEmulator(work_seconds=0.3, queue_seconds=0.1).start()
    yield emu
    emu.stop()


@pytest.fixture
def hosted(emulator):
    """fal and Replicate backends pointed at the emulator (fast polling), installed for dispatch."""
    from types import SimpleNamespace

    from playground import backends
    from playground.backends.fal import FalBackend
    from playground.backends.hosted import HostedSettings
    from playground.backends.replicate import ReplicateBackend

    emulator.reset()
    settings = HostedSettings(fal_url=emulator.fal_gateway_url, replicate_url=emulator.replicate_url,
                              poll_interval_s=0.1, timeout_s=30.0)
    fal, replicate = FalBackend(settings), ReplicateBackend(settings)
    backends.set_backend("fal", fal)
    backends.set_backend("replicate", replicate)
    return SimpleNamespace(fal=fal, replicate=replicate, emulator=emulator, settings=settings)


@pytest.fixture
def local(local_backend):
    """The tiny local backend installed for dispatch."""
    from playground import backends

    backends.set_backend("local", local_backend)
    return local_backend


@pytest.fixture(autouse=True)
def isolated_backends():
    """Each test starts and ends with the same installed backends and fal_client settings.

    FalBackend points fal_client's module constants at its host and turns the client's own
    retries off, process-wide; tests that drive fal_client directly need its defaults back.
    """
    import fal_client.client as fcc

    from playground import backends

    names = ("MAX_ATTEMPTS", "QUEUE_URL_FORMAT", "RUN_URL_FORMAT", "REST_URL", "CDN_URL")
    saved_fal = {name: getattr(fcc, name) for name in names}
    saved = dict(backends._backends)
    yield
    backends._backends.clear()
    backends._backends.update(saved)
    for name, value in saved_fal.items():
        setattr(fcc, name, value)


def cli_in_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m playground ARGS` run by its own `main` in this process, as a fresh process would run it:
    `env` set for the call only, no backend carried over from before (each is built from the environment
    again), stdout and stderr captured. Saves starting Python and importing torch for every call; one test
    (tests/test_cli.py) runs the real `python -m playground` entry point."""
    from playground import backends
    from playground.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    saved = dict(backends._backends)
    backends._backends.clear()
    try:
        with pytest.MonkeyPatch.context() as patch, redirect_stdout(out), redirect_stderr(err):
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse's usage errors
                code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        backends._backends.clear()
        backends._backends.update(saved)
    return subprocess.CompletedProcess(["python", "-m", "playground", *args], code, out.getvalue(), err.getvalue())


@contextmanager
def running_app(model_paths: dict[str, str]) -> Iterator[SimpleNamespace]:
    """The playground app launched in this process on 127.0.0.1 (a free port), its local backend on
    the tiny pipelines (CPU). Restores the backend registry afterwards."""
    from playground import backends
    from playground.backends.local import LocalBackend, LocalSettings
    from playground.ui import build_app, launch

    saved = dict(backends._backends)
    # Every tiny model (in each dtype a speed setting asks for) stays loaded: the app's tests go back and
    # forth between models, and reloading weights each time was most of the loading work in the suite.
    local = LocalBackend(LocalSettings(model_paths=model_paths, device="cpu", max_pipelines=16))
    backends.set_backend("local", local)
    demo = build_app()
    launch(demo, server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        yield SimpleNamespace(demo=demo, url=demo.local_url, local=local)
    finally:
        demo.close()
        backends._backends.clear()
        backends._backends.update(saved)


@pytest.fixture(scope="session")
def shared_app(model_paths: dict[str, str]) -> Iterator[SimpleNamespace]:
    """One launched app for every module that takes the default `app` (started once per session, or
    per worker under xdist). Its local backend is installed only while such a module runs."""
    from playground import backends

    saved = dict(backends._backends)
    with running_app(model_paths) as running:
        backends._backends.clear()
        backends._backends.update(saved)
        yield running


@pytest.fixture(scope="module")
def app(shared_app: SimpleNamespace) -> Iterator[SimpleNamespace]:
    """The app for a test module (modules needing other settings define their own `app`): the
    session's app, its local backend installed for dispatch while the module runs."""
    from playground import backends

    saved = dict(backends._backends)
    backends.set_backend("local", shared_app.local)
    try:
        yield shared_app
    finally:
        backends._backends.clear()
        backends._backends.update(saved)


@pytest.fixture(scope="module")
def client(app, tmp_path_factory):
    """A gradio_client session on the module's app (its own session hash and download folder)."""
    from gradio_client import Client

    return Client(app.url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


# --- the browser (Debian's Chromium through Playwright; tests/test_browser.py skips without it) -----
CHROMIUM = os.environ.get("PLAYGROUND_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "browser"
# Screenshots are for a person to look at the pages (PLAYGROUND_SCREENSHOTS=1): a full-page capture costs
# Chromium about a CPU-second, so the suite otherwise takes one only of a failed test's last page.
SCREENSHOTS = os.environ.get("PLAYGROUND_SCREENSHOTS") == "1"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]


class Chromium:
    """Chromium through sync Playwright, launched on first use and kept while browser tests follow each
    other. Sync Playwright keeps this thread's asyncio loop marked as running (other tests'
    `asyncio.run()` then fails), so it is stopped before any test that does not take the browser."""

    def __init__(self) -> None:
        self.playwright = None
        self.browser = None

    def start(self):
        if self.browser is None:
            from playwright import sync_api

            # Assertions wait as long as actions do (30 s, not 5 s): with parallel workers, or on a
            # loaded machine, the page can take longer than 5 s to show what it will show.
            sync_api.expect.set_options(timeout=30_000)
            self.playwright = sync_api.sync_playwright().start()
            self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                           args=LAUNCH_ARGS)
        return self.browser

    def stop(self) -> None:
        if self.browser is not None:
            self.browser.close()
            self.playwright.stop()
            self.browser = self.playwright = None


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    holder = Chromium()
    yield holder
    holder.stop()


@pytest.fixture(autouse=True)
def browser_only_where_used(request: pytest.FixtureRequest, chromium: Chromium) -> None:
    """Stops Chromium before a test that does not use it (see Chromium)."""
    if "browser" not in request.fixturenames:
        chromium.stop()


@pytest.fixture
def browser(chromium: Chromium):
    """The running Chromium (one for consecutive browser tests); each test opens its own context."""
    return chromium.start()


def open_visitor(browser, url: str, **context_args):
    """A visitor: a fresh browser context with the page at `url` loaded, and the list the browser
    console's errors are collected in."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, **context_args)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda msg: errors.append(f"{msg.text} (at {msg.location})") if msg.type == "error" else None)
    tab.on("pageerror", lambda err: errors.append(f"{err} (stack: {err.stack})"))
    tab.set_default_timeout(30_000)
    tab.goto(url, wait_until="load")
    tab.wait_for_selector("#param-num_inference_steps")
    return context, tab, errors


def screenshot(target, name: str, *, full_page: bool = False, always: bool = False) -> None:
    """Saves `target` (a page or a locator) as artifacts/browser/`name` when PLAYGROUND_SCREENSHOTS=1
    (or `always`)."""
    if SCREENSHOTS or always:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        options = {"full_page": True} if full_page else {}
        target.screenshot(path=str(ARTIFACTS / name), **options)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that drives Chromium gets one more try (pytest-rerunfailures), as Playwright's own CI
    setting does: on a loaded 2-core machine a page can miss a 30 s wait now and then. A test that
    fails twice fails the run, and the summary names each rerun (-rR in pytest.ini), so a flaky test
    stays visible."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.flaky(reruns=1))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keeps each phase's report on the test item, so a fixture can tell that its test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(app, browser, request):
    """A fresh page in a fresh browser context on the module's app; fails the test if the browser
    console logged an error. A failed test leaves a screenshot of its last page."""
    context, tab, errors = open_visitor(browser, app.url, accept_downloads=True)
    tab.wait_for_function("() => document.querySelector('#availability')?.innerText.includes('Replicate')")
    yield tab
    failed = getattr(getattr(request.node, "report_call", None), "failed", True)
    screenshot(tab, f"{request.node.name}-end.png", full_page=True, always=failed)
    context.close()
    assert not errors, f"browser console errors: {errors}"
