"""The KeyStore contract, unchanged on sqlite and Neo4j: API keys round-trip exactly, are
listed oldest first (then by id), are revoked but never deleted, live apart from every
graph and outlast the store object that wrote them.

The Neo4j server is shared by every test (and keeps its keys between runs), so every key
here has a fresh random id and a list is only ever looked at for this test's keys.

The sqlite store alone: its file is private (0600) and its connections are pooled, so the
threads that come and go do not leave open files behind."""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest

from graph.keys import ApiKey, KeyNotFound, new_key
from graph.store.port import KeyStore, Store

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
US = timedelta(microseconds=1)
SERVER_KEY = b"s" * 32


def key(name: str = "k", at: datetime = T0, **fields) -> ApiKey:
    made, _ = new_key(name, fields.pop("scopes", ["read"]), fields.pop("graphs", ["g-*"]),
                      server_key=SERVER_KEY, now=at)
    return made if not fields else ApiKey(**{**_fields(made), **fields})


def _fields(k: ApiKey) -> dict:
    return {f: getattr(k, f) for f in k.__struct_fields__}


def mine(store, *keys: ApiKey) -> list[ApiKey]:
    ids = {k.id for k in keys}
    return [k for k in store.list_keys() if k.id in ids]


@pytest.fixture
def reopen(store, request):
    """Opens the same store again through a new object (sqlite: the same file; Neo4j: a
    new driver on the same server)."""
    server = request.getfixturevalue("neo4j_server") if store.kind == "neo4j" else None
    made = []

    def again():
        if server is None:
            from graph.store.sqlite import SqliteStore

            s = SqliteStore(store.path)
        else:
            from graph.store.neo4j import Neo4jStore

            s = Neo4jStore(server.uri, server.user, server.password)
        made.append(s)
        return s

    yield again
    for s in made:
        s.close()


def test_is_a_key_store(store):
    assert isinstance(store, KeyStore) and isinstance(store, Store)


def test_keys_round_trip_exactly(store):
    a = key("ci", T0, scopes=["read", "write"], graphs=["acme-*", "x"])
    # another zone, an empty grant list, a revoked time given at creation
    b = key("admin", datetime(2026, 3, 1, 14, 0, 0, 999999, tzinfo=timezone(timedelta(hours=2))),
            scopes=["admin"], graphs=[], revoked_at=T0 + timedelta(days=1, microseconds=1))
    for k in (a, b):
        created = store.create_key(k)
        assert created == k
        got = store.get_key(k.id)
        assert got == k
        assert (got.id, got.name, got.scopes, got.graphs, got.digest) == (
            k.id, k.name, k.scopes, k.graphs, k.digest)
        assert got.created_at == k.created_at and got.created_at.tzinfo is not None
        assert got.created_at.microsecond == k.created_at.microsecond
    assert store.get_key(a.id).revoked_at is None
    assert store.get_key(b.id).revoked_at == T0 + timedelta(days=1, microseconds=1)
    assert store.get_key(b.id).revoked_at.tzinfo is not None


def test_an_unknown_key_is_not_found(store):
    with pytest.raises(KeyNotFound):
        store.get_key(secrets.token_hex(8))


def test_list_is_oldest_first_then_by_id_revoked_included(store):
    later = key("later", T0 + 2 * US)
    first = key("first", T0)
    # two keys created in the same microsecond: the id decides
    x, y = sorted((key("x", T0 + US), key("y", T0 + US)), key=lambda k: k.id)
    for k in (later, y, first, x):
        store.create_key(k)
    store.revoke_key(x.id, T0 + timedelta(hours=1))
    assert [k.id for k in mine(store, later, first, x, y)] == [first.id, x.id, y.id, later.id]
    assert mine(store, x)[0].revoked_at == T0 + timedelta(hours=1)


