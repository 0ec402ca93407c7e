"""`python -m playground schemas check|refresh`: the catalog against the providers' published schemas.

`check` runs the conformance check (playground/conformance.py) against the shipped snapshots and
prints one line per problem. `refresh` downloads the current published schema of each hosted
endpoint (fal: `{PLAYGROUND_FAL_URL or https://fal.ai}/api/openapi/queue/openapi.json?endpoint_id=`;
Replicate: `{PLAYGROUND_REPLICATE_URL or https://api.replicate.com}/v1/models/{owner}/{name}` with
REPLICATE_API_TOKEN, or `.../versions/{id}` for a pinned version), prints what changed since the
shipped snapshot and which catalog routes the change breaks, and with `--write` replaces the
snapshots. Exit status: 0 all routes conform; 1 a route does not conform, or a provider could not
be read; 2 bad arguments or a missing token.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from playground import conformance
from playground.catalog import MODELS, HostedRoute, snapshots
from playground.catalog.snapshots import FieldSpec, InputSpec

FAL_DEFAULT_URL = "https://fal.ai"
REPLICATE_DEFAULT_URL = "https://api.replicate.com"
TIMEOUT_S = 30.0


class RefreshError(Exception):
    """A provider could not be read (one line for the operator); `status` is the exit code."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Fetched:
    """One downloaded provider document, or why there is none (`missing`: the provider says 404)."""

    provider: str
    endpoint: str
    url: str
    document: dict[str, Any] | None
    missing: str = ""


def add_commands(sub: Any) -> None:
    """Register `schemas check` and `schemas refresh` on the main parser's subcommands."""
    schemas = sub.add_parser("schemas", help="check the catalog against the providers' published input schemas")
    actions = schemas.add_subparsers(required=True, metavar="ACTION")
    check = actions.add_parser("check", help="every hosted route against the shipped schema snapshots")
    check.set_defaults(handler=cmd_check)
    refresh = actions.add_parser("refresh", help="download the current schemas; report drift and broken routes")
    refresh.add_argument("--provider", choices=snapshots.PROVIDERS, default=None, help="only this provider")
    refresh.add_argument("--model", default=None, help="only the endpoints of this catalog model id")
    refresh.add_argument("--write", action="store_true", help="write the downloaded schemas as the new snapshots")
    refresh.set_defaults(handler=cmd_refresh)


def cmd_check(args: argparse.Namespace) -> int:
    problems = conformance.check()
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s): the catalog offers values the providers' published schemas do not take.",
              file=sys.stderr)
        return 1
    routes = conformance.hosted_routes()
    weak = sorted(f"{p}:{e}" for p, e in conformance.endpoints() if (s := snapshots.read(p, e)) and s.reconstructed)
    print(f"All {len(routes)} hosted routes conform to the providers' published schemas "
          f"({len(conformance.endpoints())} endpoints).")
    if weak:
        print(f"Reconstructed from weaker sources (refresh to confirm): {', '.join(weak)}")
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    try:
        targets = refresh_targets(args.provider, args.model)
        fetched = fetch_all(targets)
    except RefreshError as err:
        print(f"Error: {err}", file=sys.stderr)
        return err.status
    lines, broken = report(fetched)
    for line in lines:
        print(line)
    if args.write:
        for path in write_snapshots(fetched):
            print(f"wrote {path}")
    return 1 if broken else 0


def refresh_targets(provider: str | None, model_id: str | None) -> list[tuple[str, str]]:
    """(provider, endpoint) to download: the catalog's hosted endpoints and every shipped snapshot,
    narrowed to one provider and/or one model."""
    if model_id is not None:
        if model_id not in MODELS:
            raise RefreshError(f"--model {model_id!r}: not a catalog model; one of {', '.join(MODELS)}", 2)
        targets = conformance.endpoints([MODELS[model_id]])
        if not targets:
            raise RefreshError(f"--model {model_id!r}: the model has no hosted route", 2)
    else:
        targets = sorted(set(conformance.endpoints()) | set(snapshots.shipped()))
    return [t for t in targets if provider is None or t[0] == provider]


