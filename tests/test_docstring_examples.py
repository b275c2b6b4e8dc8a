"""Every example in a docstring of graph/ (and the scheduler's) runs and gives what it
shows: the examples are documentation users copy, so they must not rot."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import graph

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(graph.__path__, "graph.") if not m.ispkg
) + ["service.scheduler"]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
