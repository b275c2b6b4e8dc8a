"""The committed OpenAPI document is the running app's."""

from service.cli import OPENAPI_PATH, openapi_text


def test_committed_openapi_matches_the_app():
    assert OPENAPI_PATH.read_text() == openapi_text(), (
        "openapi/openapi.json is out of date: run 'castlegate openapi' (or 'make openapi')"
    )


def test_served_schema_is_the_committed_one(service):
    import json

    with service.client() as c:
        served = c.get("/schema/openapi.json").json()
    assert served == json.loads(OPENAPI_PATH.read_text())