def test_revoking_keeps_the_first_time_and_the_key(store):
    a = key("a", T0)
    store.create_key(a)
    first = store.revoke_key(a.id, T0 + timedelta(hours=1, microseconds=7))
    assert first.revoked_at == T0 + timedelta(hours=1, microseconds=7)
    assert first == ApiKey(**{**_fields(a), "revoked_at": T0 + timedelta(hours=1, microseconds=7)})
    again = store.revoke_key(a.id, T0 + timedelta(hours=2))
    assert again == first
    earlier = store.revoke_key(a.id, T0)
    assert earlier == first
    assert store.get_key(a.id) == first and mine(store, a) == [first]


def test_revoking_an_unknown_key_is_not_found(store):
    with pytest.raises(KeyNotFound):
        store.revoke_key(secrets.token_hex(8), T0)


def test_a_taken_id_is_refused(store):
    a = key("a", T0)
    store.create_key(a)
    with pytest.raises(ValueError):
        store.create_key(ApiKey(id=a.id, name="other", scopes=["admin"], graphs=["*"], digest="00",
                                created_at=T0 + US))
    assert store.get_key(a.id) == a
    # a revoked id stays taken
    store.revoke_key(a.id, T0 + US)
    with pytest.raises(ValueError):
        store.create_key(ApiKey(**{**_fields(a), "revoked_at": None}))
    assert store.get_key(a.id).revoked_at == T0 + US and mine(store, a)[0].name == "a"


def test_concurrent_creates_of_one_id_have_one_winner(store):
    a = key("a", T0)
    rivals = [ApiKey(**{**_fields(a), "name": f"rival-{i}"}) for i in range(8)]
    won, refused = [], []
    barrier = threading.Barrier(len(rivals))

    def create(k: ApiKey) -> None:
        barrier.wait()
        try:
            won.append(store.create_key(k))
        except ValueError:
            refused.append(k)

    ts = [threading.Thread(target=create, args=(k,)) for k in rivals]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(won) == 1 and len(refused) == len(rivals) - 1
    assert store.get_key(a.id) == won[0] and mine(store, a) == won


def test_times_without_a_zone_are_refused(store):
    a = key("a", T0)
    with pytest.raises(ValueError):
        store.create_key(ApiKey(**{**_fields(a), "created_at": T0.replace(tzinfo=None)}))
    with pytest.raises(KeyNotFound):
        store.get_key(a.id)
    store.create_key(a)
    with pytest.raises(ValueError):
        store.revoke_key(a.id, T0.replace(tzinfo=None))
    assert store.get_key(a.id).revoked_at is None


def test_keys_live_apart_from_graphs(store, graph_id):
    store.create_graph(graph_id)
    a = key("a", T0, graphs=[graph_id])
    b = key("b", T0 + US, graphs=[graph_id])
    store.create_key(a)
    store.create_key(b)
    store.revoke_key(b.id, T0 + timedelta(minutes=1))
    store.delete_graph(graph_id)
    assert store.get_key(a.id) == a
    assert [k.id for k in mine(store, a, b)] == [a.id, b.id]
    # a graph made again under the same id does not change them either
    store.create_graph(graph_id)
    store.delete_graph(graph_id)
    assert store.get_key(a.id) == a and store.get_key(b.id).revoked_at == T0 + timedelta(minutes=1)


def test_keys_survive_closing_and_reopening_the_store(store, reopen):
    a, b = key("a", T0), key("b", T0 + US, scopes=["admin"], graphs=["*"])
    store.create_key(a)
    store.create_key(b)
    revoked = store.revoke_key(b.id, T0 + timedelta(seconds=1))
    store.close()
    again = reopen()
    assert again.get_key(a.id) == a
    assert again.get_key(b.id) == revoked
    assert mine(again, a, b) == [a, revoked]
    # and the reopened store still refuses the ids and revokes
    with pytest.raises(ValueError):
        again.create_key(a)
    assert again.revoke_key(a.id, T0 + timedelta(seconds=2)).revoked_at == T0 + timedelta(seconds=2)


# the sqlite store's own file and connections --------------------------------------------

