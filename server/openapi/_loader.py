"""Builds the one OpenAPI 3.1 document from the per-area YAML fragments beside this module.

Pure (files in, dict out) and strict: two fragments that define the same operation or the same
component name differently are an error at load time, so parallel work cannot silently overwrite
another area's description. How to document an endpoint: ``README.md`` in this folder.

A few conveniences keep fragments short; each expands into plain OpenAPI, so the served document is
standard:
- ``x-error-codes: [code, ...]`` on a response becomes its JSON body schema: the shared ``Error``
  shape with ``error.code`` limited to exactly those codes (so a new code fails the tests until it
  is documented);
- a shared answer (``components/responses``) is referenced as it is, or extended with the
  operation's own codes for the same status: ``{$ref: ..., x-error-codes: [...], description?}``
  becomes a copy of the shared answer (its headers included) with the union of the codes, so
  ``invalid_json`` or ``rate_limited`` is written once, in ``base.yaml``;
- ``x-every-operation`` in ``base.yaml`` lists responses every operation gets (what the server
  answers before any handler runs);
- every response gets the ``X-Request-Id`` header, which the request-id middleware sets on all
  answers (a response may describe the header itself where it is not sent).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Iterable, Mapping

import yaml

BASE_FRAGMENT = "base.yaml"  # openapi, info, servers, shared components: the only place for them
FRAGMENT_KEYS = frozenset({"tags", "paths", "components"})
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
ERROR_SCHEMA_REF = "#/components/schemas/Error"
REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_REF = "#/components/headers/X-Request-Id"
SHARED_RESPONSES = "#/components/responses/"
EVERY_OPERATION = "x-every-operation"
CORS_PREFLIGHT = "x-cors-preflight"


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when built with it: 10x faster


class FragmentError(ValueError):
    """Fragments that cannot be merged; the message names the files and the clashing entry."""


def _error_content(codes: list[str]) -> dict[str, Any]:
    if not codes or not all(isinstance(code, str) for code in codes):
        raise FragmentError(f"x-error-codes must be a non-empty list of strings, got {codes!r}")
    return {
        "application/json": {
            "schema": {
                "allOf": [
                    {"$ref": ERROR_SCHEMA_REF},
                    {"properties": {"error": {"properties": {"code": {"enum": sorted(set(codes))}}}}},
                ]
            }
        }
    }


def _expand_response(response: dict[str, Any], where: str) -> None:
    if "$ref" in response:
        return  # the referenced component is expanded where it is defined
    codes = response.pop("x-error-codes", None)
    if codes is not None:
        if "content" in response:
            raise FragmentError(f"{where}: give either x-error-codes or content, not both")
        response["content"] = _error_content(codes)
    response.setdefault("headers", {}).setdefault(REQUEST_ID_HEADER, {"$ref": REQUEST_ID_REF})


def _extended(response: dict[str, Any], shared: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``{$ref: shared answer, x-error-codes: [...], description?}`` as a response of its own: the
    shared answer's copy with the union of both code lists. Called before ``shared`` is expanded."""
    ref = response["$ref"]
    name = ref[len(SHARED_RESPONSES):] if ref.startswith(SHARED_RESPONSES) else None
    if name not in shared or "x-error-codes" not in shared[name]:
        raise FragmentError(f"{where}: only a shared answer with x-error-codes can be extended, not {ref}")
    unknown = set(response) - {"$ref", "x-error-codes", "description"}
    if unknown:
        raise FragmentError(f"{where}: an extended answer takes only x-error-codes and description, not {sorted(unknown)}")
    extended = copy.deepcopy(shared[name])
    own = response["x-error-codes"]
    if not isinstance(own, list):
        raise FragmentError(f"{where}: x-error-codes must be a list, got {own!r}")
    extended["x-error-codes"] = [*extended["x-error-codes"], *own]
    extended["description"] = response.get("description", extended["description"])
    return extended


