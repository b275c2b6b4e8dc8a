"""Typed dependencies handed to route handlers."""

from litestar.di import NamedDependency

from graph.store.port import GraphStore

#: the graph store the app opened at start-up
Store = NamedDependency[GraphStore]
