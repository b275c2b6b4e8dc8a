"""Implementations of ``graph.analysis.engine.Engine``."""
