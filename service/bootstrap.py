"""Choosing and opening the store from settings."""

from __future__ import annotations

from graph.store.port import Store
from service.settings import Settings


def open_store(settings: Settings) -> Store:
    """Neo4j when ``NEO4J_URI`` is set, else the embedded sqlite file.

    With only ``NEO4J_URI`` set and it pointing at the project's own local server, the
    credentials come from that server's credentials file, the same one ``castlegate neo4j
    start`` writes, so both commands read one local config.
    """
    if settings.neo4j_uri:
        from graph.store.neo4j import Neo4jStore

        user, password = settings.neo4j_user, settings.neo4j_password
        if password is None:
            from service.neo4j_local import local_credentials_for

            creds = local_credentials_for(settings.neo4j_uri)
            if creds is None:
                raise SystemExit(
                    f"NEO4J_URI={settings.neo4j_uri} is not the local server started by"
                    " 'castlegate neo4j start'; set NEO4J_PASSWORD (and NEO4J_USER)"
                )
            user, password = creds.user, creds.password
        return Neo4jStore(settings.neo4j_uri, user, password, settings.neo4j_database)
    from graph.store.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)
