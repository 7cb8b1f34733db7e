"""The fragment loader (pure): how per-area fragments merge, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.openapi import FragmentError, build_document, merge

BASE = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "components": {"schemas": {"Error": {"type": "object"}}}}


def op(operation_id: str, **responses: dict) -> dict:
    return {"operationId": operation_id, "responses": responses or {"204": {"description": "ok"}}}


def test_fragments_add_paths_methods_components_and_tags() -> None:
    doc = merge(BASE, [
        ("a.yaml", {"tags": [{"name": "a"}], "paths": {"/x": {"get": op("getX")}},
                    "components": {"schemas": {"X": {"type": "string"}}}}),
        ("b.yaml", {"tags": [{"name": "a"}, {"name": "b"}], "paths": {"/x": {"put": op("putX")}, "/y": {"get": op("getY")}},
                    "components": {"schemas": {"X": {"type": "string"}}}}),  # the same definition twice is fine
    ])
    assert set(doc["paths"]["/x"]) == {"get", "put"} and "/y" in doc["paths"]
    assert set(doc["components"]["schemas"]) == {"Error", "X"}
    assert [t["name"] for t in doc["tags"]] == ["a", "b"]
    assert doc["info"] == BASE["info"]


def test_two_fragments_describing_one_operation_is_an_error() -> None:
    with pytest.raises(FragmentError, match=r"GET /x is described in both a.yaml and b.yaml"):
        merge(BASE, [("a.yaml", {"paths": {"/x": {"get": op("one")}}}), ("b.yaml", {"paths": {"/x": {"get": op("two")}}})])


def test_a_component_defined_differently_twice_is_an_error() -> None:
    with pytest.raises(FragmentError, match=r"components/schemas/Error is defined differently in base.yaml and a.yaml"):
        merge(BASE, [("a.yaml", {"components": {"schemas": {"Error": {"type": "string"}}}})])


def test_a_fragment_cannot_override_the_document_head() -> None:
    with pytest.raises(FragmentError, match="info"):
        merge(BASE, [("a.yaml", {"info": {"title": "mine"}})])


def test_error_codes_expand_to_the_error_schema_and_every_response_gets_the_request_id() -> None:
    doc = merge(BASE, [("a.yaml", {
        "paths": {"/x": {"post": op("postX", **{"400": {"description": "bad", "x-error-codes": ["b_code", "a_code"]},
                                               "201": {"description": "made"}})}},
        "components": {"responses": {"Gone": {"description": "gone", "x-error-codes": ["gone"]}}},
    })])
    bad = doc["paths"]["/x"]["post"]["responses"]["400"]
    assert "x-error-codes" not in bad
    schema = bad["content"]["application/json"]["schema"]
    assert schema["allOf"][0] == {"$ref": "#/components/schemas/Error"}
    assert schema["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"] == ["a_code", "b_code"]
    for response in (bad, doc["paths"]["/x"]["post"]["responses"]["201"], doc["components"]["responses"]["Gone"]):
        assert response["headers"]["X-Request-Id"] == {"$ref": "#/components/headers/X-Request-Id"}


def test_error_codes_and_content_together_are_refused() -> None:
    response = {"description": "bad", "x-error-codes": ["x"], "content": {"application/json": {}}}
    with pytest.raises(FragmentError, match="either x-error-codes or content"):
        merge(BASE, [("a.yaml", {"paths": {"/x": {"get": op("getX", **{"400": response})}}})])


def test_a_new_file_in_the_folder_is_picked_up(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("openapi: 3.1.0\ninfo: {title: t, version: '1'}\n")
    (tmp_path / "zeta.yaml").write_text("paths:\n  /z:\n    get: {operationId: z, responses: {'204': {description: ok}}}\n")
    (tmp_path / "alpha.yaml").write_text("paths:\n  /a:\n    get: {operationId: a, responses: {'204': {description: ok}}}\n")
    (tmp_path / "notes.md").write_text("not a fragment")
    assert list(build_document(tmp_path)["paths"]) == ["/a", "/z"]  # sorted by file name
