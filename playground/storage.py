"""Where bytes go, per visitor: the home folder, the user preset folder, atomic writes, kept inputs
(stored under their pixel hash, and found again by it for a re-run).

On a single-user machine (`python app.py` on your own computer) everything lives in the operator's
`PLAYGROUND_HOME` (default `~/.playground`), as always. On a shared server (Hugging Face sets
`SPACE_ID`; anyone may set `PLAYGROUND_MULTI_USER=1`) each visitor gets a home of their own,
`$PLAYGROUND_HOME/visitors/<name>`, where the name is a keyed hash (HMAC with a secret only the
server knows) of who the visitor is: their Hugging Face login where the Space enables OAuth, else
their Gradio session. A visitor can neither list other homes nor compute their names, so guessing
a preset name or an input hash never reaches another visitor's files. Who the visitor is comes
from an identity source the web layer installs (`set_identity_source`); without one, or outside
a visit, a shared server refuses (fails closed) rather than falling back to a shared folder.

Writes go to a temporary file in the same folder and are then linked or renamed into place, so a
reader never sees half a file and concurrent saves never lose one; temporary files an interrupted
write left behind are removed at the next start (`remove_stale_tmp`). Errors name files, never
the server's folders.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import os
import secrets
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PIL import Image

from playground.environment import env_float
from playground.errors import PlaygroundError
from playground.images import encode, load_image, load_mask
from playground.params import ValidationError
from playground.request import Request

SHIPPED_PRESETS = Path(__file__).resolve().parent.parent / "presets"
VISITORS_FOLDER = "visitors"
PRESETS_FOLDER = "presets"
SECRET_FILE = ".visitor-secret"
TMP_SUFFIX = ".tmp"
# Session homes (no login) are dropped this long after their last change; logged-in homes are kept.
DEFAULT_SESSION_TTL_S = 7 * 24 * 3600.0
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
# Folders searched for a record's inputs are hashed up to this many image files each.
MAX_SEARCH_FILES = 500

_identity_source: Callable[[], str | None] | None = None
_secret_lock = threading.Lock()
_secret: bytes | None = None


class StorageError(PlaygroundError):
    """A folder cannot be read or written (permissions, a full disk, a missing file, no visitor)."""


# -- who is visiting --------------------------------------------------------------------------------

def multi_user() -> bool:
    """Whether this is a shared server: on a Hugging Face Space (SPACE_ID) or PLAYGROUND_MULTI_USER=1."""
    flag = os.environ.get("PLAYGROUND_MULTI_USER", "").strip().lower()
    if flag in ("0", "false", "no", "off"):
        return False
    return flag in ("1", "true", "yes", "on") or bool(os.environ.get("SPACE_ID"))


def set_identity_source(source: Callable[[], str | None] | None) -> None:
    """Install how the current visitor is known (the web layer reads it from the request being served).

    The source returns a stable identity ("user:NAME" for a login, "session:HASH" for a browser or
    client session) or None outside a visit.
    """
    global _identity_source
    _identity_source = source


def current_visitor() -> str | None:
    """The identity of the visitor being served, or None (no source, or not inside a visit)."""
    return _identity_source() if _identity_source is not None else None


def visitor_key(identity: str) -> str:
    """The folder name for `identity`: "u-" (login) or "s-" (session) and a keyed hash nobody else can
    compute, so names and hashes a visitor can see or guess never lead to another visitor's home."""
    digest = hmac.new(_server_secret(), identity.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
    return ("u-" if identity.startswith("user:") else "s-") + digest


def _server_secret() -> bytes:
    """PLAYGROUND_SECRET, else a random secret kept (0600) in the server's home so logins keep their
    folder across restarts, else (home not writable) a random one for this process."""
    global _secret
    with _secret_lock:
        if _secret is not None:
            return _secret
        configured = os.environ.get("PLAYGROUND_SECRET", "").strip()
        if configured:
            _secret = configured.encode("utf-8")
            return _secret
        path = server_home() / SECRET_FILE
        try:
            _secret = path.read_bytes().strip() or None
        except OSError:
            _secret = None
        if _secret is None:
            fresh = secrets.token_hex(32).encode()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(fresh)
                _secret = fresh
            except FileExistsError:
                _secret = path.read_bytes().strip() or fresh
            except OSError:
                _secret = fresh
        return _secret


# -- where things live ------------------------------------------------------------------------------

def server_home() -> Path:
    """The operator's folder: `PLAYGROUND_HOME`, else `~/.playground`."""
    raw = os.environ.get("PLAYGROUND_HOME", "").strip()
    return Path(raw).expanduser() if raw else Path.home() / ".playground"


def playground_home() -> Path:
    """The current visitor's home: the server's home on a single-user machine; on a shared server
    `visitors/<visitor_key>` under it. Raises StorageError on a shared server outside a visit."""
    if not multi_user():
        return server_home()
    identity = current_visitor()
    if not identity:
        raise StorageError("Your own presets need a browser or client session on this shared server; "
                           "none was found for this request.")
    return server_home() / VISITORS_FOLDER / visitor_key(identity)


def shipped_presets_dir() -> Path:
    """The presets shipped with the playground: read-only for everyone."""
    return SHIPPED_PRESETS


def user_dir(home: Path | None = None) -> Path:
    """The folder of the visitor's presets (created on first save, not here)."""
    return (home or playground_home()) / PRESETS_FOLDER


def kept_folder(root: Path) -> Path:
    """The current visitor's folder under `root` for files kept between requests (their runs' inputs,
    copies served back to the page): `root/<visitor_key>`, a name strangers cannot compute, so an
    input hash read from someone's record never fetches the input. One folder on a single-user machine."""
    identity = current_visitor() if multi_user() else None
    return root / visitor_key(identity or "session:local")


# -- writing --------------------------------------------------------------------------------------

def atomic_write(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Write `data` to `path` through a temporary file in the same folder, then rename it into place.

    overwrite=False links the finished file in with no window for another writer to clobber it, and
    raises FileExistsError if `path` exists. The temporary file is removed on any failure; OSError
    other than FileExistsError becomes StorageError with the reason in words (naming the file only).
    """
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}{TMP_SUFFIX}"
    try:
        _write_new_file(tmp, data)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise
            except OSError as err:
                if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                    raise
                # Filesystems without hard links: a (racy) existence check, still never a half file.
                if path.exists():
                    raise FileExistsError(errno.EEXIST, "exists", str(path)) from None
                os.replace(tmp, path)
    except FileExistsError:
        raise
    except OSError as err:
        raise StorageError(f"Cannot write {path.name}: {os_reason(err)}.") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _write_new_file(path: Path, data: bytes) -> None:
    """Create `path` (it must not exist), write everything and flush it to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)


def store_input(image: Any, sha256: str, folder: Path) -> Path:
    """Write `image` losslessly as `folder/<sha256>.png` (content-addressed; kept if already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sha256}.png"
    if not path.is_file():
        atomic_write(path, encode(image, "PNG"), overwrite=True)
    return path


def ensure_folder(folder: Path, *, not_inside: Path | None = None) -> None:
    """Create `folder` (and parents); StorageError if it is `not_inside` (the shipped presets) or
    cannot be created."""
    if not_inside is not None and folder.resolve() == not_inside.resolve():
        raise StorageError("The user preset folder is the shipped presets folder; set PLAYGROUND_HOME to another "
                           "folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StorageError(f"Cannot create the preset folder: {os_reason(err)}.") from None


def os_reason(err: OSError) -> str:
    """An OSError in words, with what the operator can do about it."""
    reasons = {
        errno.ENOSPC: "the disk is full (no space left on device)",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EACCES: "permission denied: the folder is not writable",
        errno.EPERM: "operation not permitted",
        errno.EROFS: "the file system is read-only",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
    }
    reason = reasons.get(err.errno or 0, err.strerror or type(err).__name__)
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.ENOSPC, errno.EDQUOT):
        reason += "; set PLAYGROUND_HOME to a writable folder with free space"
    return reason


# -- housekeeping (at start) ----------------------------------------------------------------------

def remove_stale_tmp(root: Path | None = None, min_age_s: float = 60.0) -> int:
    """Delete temporary files interrupted writes left under `root` (default: the server's home),
    older than `min_age_s` so a write in progress elsewhere is never cut. Returns how many."""
    root = root or server_home()
    if not root.is_dir():
        return 0
    cutoff = time.time() - min_age_s
    removed = 0
    for path in root.rglob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed


def prune_session_homes(max_age_s: float | None = None) -> int:
    """Delete session homes (no login) unchanged for PLAYGROUND_SESSION_TTL seconds (default a
    week): their visitors cannot come back to them. Returns how many were removed."""
    if max_age_s is None:
        max_age_s = env_float("PLAYGROUND_SESSION_TTL", DEFAULT_SESSION_TTL_S, minimum=0)
    root = server_home() / VISITORS_FOLDER
    if not root.is_dir():
        return 0
    cutoff = time.time() - max_age_s
    removed = 0
    for home in root.glob("s-*"):
        with contextlib.suppress(OSError):
            newest = max((p.stat().st_mtime for p in home.rglob("*")), default=home.stat().st_mtime)
            if newest < cutoff:
                shutil.rmtree(home, ignore_errors=True)
                removed += 1
    return removed


# -- kept inputs, found again by their pixel hash --------------------------------------------------

def default_search_dirs(near: str | os.PathLike[str] | None = None) -> list[Path]:
    """Where inputs are looked for by hash: next to `near` (and its `inputs/`), the user's
    `$PLAYGROUND_HOME/inputs` and preset inputs, and the shipped preset inputs."""
    dirs = []
    if near is not None:
        folder = Path(near).parent
        dirs += [folder / "inputs", folder]
    try:
        dirs += [playground_home() / "inputs", user_dir() / "inputs"]
    except StorageError:  # a shared server outside a visit: nobody's own folders
        pass
    return [*dirs, shipped_presets_dir() / "inputs"]


def find_inputs(record: dict[str, Any], search_dirs: Iterable[Path] | None = None) -> dict[str, Any]:
    """Files whose pixels match the record's inputs. Returns `{"images": [path or None, ...],
    "mask": path or None, "missing": [{"role", "sha256"}]}`."""
    wanted = record.get("inputs") or []
    index = _HashIndex(list(search_dirs) if search_dirs is not None else default_search_dirs())
    images: list[str | None] = []
    mask, missing = None, []
    for entry in wanted:
        path = index.find(entry.get("sha256", ""), entry.get("role", "image"))
        if path is None:
            missing.append({"role": entry.get("role"), "sha256": entry.get("sha256")})
        if entry.get("role") == "mask":
            mask = path
        else:
            images.append(path)
    return {"images": images, "mask": mask, "missing": missing}


class _HashIndex:
    """Lazily hashes image files in some folders; files named by their hash are tried first."""

    def __init__(self, dirs: list[Path]):
        self.dirs = [d for d in dirs if d.is_dir()]
        self._hashed: dict[tuple[str, str], str] = {}
        self._done: set[tuple[Path, str]] = set()

    def find(self, sha256: str, role: str) -> str | None:
        if not sha256:
            return None
        for folder in self.dirs:
            for path in sorted(folder.glob(f"{sha256[:16]}*")):
                if path.suffix.lower() in IMAGE_SUFFIXES and self._hash(path, role) == sha256:
                    return str(path)
        if (role, sha256) in self._hashed:
            return self._hashed[(role, sha256)]
        for folder in self.dirs:
            if (folder, role) in self._done:
                continue
            self._done.add((folder, role))
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:MAX_SEARCH_FILES]
            for path in files:
                digest = self._hash(path, role)
                if digest:
                    self._hashed.setdefault((role, digest), str(path))
            if (role, sha256) in self._hashed:
                return self._hashed[(role, sha256)]
        return None

    @staticmethod
    def _hash(path: Path, role: str) -> str | None:
        try:
            if role == "mask":
                with Image.open(path) as img:
                    size = img.size
                return load_mask(str(path), size).sha256
            return load_image(str(path), "input").sha256
        except (ValidationError, OSError):
            return None


def store_inputs(request: Request, folder: str | os.PathLike[str]) -> list[Path]:
    """Keep a lossless copy of each input of `request` (as validation sees it) in `folder`, named by
    its sha256, so a later re-run finds it. Returns the files (existing ones are kept)."""
    folder = Path(folder)
    pictures = [load_image(img, f"images[{i}]") for i, img in enumerate(request.images or [])]
    stored = [store_input(p.image, p.sha256, folder) for p in pictures]
    if request.mask is not None and pictures:
        mask = load_mask(request.mask, pictures[0].size)
        stored.append(store_input(mask.image, mask.sha256, folder))
    return stored


__all__ = [
    "IMAGE_SUFFIXES", "StorageError", "atomic_write", "current_visitor", "default_search_dirs", "ensure_folder",
    "find_inputs", "kept_folder", "multi_user", "os_reason", "playground_home", "prune_session_homes",
    "remove_stale_tmp", "server_home", "set_identity_source", "shipped_presets_dir", "store_input", "store_inputs",
    "user_dir", "visitor_key",
]
