"""Exports of an analysed graph as files analysts open in Gephi, NodeXL, networkx or
pandas.

Three formats, one module each, each one public function taking the analysis
(``graph.analysis.stages.Inputs``) and returning the file as an iterator of byte chunks,
so that a big graph streams instead of sitting in memory:

- ``gexf``: GEXF 1.3 (:func:`graph.export.gexf.gexf`), dynamic: Gephi's timeline replays
  when each pair interacted; communities coloured, gatekeepers drawn larger;
- ``graphml``: GraphML (:func:`graph.export.graphml.graphml`), typed attributes, parallel
  edges per kind (networkx reads a ``MultiDiGraph``);
- ``csv``: a zip of ``nodes.csv`` and ``edges.csv`` (:func:`graph.export.tables.csv_zip`)
  in Gephi's spreadsheet-import layout, guarded against formula injection.

Every format writes the same rows (``graph.export.attributes``): one node per account,
its community, whether that community is a castle, its pods, its brokerage role
(Gould–Fernandez) and module role (Guimerà–Amaral, its place inside its own community)
and the other role metrics, its gatekeeper and trusted-voice scores when listed; one edge
per (source, target, kind) with the interaction count and first and last time.

An export reads ``x.g`` and the stage results named in ``NEEDS``; ``stages.plan(NEEDS)``
lists what to compute, their inputs ("nulls") included. ``meta`` (graph id, version,
parameters: manifest facts) goes into the file's header.

Example
-------
>>> sorted(FORMATS)
['csv', 'gexf', 'graphml']
>>> FORMATS["gexf"].media_type, FORMATS["gexf"].extension
('application/gexf+xml', 'gexf')
>>> from graph.analysis.stages import plan
>>> [s.name for s in plan(NEEDS)]
['communities', 'roles', 'gatekeepers', 'pods', 'trusted', 'nulls', 'castles']
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping, NamedTuple

from graph.analysis.stages import Inputs
from graph.export.attributes import NEEDS
from graph.export.gexf import gexf
from graph.export.graphml import graphml
from graph.export.tables import csv_zip

__all__ = ["FORMATS", "NEEDS", "Format", "gexf", "graphml", "csv_zip"]


class Format(NamedTuple):
    media_type: str
    #: the file name extension, without the dot
    extension: str
    #: ``write(inputs, meta) -> iterator of bytes``
    write: Callable[[Inputs, Mapping[str, Any] | None], Iterator[bytes]]


FORMATS: dict[str, Format] = {
    # GEXF has no registered media type; application/gexf+xml is the one gexf.net and
    # Gephi's own site use
    "gexf": Format("application/gexf+xml", "gexf", gexf),
    "graphml": Format("application/graphml+xml", "graphml", graphml),
    "csv": Format("application/zip", "zip", csv_zip),
}