def fetch_all(targets: list[tuple[str, str]], client: Any = None) -> list[Fetched]:
    """Download the published document of every target (raises RefreshError on the first
    unreachable host, refused token or missing token)."""
    import httpx

    token = os.environ.get("REPLICATE_API_TOKEN", "").strip()
    if any(p == "replicate" for p, _ in targets) and not token:
        raise RefreshError("REPLICATE_API_TOKEN is not set: refreshing Replicate schemas reads its models API "
                           "with your token (or use --provider fal).", 2)
    fal_base = (os.environ.get("PLAYGROUND_FAL_URL") or FAL_DEFAULT_URL).rstrip("/")
    rep_base = (os.environ.get("PLAYGROUND_REPLICATE_URL") or REPLICATE_DEFAULT_URL).rstrip("/")
    own = client is None
    http = client or httpx.Client(timeout=httpx.Timeout(TIMEOUT_S, connect=10.0), follow_redirects=True)
    try:
        out = []
        for provider, endpoint in targets:
            if provider == "fal":
                url = f"{fal_base}/api/openapi/queue/openapi.json?endpoint_id={endpoint}"
                out.append(_get(http, provider, endpoint, url, {}))
            else:
                version = _pinned_version(endpoint)
                url = f"{rep_base}/v1/models/{endpoint}" + (f"/versions/{version}" if version else "")
                out.append(_get(http, provider, endpoint, url, {"Authorization": f"Bearer {token}"}))
        return out
    finally:
        if own:
            http.close()


def _get(http: Any, provider: str, endpoint: str, url: str, headers: dict[str, str]) -> Fetched:
    import httpx

    name = "fal" if provider == "fal" else "Replicate"
    host = httpx.URL(url).host
    try:
        resp = http.get(url, headers=headers)
    except httpx.TimeoutException:
        raise RefreshError(f"{name} at {host} did not answer within {TIMEOUT_S:g} s.") from None
    except httpx.HTTPError as err:
        raise RefreshError(f"{name} at {host} cannot be reached ({type(err).__name__}).") from None
    if resp.status_code in (401, 403):
        raise RefreshError(f"{name} refused the request for {endpoint} (HTTP {resp.status_code}): check "
                           f"{'REPLICATE_API_TOKEN' if provider == 'replicate' else 'the fal host'}.")
    shown = url.split("?")[0] + (f"?endpoint_id={endpoint}" if provider == "fal" else "")
    if resp.status_code == 404:
        return Fetched(provider, endpoint, shown, None, "no longer published (HTTP 404)")
    if resp.status_code != 200:
        raise RefreshError(f"{name} answered HTTP {resp.status_code} for {endpoint}.")
    try:
        document = resp.json()
        snapshots.input_schema(provider, document, endpoint)
    except ValueError:
        raise RefreshError(f"{name} sent no readable input schema for {endpoint}.") from None
    return Fetched(provider, endpoint, shown, document)


def _pinned_version(endpoint: str) -> str | None:
    for _, _, mode, route in conformance.hosted_routes():
        if route.provider == "replicate" and route.endpoint(mode) == endpoint and route.version:
            return route.version
    return None


def report(fetched: list[Fetched]) -> tuple[list[str], bool]:
    """The lines to print (changes, then broken routes, then a summary) and whether a route breaks."""
    lines: list[str] = []
    current: dict[tuple[str, str], InputSpec | None] = {}
    changed = 0
    for item in fetched:
        key = (item.provider, item.endpoint)
        if item.document is None:
            current[key] = None
            lines.append(f"changed {item.provider} {item.endpoint}: {item.missing}")
            changed += 1
            continue
        new = snapshots.read(item.provider, item.endpoint, item.document)
        current[key] = new
        old = snapshots.read(item.provider, item.endpoint)
        diffs = ["no shipped snapshot"] if old is None else diff(old, new)
        changed += bool(diffs)
        lines += [f"changed {item.provider} {item.endpoint}: {d}" for d in diffs]
    def reader(provider: str, endpoint: str) -> InputSpec | None:
        key = (provider, endpoint)
        return current[key] if key in current else snapshots.read(provider, endpoint)

    models = {m.id: m for m, _, mode, r in conformance.hosted_routes() if (r.provider, r.endpoint(mode)) in current}
    problems = conformance.check(models.values(), reader)
    # Only routes on a downloaded endpoint are judged by what was downloaded.
    problems = [p for p in problems if _route_key(p) in current]
    lines += [f"breaks {p}" for p in problems]
    lines.append(f"{len(fetched)} endpoint(s) read: {changed} changed; "
                 f"{len(problems)} catalog route problem(s).")
    return lines, bool(problems)


def _route_key(problem: conformance.Mismatch) -> tuple[str, str]:
    route = MODELS[problem.model].routes[problem.backend]
    assert isinstance(route, HostedRoute)
    return route.provider, problem.endpoint


