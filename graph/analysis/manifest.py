"""The manifest every analysis result carries, so that any number can be reproduced."""

from __future__ import annotations

from datetime import datetime
from importlib import metadata
from typing import Annotated

import msgspec

from graph.analysis.params import AnalysisParams

__all__ = ["Libraries", "Manifest", "library_versions"]

#: library -> version: the libraries that computed the numbers (open: an engine's own)
Libraries = Annotated[dict[str, str], msgspec.Meta(title="Libraries")]


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    graph: str
    graph_version: str
    store: str
    layers: list[str]
    since: datetime | None
    until: datetime | None
    #: normalised (layers sorted)
    parameters: AnalysisParams
    #: the analyses this run computed (a scheduled audit skips those it does not use)
    analyses: list[str]
    seed: int
    engine: str
    libraries: Libraries
    #: true when every interaction analysed carries the static date 1970-01-01Z, as those
    #: of a static network file do (edge lists without time, GML, GraphML, GEXF, Gephi
    #: tables): ``since``/``until`` and anything ordered in time (pods) mean nothing on
    #: it. ``null``: not known (no interaction read, or results filed before this field)
    static_time: bool | None = None
    computed_at: datetime
    duration_seconds: float


def library_versions(*names: str) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
