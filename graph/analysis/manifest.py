"""The manifest every analysis result carries, so that any number can be reproduced."""

from __future__ import annotations

from datetime import datetime
from importlib import metadata

import msgspec

__all__ = ["Manifest", "library_versions"]


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    graph: str
    graph_version: str
    store: str
    layers: list[str]
    since: datetime | None
    until: datetime | None
    parameters: dict[str, object]
    #: the analyses this run computed (a scheduled audit skips those it does not use)
    analyses: list[str]
    seed: int
    engine: str
    libraries: dict[str, str]
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
