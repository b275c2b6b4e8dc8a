"""Typed dependencies handed to route handlers."""

from litestar.di import NamedDependency

from graph.store.port import Store as _Store

#: the store the app opened at start-up (graphs and their audits)
Store = NamedDependency[_Store]
