"""The OpenAPI schema and its browsable reference are served and valid."""

from __future__ import annotations

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_generates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert "/api/v1/auth/token/" in text
    assert "jwtAuth" in text


def test_schema_and_docs_pages_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"openapi" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn" not in docs.content.lower()  # assets come from drf-spectacular-sidecar


# --- what the fuzzer (tests/integration/test_api_fuzz.py) found wrong ---------------------

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def error_ref(response):
    return response["content"]["application/json"]["schema"]["$ref"]


def test_every_operation_documents_its_errors_in_the_error_format(schema):
    public = {"/api/v1/auth/register/", "/api/v1/auth/token/", "/api/v1/auth/token/refresh/", "/api/v1/auth/logout/"}
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        expected = {"400"} | ({"401", "403"} if path not in public else set()) | ({"404"} if "{" in path else set())
        assert expected <= set(responses), (method, path, sorted(responses))
        for status in expected:
            assert error_ref(responses[status]) == "#/components/schemas/Error", (method, path, status)
    error = schema["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"code", "message", "details"}


def test_sign_in_and_sign_up_document_their_refusals_and_rate_limits(schema):
    paths = schema["paths"]
    assert {"401", "403", "429"} <= set(paths["/api/v1/auth/token/"]["post"]["responses"])
    assert {"409", "429"} <= set(paths["/api/v1/auth/register/"]["post"]["responses"])
    assert "401" in paths["/api/v1/auth/token/refresh/"]["post"]["responses"]
    assert "401" in paths["/api/v1/auth/logout/"]["post"]["responses"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/admin/users/",
        "/api/v1/audit/",
        "/api/v1/chat/conversations/",
        "/api/v1/documents/",
        "/api/v1/documents/{id}/notes/",
        "/api/v1/documents/{id}/passages/",
        "/api/v1/documents/{id}/shares/",
        "/api/v1/knowledge/entries/",
    ],
)
def test_lists_are_documented_as_pages(schema, path):
    operation = schema["paths"][path]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"count", "next", "previous", "results"} <= set(page["properties"])
    assert {"page", "page_size"} <= {parameter["name"] for parameter in operation["parameters"]}
    assert "404" in operation["responses"]  # a page past the last one


def test_a_conversation_without_persona_matches_the_schema(schema):
    persona = schema["components"]["schemas"]["Conversation"]["properties"]["persona"]
    assert persona.get("nullable") is True


def test_stored_files_are_documented_with_their_content_types(schema):
    content = schema["paths"]["/api/v1/documents/{id}/file/"]["get"]["responses"]["200"]["content"]
    assert {"application/pdf", "text/plain", "text/markdown", "text/html"} <= set(content)


def test_what_the_schema_allows_is_what_the_api_takes(schema):
    # Found by THEO_FUZZ_ACCEPTANCE=1: valid per the schema, refused by the API.
    paths = schema["paths"]
    register = paths["/api/v1/auth/register/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    password = schema["components"]["schemas"][register["$ref"].rsplit("/", 1)[1]]["properties"]["password"]
    assert password["minLength"] == 10  # AUTH_PASSWORD_VALIDATORS
    assert set(paths["/api/v1/documents/"]["post"]["requestBody"]["content"]) == {"multipart/form-data"}
    unshare = paths["/api/v1/documents/{id}/shares/"]["delete"]["parameters"]
    assert next(p for p in unshare if p["name"] == "email")["schema"]["format"] == "email"


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/chat/conversations/{id}/messages/", "post"),
        ("/api/v1/documents/", "post"),
        ("/api/v1/search/", "get"),
        ("/api/v1/auth/token/", "post"),
        ("/api/v1/auth/register/", "post"),
    ],
)
def test_rate_limited_operations_document_429(schema, path, method):
    # Found at 200 examples per operation: chat 10/m, uploads 20/h, searches 60/m.
    assert error_ref(schema["paths"][path][method]["responses"]["429"]) == "#/components/schemas/Error"
