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


SHARED = {"components": {"responses": {
    "Limited": {"description": "slow down", "headers": {"Retry-After": {"schema": {"type": "string"}}},
                "x-error-codes": ["rate_limited"]},
    "Plain": {"description": "no codes"},
}}}


def _codes(response: dict) -> list[str]:
    return response["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"]


def test_a_shared_answer_extended_with_codes_of_its_own() -> None:
    doc = merge(BASE, [("shared.yaml", SHARED), ("a.yaml", {"paths": {"/x": {"post": op("postX", **{
        "429": {"$ref": "#/components/responses/Limited", "x-error-codes": ["too_many_open"], "description": "mine"},
        "503": {"$ref": "#/components/responses/Limited"},
    })}}})])
    responses = doc["paths"]["/x"]["post"]["responses"]
    extended = responses["429"]
    assert "$ref" not in extended and extended["description"] == "mine"
    assert _codes(extended) == ["rate_limited", "too_many_open"]
    assert "Retry-After" in extended["headers"] and "X-Request-Id" in extended["headers"]
    assert responses["503"] == {"$ref": "#/components/responses/Limited"}  # a plain reference stays one
    assert _codes(doc["components"]["responses"]["Limited"]) == ["rate_limited"]  # the shared one is untouched


@pytest.mark.parametrize("response, message", [
    ({"$ref": "#/components/responses/Plain", "x-error-codes": ["x"]}, "only a shared answer with x-error-codes"),
    ({"$ref": "#/components/schemas/Error", "x-error-codes": ["x"]}, "only a shared answer with x-error-codes"),
    ({"$ref": "#/components/responses/Limited", "x-error-codes": ["x"], "headers": {}}, "takes only x-error-codes"),
])
def test_what_cannot_be_extended(response: dict, message: str) -> None:
    with pytest.raises(FragmentError, match=message):
        merge(BASE, [("shared.yaml", SHARED), ("a.yaml", {"paths": {"/x": {"get": op("getX", **{"400": response})}}})])


def test_every_operation_gets_the_base_answers_it_does_not_give_itself() -> None:
    base = {**BASE, "x-every-operation": {"responses": {"414": {"description": "long"}, "400": {"description": "base"}}}}
    doc = merge(base, [("a.yaml", {"paths": {"/x": {"get": op("getX", **{"400": {"description": "own"}}),
                                                     "put": op("putX")}}})])
    assert "x-every-operation" not in doc
    get, put = doc["paths"]["/x"]["get"]["responses"], doc["paths"]["/x"]["put"]["responses"]
    assert get["400"]["description"] == "own" and get["414"]["description"] == "long"
    assert put["400"]["description"] == "base" and set(put) == {"204", "400", "414"}
    put["414"]["description"] = "changed"
    assert get["414"]["description"] == "long"  # copies, not one shared object


def test_the_cors_preflight_is_expanded_like_an_operation() -> None:
    base = {**BASE, "x-cors-preflight": {"responses": {"403": {"description": "no", "x-error-codes": ["cors_origin_not_allowed"]}}}}
    preflight = merge(base, [])["x-cors-preflight"]["responses"]["403"]
    assert _codes(preflight) == ["cors_origin_not_allowed"] and "X-Request-Id" in preflight["headers"]
