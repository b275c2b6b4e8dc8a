"""castlegate's domain: the data model, the store port and its adapters, the importers and
(in ``graph.analysis``) the metrics. Nothing here knows about HTTP."""
