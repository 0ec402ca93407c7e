"""LoRA adapters for the local backend: fetch each weights file, then load and weight it in the cached pipeline.

`fetch` turns a canonical `{path, scale}` list into files on this machine: Hub repos through
`hf_hub_download` (into the Hub cache), https URLs streamed into a `playground-loras` folder of the
Hub cache, local files as they are (validation already refused them on a shared server). Every
download is size-checked (PLAYGROUND_MAX_LORA_BYTES, default 1.5 GB) and only safetensors files are
accepted: the state dict is read with `safetensors` and handed to diffusers as a dict, so nothing is
ever unpickled.

`activate` loads each adapter once per set of base weights (`load_lora_weights(..., adapter_name=)`),
keeps the last few loaded so scale sweeps and A/B switches cost nothing, weights them with
`set_adapters`, and switches them off with `disable_lora` for runs without adapters; the base weights
are never reloaded. An adapter that matches no layer of the pipeline, or whose shapes do not fit, is
refused by name instead of running silently without it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.adapters import AdapterRef, parse_path
from playground.environment import env_int
from playground.errors import BackendUnavailable, TransportError
from playground.params import Problem, ValidationError
from playground.storage import multi_user

log = logging.getLogger("playground.lora")

DEFAULT_MAX_BYTES = 1_500_000_000
# Adapters kept loaded per set of base weights (each costs its own size in memory).
KEEP_LOADED = 4
URL_FOLDER = "playground-loras"
_SAFETENSORS_MAX_HEADER = 100_000_000


@dataclass(frozen=True)
class AdapterFile:
    """One adapter on this machine: as the user named it, its short name, its sha256 and size.

    `file` is where it lies here; it is never shown to the user or written to a record.
    """

    path: str
    name: str
    source: str
    sha256: str
    bytes: int
    file: Path = field(repr=False)
    tensor_sha256: str = ""

    def describe(self, scale: float) -> dict[str, Any]:
        """What a record keeps about this adapter. `tensor_sha256` is AUTOMATIC1111's hash of a safetensors
        LoRA (sha256 of the bytes after the JSON header), the one its `Lora hashes` and Civitai look up."""
        return {"path": self.path, "name": self.name, "source": self.source, "scale": scale,
                "sha256": self.sha256, "tensor_sha256": self.tensor_sha256, "bytes": self.bytes}


@dataclass
class AdapterState:
    """The adapters loaded into one set of base weights: sha256 → adapter name, oldest first."""

    names: OrderedDict[str, str] = field(default_factory=OrderedDict)
    loads: int = 0


def max_bytes() -> int:
    return env_int("PLAYGROUND_MAX_LORA_BYTES", DEFAULT_MAX_BYTES, minimum=1)


def fetch(loras: list[dict[str, Any]] | None) -> list[tuple[AdapterFile, float]]:
    """Each adapter of a validated `loras` list as a file on this machine, with its scale."""
    out: list[tuple[AdapterFile, float]] = []
    for i, item in enumerate(loras or []):
        where = f"params.loras[{i}].path"
        ref = parse_path(item["path"])
        if ref is None:
            raise ValidationError([Problem(where, item["path"], "a Hugging Face repo id, an https URL or a file")])
        if ref.source == "file":
            file = _local_file(ref, where)
        elif ref.source == "hub":
            file = _hub_file(ref, where)
        else:
            file = _url_file(ref, where)
        size = file.stat().st_size
        if size > max_bytes():
            raise ValidationError([Problem(where, item["path"], f"an adapter of at most {max_bytes()} bytes "
                                                                f"(this one has {size})")])
        header = _check_safetensors(file, item["path"], where)
        whole, tensors = _hashes(file, header)
        out.append((AdapterFile(item["path"], ref.name, ref.source, whole, size, file, tensors), float(item["scale"])))
    seen: dict[str, str] = {}
    for adapter, _ in out:
        if adapter.sha256 in seen:
            raise ValidationError([Problem("params.loras", adapter.path, f"each adapter once (same file as "
                                                                         f"{seen[adapter.sha256]})")])
        seen[adapter.sha256] = adapter.path
    return out


def activate(pipe: Any, state: AdapterState, adapters: list[tuple[AdapterFile, float]]) -> dict[str, Any]:
    """Make exactly `adapters` active in `pipe` at their scales (none: LoRA switched off).

    Returns the `set_adapters` call as made (adapter names and weights), for the record.
    """
    if not adapters:
        if state.names:
            pipe.disable_lora()
        return {}
    names = [_ensure_loaded(pipe, state, adapter, i) for i, (adapter, _) in enumerate(adapters)]
    _evict(pipe, state, keep=set(names))
    pipe.enable_lora()
    weights = [scale for _, scale in adapters]
    pipe.set_adapters(names, adapter_weights=weights)
    return {"adapter_names": names, "adapter_weights": weights}


def _ensure_loaded(pipe: Any, state: AdapterState, adapter: AdapterFile, index: int) -> str:
    name = state.names.get(adapter.sha256)
    if name is not None:
        state.names.move_to_end(adapter.sha256)
        return name
    from safetensors.torch import load_file

    name = f"lora_{adapter.sha256[:16]}"
    where = f"params.loras[{index}].path"
    incompatible = f"a LoRA made for {type(pipe).__name__}'s model family"
    try:
        with warnings.catch_warnings():
            # Several named adapters in one model is the point here, not the mistake peft warns about.
            warnings.filterwarnings("ignore", message="Already found a `peft_config`")
            pipe.load_lora_weights(load_file(str(adapter.file)), adapter_name=name)
    except Exception as err:  # noqa: BLE001 - any failure to fit the weights means the same thing to the user
        _forget(pipe, name)
        reason = str(err).split("\n", 1)[0][:160]
        raise ValidationError([Problem(where, adapter.path, f"{incompatible}; it does not fit ({reason})")]) from None
    if not any(name in listed for listed in pipe.get_list_adapters().values()):
        raise ValidationError([Problem(where, adapter.path, f"{incompatible}; none of its weights match a layer "
                                                            f"of this model")])
    state.names[adapter.sha256] = name
    state.loads += 1
    return name


def _evict(pipe: Any, state: AdapterState, keep: set[str]) -> None:
    for sha, name in list(state.names.items()):
        if len(state.names) <= KEEP_LOADED:
            break
        if name not in keep:
            _forget(pipe, name)
            del state.names[sha]


def _forget(pipe: Any, name: str) -> None:
    try:
        if any(name in listed for listed in pipe.get_list_adapters().values()):
            pipe.delete_adapters([name])
    except Exception:  # noqa: BLE001 - best effort: a half-loaded adapter must not break the next run
        log.warning("could not unload adapter %s", name)


# -- where the files come from -------------------------------------------------------------------------

def _local_file(ref: AdapterRef, where: str) -> Path:
    file = Path(ref.path).expanduser()
    if not file.is_file():
        raise ValidationError([Problem(where, ref.path, "an existing .safetensors file on this machine")])
    return file


def _hub_file(ref: AdapterRef, where: str) -> Path:
    from huggingface_hub import hf_hub_download, list_repo_files
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")
    # A shared server never lends its own Hub token: visitors reach public repos only.
    token = False if multi_user() else None
    weight = ref.weight_name
    try:
        if weight is None and offline:
            weight = "pytorch_lora_weights.safetensors"
        elif weight is None:
            files = [f for f in list_repo_files(ref.repo_id, token=token) if f.endswith(".safetensors")]
            weight = _pick_weights(files, ref, where)
        if not offline:
            info = hf_hub_download(ref.repo_id, weight, dry_run=True, token=token)
            if info.file_size and info.file_size > max_bytes():
                raise ValidationError([Problem(where, ref.path, f"an adapter of at most {max_bytes()} bytes "
                                                                f"(this one has {info.file_size})")])
        return Path(hf_hub_download(ref.repo_id, weight, local_files_only=offline, token=token))
    except (RepositoryNotFoundError, GatedRepoError):
        raise ValidationError([Problem(where, ref.path, "a public Hugging Face repo that exists")]) from None
    except LocalEntryNotFoundError:  # a subclass of EntryNotFoundError: "not cached", not "not in the repo"
        if offline:
            raise ValidationError([Problem(where, ref.path, "an adapter already in the Hugging Face cache "
                                                            "(HF_HUB_OFFLINE is set)")]) from None
        raise TransportError(f"The Hugging Face Hub could not be reached to fetch {ref.path}.") from None
    except EntryNotFoundError:
        raise ValidationError([Problem(where, ref.path, f"a file that exists in {ref.repo_id}")]) from None


def _pick_weights(files: list[str], ref: AdapterRef, where: str) -> str:
    if "pytorch_lora_weights.safetensors" in files:
        return "pytorch_lora_weights.safetensors"
    if len(files) == 1:
        return files[0]
    allowed = "a repo with one .safetensors file, or owner/repo/<file> naming one of: " + ", ".join(files[:8])
    raise ValidationError([Problem(where, ref.path, allowed if files else "a repo with .safetensors weights")])


def _url_file(ref: AdapterRef, where: str) -> Path:
    """Download an https URL once into the Hub cache (named by the URL's hash), within the size limit."""
    from huggingface_hub import constants

    folder = Path(constants.HF_HUB_CACHE) / URL_FOLDER
    target = folder / f"{hashlib.sha256(ref.path.encode()).hexdigest()[:32]}.safetensors"
    if target.is_file():
        return target
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        raise ValidationError([Problem(where, ref.path, "an adapter already downloaded (HF_HUB_OFFLINE is set)")])
    import httpx

    if multi_user():
        _refuse_private_host(ref, where)
    limit = max_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=folder, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out, httpx.stream("GET", ref.path, follow_redirects=True,
                                                           timeout=httpx.Timeout(60.0, connect=10.0)) as resp:
            if resp.status_code >= 400:
                raise ValidationError([Problem(where, ref.path, f"a URL that can be downloaded "
                                                                f"(it answered HTTP {resp.status_code})")])
            if str(resp.url).split(":", 1)[0] != "https":
                raise ValidationError([Problem(where, ref.path, "an https URL (it redirected to plain http)")])
            total = 0
            for chunk in resp.iter_bytes():
                total += len(chunk)
                if total > limit:
                    raise ValidationError([Problem(where, ref.path, f"an adapter of at most {limit} bytes")])
                out.write(chunk)
        os.replace(partial, target)
    except httpx.HTTPError as err:
        raise TransportError(f"The adapter {ref.path} could not be downloaded: {type(err).__name__}.") from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target


def _refuse_private_host(ref: AdapterRef, where: str) -> None:
    """On a shared server, a visitor's URL must not make the server fetch from its own network."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    host = urlsplit(ref.path).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, 443)}
    except OSError:
        raise ValidationError([Problem(where, ref.path, "a URL whose host can be found")]) from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global:
            raise ValidationError([Problem(where, ref.path, "a URL on the public internet (this shared server "
                                                            "does not fetch from private addresses)")])


def _check_safetensors(file: Path, path: str, where: str) -> int:
    """Refuse anything but a safetensors file (pickled .bin/.pt/.ckpt could run code when loaded);
    returns the length of its JSON header."""
    try:
        with file.open("rb") as handle:
            head = handle.read(9)
    except OSError:
        raise BackendUnavailable(f"The adapter {path} could not be read.") from None
    size = int.from_bytes(head[:8], "little") if len(head) == 9 else 0
    if not (0 < size < _SAFETENSORS_MAX_HEADER and head[8:9] == b"{"):
        raise ValidationError([Problem(where, path, "a .safetensors file (other weight formats are not loaded)")])
    return size


def _hashes(file: Path, header: int) -> tuple[str, str]:
    """sha256 of the whole file, and of the tensor bytes after the 8 + `header` byte header (A1111's)."""
    whole, tensors = hashlib.sha256(), hashlib.sha256()
    skip = 8 + header
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            whole.update(block)
            if skip >= len(block):
                skip -= len(block)
                continue
            tensors.update(block[skip:])
            skip = 0
    return whole.hexdigest(), tensors.hexdigest()