def _operations(document: Mapping[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield f"{method.upper()} {path}", operation


def _expand(document: dict[str, Any]) -> None:
    shared = document.get("components", {}).get("responses", {})
    every = (document.pop(EVERY_OPERATION, None) or {}).get("responses", {})
    operations = list(_operations(document))
    if CORS_PREFLIGHT in document:
        operations.append((CORS_PREFLIGHT, document[CORS_PREFLIGHT]))
    for label, operation in operations:
        responses = operation.setdefault("responses", {})
        for status, response in every.items():
            responses.setdefault(status, copy.deepcopy(response))
        for status, response in list(responses.items()):
            where = f"{label} {status}"
            if "$ref" in response and "x-error-codes" in response:
                response = responses[status] = _extended(response, shared, where)
            _expand_response(response, where)
    for name, response in shared.items():
        _expand_response(response, f"components/responses/{name}")


def _merge_paths(into: dict[str, Any], paths: Mapping[str, Any], source: str, owners: dict[str, str]) -> None:
    for path, item in paths.items():
        target = into.setdefault(path, {})
        for key, value in item.items():
            where = f"{key.upper()} {path}" if key in HTTP_METHODS else f"{path} {key}"
            if key in target and target[key] != value:
                raise FragmentError(f"{where} is described in both {owners[where]} and {source}")
            target[key] = value
            owners.setdefault(where, source)


def _merge_components(into: dict[str, Any], components: Mapping[str, Any], source: str, owners: dict[str, str]) -> None:
    for section, entries in components.items():
        target = into.setdefault(section, {})
        for name, value in entries.items():
            where = f"components/{section}/{name}"
            if name in target and target[name] != value:
                raise FragmentError(f"{where} is defined differently in {owners[where]} and {source}")
            target[name] = value
            owners.setdefault(where, source)


def merge(base: Mapping[str, Any], fragments: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """The document: ``base`` plus each (name, fragment), in the order given."""
    document = {k: copy.deepcopy(v) for k, v in base.items() if k not in FRAGMENT_KEYS}
    document.update(tags=[], paths={}, components={})
    owners: dict[str, str] = {}
    base_part = {k: v for k, v in base.items() if k in FRAGMENT_KEYS}
    for name, fragment in [(BASE_FRAGMENT, base_part), *fragments]:
        fragment = copy.deepcopy(dict(fragment))
        unknown = set(fragment) - FRAGMENT_KEYS
        if unknown:
            raise FragmentError(f"{name}: a fragment may only hold {sorted(FRAGMENT_KEYS)}, not {sorted(unknown)}")
        _merge_paths(document["paths"], fragment.get("paths") or {}, name, owners)
        _merge_components(document["components"], fragment.get("components") or {}, name, owners)
        known_tags = {tag["name"] for tag in document["tags"]}
        document["tags"] += [tag for tag in fragment.get("tags") or [] if tag["name"] not in known_tags]
    _expand(document)
    return document


def _read(file: Traversable) -> dict[str, Any]:
    data = yaml.load(file.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    if not isinstance(data, dict):
        raise FragmentError(f"{file.name}: a fragment is a YAML mapping")
    return data


def fragment_files(folder: Traversable | None = None) -> list[Traversable]:
    folder = folder or resources.files(__package__ or "server.openapi")
    return sorted((f for f in folder.iterdir() if f.name.endswith(".yaml") and f.name != BASE_FRAGMENT),
                  key=lambda f: f.name)


def build_document(folder: Traversable | None = None) -> dict[str, Any]:
    """Read ``base.yaml`` and every other ``*.yaml`` in ``folder`` (this package by default), merged."""
    folder = folder or resources.files(__package__ or "server.openapi")
    base = _read(folder / BASE_FRAGMENT)
    return merge(base, ((f.name, _read(f)) for f in fragment_files(folder)))


@cache
def load_document() -> dict[str, Any]:
    """The merged document of this package, built once per process (treat it as read-only)."""
    from .. import __version__

    document = build_document()
    document["info"]["version"] = __version__
    return document


@cache
def document_json() -> bytes:
    """What ``GET /api/v1/openapi.json`` sends."""
    return json.dumps(load_document(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