sqlite_only = pytest.mark.parametrize("store", ["sqlite"], indirect=True)


def _mode(path) -> int:
    return os.stat(path).st_mode & 0o777


def _store_files(path) -> list[str]:
    return [str(path) + s for s in ("", "-wal", "-shm")]


def test_sqlite_file_is_private_from_the_start(tmp_path):
    from graph.store.sqlite import SqliteStore

    path = tmp_path / "fresh" / "store.sqlite"
    old = os.umask(0)  # the store must not rely on the umask (nor change it)
    try:
        s = SqliteStore(path)
        assert os.umask(0) == 0  # left as it was
        s.create_key(key("a", T0))  # a write: the -wal and -shm exist now
        for p in _store_files(path):
            assert os.path.exists(p), p
            assert _mode(p) == 0o600, p
        s.close()
    finally:
        os.umask(old)


def test_sqlite_existing_files_are_made_private(tmp_path):
    from graph.store.sqlite import SqliteStore

    path = tmp_path / "store.sqlite"
    other = sqlite3.connect(path)  # kept open, so the -wal and -shm stay
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE t (x)")
    other.execute("INSERT INTO t VALUES (1)")
    other.commit()
    for p in _store_files(path):
        os.chmod(p, 0o644)
    try:
        s = SqliteStore(path)
        for p in _store_files(path):
            assert _mode(p) == 0o600, p
        assert s.list_keys() == []
        s.close()
    finally:
        other.close()


def _open_fds(path) -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                n += 1
        except OSError:
            pass
    return n


def _threads(n: int, fn) -> None:
    """Runs ``fn(i)`` in ``n`` threads released together, and waits for all of them."""
    barrier = threading.Barrier(n)
    errors: list = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            fn(i)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
@sqlite_only
def test_sqlite_connections_of_finished_threads_do_not_pile_up(store, graph_id):
    """A connection is borrowed per call, so what stays open is bounded by how many calls
    ran at once (here at most the 16 threads of a round), not by how many threads ever
    called: one connection per thread left 97 fds open after these 96 threads. (SQLite
    itself may keep a closed connection's fd while others hold locks on the file, and
    reuses it for the next open: bounded as well.)"""
    path = store.path.resolve()
    store.create_graph(graph_id)
    a = key("a", T0)
    store.create_key(a)

    def read(i: int) -> None:
        assert store.get_key(a.id) == a

    # one call at a time: 80 threads, one after the other, share one connection
    assert _open_fds(path) == 1
    for _ in range(80):
        _threads(1, read)
    assert _open_fds(path) == 1

    at_once = 16
    _threads(at_once, read)
    assert 1 <= _open_fds(path) <= at_once
    for _ in range(5):  # 80 more short-lived threads, each doing a read, all finished
        _threads(at_once, read)
        assert _open_fds(path) <= at_once

    def mixed(i: int) -> None:  # reads, a transaction, the audits mixin, an iterator
        store.get_graph(graph_id)
        store.list_audits(graph_id)
        store.read_snapshot(graph_id)
        list(store.iter_interactions(graph_id))
        if i % 4 == 0:
            store.revoke_key(a.id, T0 + timedelta(seconds=i))

    _threads(at_once, mixed)
    assert _open_fds(path) <= at_once
    store.close()
    assert _open_fds(path) == 0


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
@sqlite_only
def test_sqlite_an_abandoned_iterator_hands_its_connection_back(store, graph_id):
    from graph.model import Interaction, Kind

    store.create_graph(graph_id)
    store.add_interactions(graph_id, [
        Interaction(id=f"i{n}", kind=Kind.REPLY, source="a", target="b", at=T0 + n * US) for n in range(3)
    ])
    path = store.path.resolve()
    it = store.iter_interactions(graph_id)
    assert next(it).id == "i0"
    # other calls meanwhile, in the same thread, get a connection of their own
    store.create_key(key("a", T0))
    assert store.get_graph(graph_id).id == graph_id
    del it
    store.close()
    assert _open_fds(path) == 0
