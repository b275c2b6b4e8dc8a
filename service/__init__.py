"""castlegate's service: HTTP (Litestar), the CLI and configuration. The domain lives in
``graph``; nothing here computes a metric or talks Cypher/SQL."""

__version__ = "0.1.0"
