"""The committed OpenAPI document is the running app's.

Compared as JSON, by meaning: every ``description`` and ``summary`` string is normalised
(common indentation, trailing spaces and surrounding blank lines dropped) because those
come from docstrings, and how a library version indents a docstring (msgspec 0.23 dedents
them, older versions did not) changes no meaning. Everything else must be equal.
"""

import inspect
import json

from service.cli import OPENAPI_PATH, openapi_text

_PROSE_KEYS = frozenset({"description", "summary"})
_HINT = "openapi/openapi.json is out of date: run 'make openapi' (or 'castlegate openapi')"


def _prose(text: str) -> str:
    # cleandoc: strips the first line, removes the common indentation of the others and
    # blank lines at either end; relative indentation (a code block) is kept
    return "\n".join(line.rstrip() for line in inspect.cleandoc(text).splitlines())


def normalised(doc):
    """``doc`` with every description/summary string normalised, all else as it is."""
    if isinstance(doc, dict):
        return {
            key: _prose(value) if key in _PROSE_KEYS and isinstance(value, str) else normalised(value)
            for key, value in doc.items()
        }
    if isinstance(doc, list):
        return [normalised(item) for item in doc]
    return doc


def _differences(a, b, path: str = "$", limit: int = 10) -> list[str]:
    """Up to ``limit`` JSON paths where ``a`` (committed) and ``b`` (the app's) differ."""
    if type(a) is not type(b):
        return [f"{path}: committed {type(a).__name__}, app {type(b).__name__}"]
    out: list[str] = []
    if isinstance(a, dict):
        for key in sorted(a.keys() | b.keys()):
            if len(out) >= limit:
                break
            if key not in b:
                out.append(f"{path}.{key}: only in the committed file")
            elif key not in a:
                out.append(f"{path}.{key}: only in the app's document")
            else:
                out += _differences(a[key], b[key], f"{path}.{key}", limit - len(out))
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items committed, {len(b)} in the app's document")
        for i, (x, y) in enumerate(zip(a, b)):
            if len(out) >= limit:
                break
            out += _differences(x, y, f"{path}[{i}]", limit - len(out))
    elif a != b:
        out.append(f"{path}: committed {a!r:.120}, app {b!r:.120}")
    return out[:limit]


def assert_same_meaning(committed: dict, current: dict, what: str) -> None:
    committed, current = normalised(committed), normalised(current)
    if committed != current:
        diff = "\n  ".join(_differences(committed, current))
        raise AssertionError(f"{_HINT}; {what} differs at:\n  {diff}")


def test_committed_openapi_matches_the_app():
    assert_same_meaning(json.loads(OPENAPI_PATH.read_text()), json.loads(openapi_text()),
                        "the app's document")


def test_served_schema_is_the_committed_one(service):
    with service.client() as c:
        served = c.get("/schema/openapi.json").json()
    assert_same_meaning(json.loads(OPENAPI_PATH.read_text()), served, "the served /schema/openapi.json")


def test_normalisation_ignores_only_docstring_whitespace():
    old = {"description": "First line;\n    it goes on.\n\n    Second paragraph.  ",
           "properties": {"description": {"type": "string", "description": "x\n  y"}}}
    new = {"description": "First line;\nit goes on.\n\nSecond paragraph.",
           "properties": {"description": {"type": "string", "description": "x\ny"}}}
    assert normalised(old) == normalised(new)
    # words, other keys and values are compared as they are
    assert normalised({"description": "a b"}) != normalised({"description": "a  b"})
    assert normalised({"title": "a\n  b"}) != normalised({"title": "a\nb"})
    assert normalised({"example": {"x": " a"}}) != normalised({"example": {"x": "a"}})