def diff(old: InputSpec, new: InputSpec) -> list[str]:
    """What changed between two published inputs, one short phrase per change, in field order."""
    out: list[str] = []
    for name in old.fields:
        if name not in new.fields:
            out.append(f"field {name} removed")
    for name, field in new.fields.items():
        before = old.fields.get(name)
        if before is None:
            out.append(f"field {name} added ({field.allowed_text()})")
            continue
        out += [f"{name} {change}" for change in _field_changes(before, field)]
    for name in sorted(new.required - old.required):
        out.append(f"{name} now required")
    for name in sorted(old.required - new.required):
        out.append(f"{name} no longer required")
    return out


def _field_changes(old: FieldSpec, new: FieldSpec) -> list[str]:
    out = []
    if old.types != new.types:
        out.append(f"type {'/'.join(sorted(old.types))} -> {'/'.join(sorted(new.types))}")
    if old.enum != new.enum:
        lost = [v for v in old.enum or () if v not in (new.enum or ())] if new.enum is not None else []
        gained = [v for v in new.enum or () if v not in (old.enum or ())] if old.enum is not None else []
        if old.enum is None or new.enum is None:
            out.append(f"enum {_values(old.enum)} -> {_values(new.enum)}")
        else:
            if lost:
                out.append(f"enum lost {', '.join(json.dumps(v) for v in lost)}")
            if gained:
                out.append(f"enum gained {', '.join(json.dumps(v) for v in gained)}")
    for label, a, b in (("minimum", old.minimum, new.minimum), ("maximum", old.maximum, new.maximum),
                        ("exclusive minimum", old.exclusive_minimum, new.exclusive_minimum),
                        ("exclusive maximum", old.exclusive_maximum, new.exclusive_maximum),
                        ("max items", old.max_items, new.max_items)):
        if a != b:
            out.append(f"{label} {_show(a)} -> {_show(b)}")
    if (old.has_default, old.default) != (new.has_default, new.default):
        out.append(f"default {json.dumps(old.default) if old.has_default else 'none'} -> "
                   f"{json.dumps(new.default) if new.has_default else 'none'}")
    for part in sorted(set(old.parts) | set(new.parts)):
        if part in old.parts and part in new.parts:
            out += [f"{part} {c}" for c in _field_changes(old.parts[part], new.parts[part])]
        else:
            out.append(f"{part} {'removed' if part in old.parts else 'added'}")
    return out


def write_snapshots(fetched: list[Fetched]) -> list[str]:
    """Write each downloaded document whose schema changed (or whose snapshot was reconstructed or
    missing) as the new snapshot; returns the paths written, relative to the working directory."""
    taken = datetime.now(UTC).date().isoformat()
    written = []
    for item in fetched:
        if item.document is None:
            continue
        old = snapshots.read(item.provider, item.endpoint)
        new = snapshots.read(item.provider, item.endpoint, item.document)
        if old is not None and not old.reconstructed and not diff(old, new):
            continue
        meta = {"provider": item.provider, ("endpoint_id" if item.provider == "fal" else "model"): item.endpoint,
                "taken": taken, "sources": [item.url], "reconstructed": False, "notes": []}
        document = _trimmed(item.provider, item.document)
        version = snapshots.version_of(document)
        if item.provider == "replicate" and "latest_version" not in document and version:
            meta["pinned_version"] = version
        path = snapshots.snapshot_path(item.provider, item.endpoint)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({snapshots.META_KEY: meta, **document}, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        written.append(os.path.relpath(path))
    snapshots.clear_cache()
    return written


def _trimmed(provider: str, document: dict[str, Any]) -> dict[str, Any]:
    """The provider's own document without our old notes (Replicate: only what describes the input)."""
    doc = {k: v for k, v in document.items() if k != snapshots.META_KEY}
    if provider == "fal":
        return doc
    version = doc.get("latest_version") if "latest_version" in doc else doc
    kept = {k: version.get(k) for k in ("id", "created_at", "openapi_schema") if k in version}
    if "latest_version" in doc:
        return {"owner": doc.get("owner"), "name": doc.get("name"), "latest_version": kept}
    return kept


def _values(enum: tuple[Any, ...] | None) -> str:
    return "none" if enum is None else "[" + ", ".join(json.dumps(v) for v in enum) + "]"


def _show(x: Any) -> str:
    if x is None:
        return "none"
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)
