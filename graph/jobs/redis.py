"""The production ``JobStore``: Redis, shared by every API replica and worker.

Every compare-and-set (submit, claim, heartbeat, finish, cancel, requeue, prune's delete,
the result bookkeeping and its eviction) is one Lua script, so it is atomic across
processes and costs one round trip; there are no WATCH loops. Plain reads are one
pipelined round trip.

Server requirements:

* Redis 6.2 or newer (``ZRANGE ... BYSCORE REV``, ``ZADD ... GT``); one primary, not
  Redis Cluster (the scripts derive index keys from job fields);
* its ``maxmemory-policy`` must be ``noeviction`` (the default) or one of the
  ``volatile-*`` policies, never ``allkeys-*``: those evict any key when memory runs
  short, including jobs, their indexes and the task queue's entries, which would lose
  work silently. The result cache is bounded by this store itself (``max_result_bytes``,
  least recently used first) and none of its keys carries a TTL, so a ``volatile-*``
  policy never touches it either; give Redis a ``maxmemory`` comfortably above
  ``max_result_bytes``.

Key layout (every key starts with ``prefix``, so two deployments can share one Redis):

========================  =====  =========================================================
``job:{id}``              hash   one job: one field per ``Job`` field, absent when None;
                                 strings as is, floats as ``repr``, times as integer
                                 microseconds since the epoch, params/args as JSON
``jobs:created``          zset   every job, score = created_at (µs); ties order by id
``jobs:graph:{g}``        zset   the jobs of graph g, same score
``jobs:status:{s}``       zset   the jobs in status s, same score
``jobs:gs:{s}:{g}``       zset   the jobs of graph g in status s, same score
``jobs:leases``           zset   running jobs, score = lease_until (epoch seconds)
``jobs:finished``         zset   finished jobs, score = finished_at (µs), for ``prune``
``jobkey:{key}``          str    the id of the newest job submitted for the key
``result:{key}``          str    a cached answer's bytes
``results:lru``           zset   result keys, score = last use (epoch seconds)
``results:size``          hash   result key -> bytes
``results:graph``         hash   result key -> graph
``results:g:{g}``         set    the result keys of graph g (``drop_graph``)
``results:bytes``         str    the byte total of every result
``worker:{id}``           str    a worker's last beat (JSON), expiring after its ttl
``workers``               set    the worker ids that beat (stale ids pruned on read)
========================  =====  =========================================================

Empty sorted sets and sets vanish by themselves, so a deleted graph leaves no index keys.
"""

from __future__ import annotations

import functools
import math
import time
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

import msgspec
import redis

from graph.errors import StoreUnavailable
from graph.jobs.model import FINISHED, Job, JobStatus
from graph.jobs.port import DEFAULT_MAX_RESULT_BYTES, JobNotFound, WorkerInfo

__all__ = ["RedisJobStore"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)

# how each Job field is kept in its hash
_STR = ("id", "graph", "key", "target", "status", "stage", "error", "error_kind",
        "graph_version", "result_key", "owner", "queue_id")
_FLOAT = ("progress", "lease_until")
_INT = ("attempts",)
_TIME = ("created_at", "started_at", "finished_at")
_JSON = ("params", "args")
assert {*_STR, *_FLOAT, *_INT, *_TIME, *_JSON} == set(Job.__struct_fields__), \
    "a Job field is missing from the Redis hash layout"
_DECODE = ({f: lambda v: v.decode() for f in _STR}
           | {f: float for f in _FLOAT} | {f: int for f in _INT}
           | {f: lambda v: _EPOCH + int(v) * _US for f in _TIME}
           | {f: msgspec.json.decode for f in _JSON})


class _Beat(msgspec.Struct):
    worker: WorkerInfo
    ttl: float


_decode_beat = msgspec.json.Decoder(_Beat).decode


def _us(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("timestamps must carry a timezone")
    return (at - _EPOCH) // _US


def _num(x: float) -> str:
    return repr(float(x))


def _fields(job: Job) -> list:
    """The job as flat hash field/value pairs (None fields left out)."""
    out: list = []
    for f in _STR:
        v = getattr(job, f)
        if v is not None:
            out += (f, v)
    for f in _FLOAT:
        v = getattr(job, f)
        if v is not None:
            out += (f, _num(v))
    for f in _INT:
        out += (f, str(int(getattr(job, f))))
    for f in _TIME:
        v = getattr(job, f)
        if v is not None:
            out += (f, str(_us(v)))
    for f in _JSON:
        out += (f, msgspec.json.encode(getattr(job, f)))
    return out


def _job(h: dict | list) -> Job | None:
    if isinstance(h, list):  # a script's HGETALL: flat pairs
        it = iter(h)
        h = dict(zip(it, it))
    if not h:
        return None
    kw = {}
    for name, value in h.items():
        name = name.decode()
        conv = _DECODE.get(name)
        if conv is not None:  # a field a newer version wrote is left alone
            kw[name] = conv(value)
    return Job(**kw)


# --- scripts --------------------------------------------------------------------------
# ARGV[1] is always the key prefix. Missing hash fields come back as false.

_LIB = """
local P = ARGV[1]
local function job_key(id) return P .. 'job:' .. id end
local function move(id, graph, from, to, score)
  redis.call('ZREM', P .. 'jobs:status:' .. from, id)
  redis.call('ZREM', P .. 'jobs:gs:' .. from .. ':' .. graph, id)
  redis.call('ZADD', P .. 'jobs:status:' .. to, score, id)
  redis.call('ZADD', P .. 'jobs:gs:' .. to .. ':' .. graph, score, id)
end
local function to_finished(id, graph, from, to, score, now)
  move(id, graph, from, to, score)
  redis.call('ZREM', P .. 'jobs:leases', id)
  redis.call('ZADD', P .. 'jobs:finished', now, id)
end
local function cancel_one(id, reason, now)
  local k = job_key(id)
  local h = redis.call('HMGET', k, 'status', 'graph', 'created_at')
  if h[1] ~= 'queued' and h[1] ~= 'running' then return false end
  -- the lease (owner, lease_until) stays: the worker's next heartbeat sees "cancelled"
  redis.call('HSET', k, 'status', 'cancelled', 'error', reason, 'error_kind', 'cancelled',
             'finished_at', now)
  to_finished(id, h[2], h[1], 'cancelled', h[3], now)
  return true
end
local function drop_result(key)
  local size = tonumber(redis.call('HGET', P .. 'results:size', key) or '0')
  local g = redis.call('HGET', P .. 'results:graph', key)
  redis.call('UNLINK', P .. 'result:' .. key)
  redis.call('HDEL', P .. 'results:size', key)
  redis.call('HDEL', P .. 'results:graph', key)
  if g then redis.call('SREM', P .. 'results:g:' .. g, key) end
  redis.call('ZREM', P .. 'results:lru', key)
  redis.call('DECRBY', P .. 'results:bytes', size)
  return size
end
"""

# ARGV: prefix, id, key, graph, created_us, field/value pairs...
_SUBMIT = _LIB + """
local id, key, graph, created = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local ptr = P .. 'jobkey:' .. key
local cur = redis.call('GET', ptr)
if cur then
  local k = job_key(cur)
  local h = redis.call('HMGET', k, 'status', 'result_key')
  if h[1] == 'queued' or h[1] == 'running' or
     (h[1] == 'done' and h[2] and redis.call('EXISTS', P .. 'result:' .. h[2]) == 1) then
    return redis.call('HGETALL', k)
  end
end
local k = job_key(id)
if redis.call('EXISTS', k) == 1 then
  return redis.error_reply('job ' .. id .. ' exists already')
end
redis.call('HSET', k, unpack(ARGV, 6))
redis.call('ZADD', P .. 'jobs:created', created, id)
redis.call('ZADD', P .. 'jobs:graph:' .. graph, created, id)
redis.call('ZADD', P .. 'jobs:status:queued', created, id)
redis.call('ZADD', P .. 'jobs:gs:queued:' .. graph, created, id)
redis.call('SET', ptr, id)
return 1
"""

# ARGV: prefix, id, queue_id
_SET_QUEUE_ID = _LIB + """
local k = job_key(ARGV[2])
if redis.call('EXISTS', k) == 0 then return 0 end
redis.call('HSET', k, 'queue_id', ARGV[3])
return 1
"""

# ARGV: prefix, id, owner, lease_until, now_us
_CLAIM = _LIB + """
local id = ARGV[2]
local k = job_key(id)
local h = redis.call('HMGET', k, 'status', 'graph', 'created_at')
if h[1] ~= 'queued' then return false end
redis.call('HSET', k, 'status', 'running', 'owner', ARGV[3], 'lease_until', ARGV[4],
           'started_at', ARGV[5])
redis.call('HINCRBY', k, 'attempts', 1)
move(id, h[2], 'queued', 'running', h[3])
redis.call('ZADD', P .. 'jobs:leases', ARGV[4], id)
return redis.call('HGETALL', k)
"""

# ARGV: prefix, id, owner, lease_until, field/value pairs (stage, progress)...
_HEARTBEAT = _LIB + """
local id = ARGV[2]
local k = job_key(id)
local h = redis.call('HMGET', k, 'status', 'owner')
if not h[1] then return 'gone' end
if h[1] == 'running' and h[2] == ARGV[3] then
  redis.call('HSET', k, 'lease_until', ARGV[4], unpack(ARGV, 5))
  redis.call('ZADD', P .. 'jobs:leases', ARGV[4], id)
end
return h[1]
"""

# ARGV: prefix, id, owner, status, now_us, field/value pairs...
_FINISH = _LIB + """
local id = ARGV[2]
local k = job_key(id)
local h = redis.call('HMGET', k, 'status', 'owner', 'graph', 'created_at')
if h[1] ~= 'running' or h[2] ~= ARGV[3] then return 0 end
redis.call('HSET', k, 'status', ARGV[4], 'finished_at', ARGV[5], unpack(ARGV, 6))
redis.call('HDEL', k, 'lease_until')
to_finished(id, h[3], 'running', ARGV[4], h[4], ARGV[5])
return 1
"""

# ARGV: prefix, id, reason, now_us
_CANCEL = _LIB + """
local k = job_key(ARGV[2])
if redis.call('EXISTS', k) == 0 then return false end
cancel_one(ARGV[2], ARGV[3], ARGV[4])
return redis.call('HGETALL', k)
"""

# ARGV: prefix, graph, reason, now_us
_CANCEL_GRAPH = _LIB + """
local out = {}
for _, s in ipairs({'queued', 'running'}) do
  local ids = redis.call('ZRANGE', P .. 'jobs:gs:' .. s .. ':' .. ARGV[2], 0, -1)
  for _, id in ipairs(ids) do
    if cancel_one(id, ARGV[3], ARGV[4]) then
      table.insert(out, redis.call('HGETALL', job_key(id)))
    end
  end
end
return out
"""

# ARGV: prefix, id, owner, max_attempts, now_us, now (epoch seconds)
_REQUEUE = _LIB + """
local id = ARGV[2]
local k = job_key(id)
local h = redis.call('HMGET', k, 'status', 'owner', 'lease_until', 'attempts', 'graph',
                     'created_at')
if h[1] ~= 'running' or h[2] ~= ARGV[3] then return false end
if not h[3] or tonumber(h[3]) >= tonumber(ARGV[6]) then return false end
local attempts = tonumber(h[4] or '0')
if attempts >= tonumber(ARGV[4]) then
  redis.call('HSET', k, 'status', 'failed', 'error_kind', 'worker_lost',
             'error', 'the worker running it was lost ' .. attempts .. ' times',
             'finished_at', ARGV[5])
  redis.call('HDEL', k, 'lease_until')
  to_finished(id, h[5], 'running', 'failed', h[6], ARGV[5])
else
  redis.call('HSET', k, 'status', 'queued')
  redis.call('HDEL', k, 'owner', 'lease_until')
  redis.call('ZREM', P .. 'jobs:leases', id)
  move(id, h[5], 'running', 'queued', h[6])
end
return redis.call('HGETALL', k)
"""

# ARGV: prefix, ids... (finished jobs to delete; anything else is left alone)
_DELETE_FINISHED = _LIB + """
local n = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local k = job_key(id)
  local h = redis.call('HMGET', k, 'status', 'graph', 'key')
  if h[1] == 'done' or h[1] == 'failed' or h[1] == 'cancelled' then
    redis.call('DEL', k)
    redis.call('ZREM', P .. 'jobs:created', id)
    redis.call('ZREM', P .. 'jobs:graph:' .. h[2], id)
    redis.call('ZREM', P .. 'jobs:status:' .. h[1], id)
    redis.call('ZREM', P .. 'jobs:gs:' .. h[1] .. ':' .. h[2], id)
    redis.call('ZREM', P .. 'jobs:leases', id)
    local ptr = P .. 'jobkey:' .. h[3]
    if redis.call('GET', ptr) == id then redis.call('DEL', ptr) end
    n = n + 1
  end
  -- only finished jobs are ever in this set: a stale entry goes too
  redis.call('ZREM', P .. 'jobs:finished', id)
end
return n
"""

# Runs right after SET result:{key} in the same MULTI. ARGV: prefix, key, graph, now, max
_PUT_RESULT = _LIB + """
local key, graph = ARGV[2], ARGV[3]
local size = redis.call('STRLEN', P .. 'result:' .. key)
local old = redis.call('HGET', P .. 'results:size', key)
if old then
  redis.call('DECRBY', P .. 'results:bytes', old)
  local og = redis.call('HGET', P .. 'results:graph', key)
  if og then redis.call('SREM', P .. 'results:g:' .. og, key) end
end
redis.call('HSET', P .. 'results:size', key, size)
redis.call('HSET', P .. 'results:graph', key, graph)
redis.call('SADD', P .. 'results:g:' .. graph, key)
redis.call('ZADD', P .. 'results:lru', ARGV[4], key)
local bytes = redis.call('INCRBY', P .. 'results:bytes', size)
local max = tonumber(ARGV[5])
local evicted = 0
while bytes > max do
  local oldest = redis.call('ZRANGE', P .. 'results:lru', 0, 1)
  local victim = oldest[1]
  if victim == key then victim = oldest[2] end
  if not victim then break end
  bytes = bytes - drop_result(victim)
  evicted = evicted + 1
end
return evicted
"""

# ARGV: prefix, graph
_DROP_GRAPH = _LIB + """
local keys = redis.call('SMEMBERS', P .. 'results:g:' .. ARGV[2])
for _, key in ipairs(keys) do drop_result(key) end
redis.call('DEL', P .. 'results:g:' .. ARGV[2])
return #keys
"""

# ARGV: prefix
_WORKERS = _LIB + """
local ids = redis.call('SMEMBERS', P .. 'workers')
local out = {}
for _, id in ipairs(ids) do
  local v = redis.call('GET', P .. 'worker:' .. id)
  if v then table.insert(out, v) else redis.call('SREM', P .. 'workers', id) end
end
return out
"""

#: finished jobs deleted per script call in ``prune`` (keeps each call short: a script
#: blocks the whole server while it runs)
_PRUNE_BATCH = 500


class RedisJobStore:
    kind = "redis"

    def __init__(self, url: str, *, prefix: str = "castlegate:",
                 max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
                 clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.prefix = prefix
        self.max_result_bytes = max_result_bytes
        #: epoch seconds for result recency (the only clock the store reads itself)
        self.clock = clock
        # timeouts unless the URL sets its own (``?socket_timeout=...``): a Redis that stops
        # answering becomes StoreUnavailable instead of a hung request
        self._r = redis.Redis.from_url(url, decode_responses=False, socket_connect_timeout=10,
                                       socket_timeout=60)
        s = self._r.register_script
        self._submit, self._set_queue_id, self._claim = s(_SUBMIT), s(_SET_QUEUE_ID), s(_CLAIM)
        self._heartbeat, self._finish, self._cancel = s(_HEARTBEAT), s(_FINISH), s(_CANCEL)
        self._cancel_graph, self._requeue = s(_CANCEL_GRAPH), s(_REQUEUE)
        self._delete_finished, self._put_result = s(_DELETE_FINISHED), s(_PUT_RESULT)
        self._drop_graph, self._workers = s(_DROP_GRAPH), s(_WORKERS)

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _run(self, script, *args, client=None):
        return script(keys=[], args=[self.prefix, *args], client=client)

    def _jobs(self, ids: Iterable[bytes | str]) -> list[Job | None]:
        pipe = self._r.pipeline(transaction=False)
        for i in ids:
            pipe.hgetall(self._k("job", i.decode() if isinstance(i, bytes) else i))
        return [_job(h) for h in pipe.execute()]

    def close(self) -> None:
        self._r.close()

    # jobs -------------------------------------------------------------------------------
    def submit(self, job: Job) -> tuple[Job, bool]:
        if job.status != JobStatus.QUEUED:
            raise ValueError(f"a submitted job is queued, not {job.status!r}")
        try:
            r = self._run(self._submit, job.id, job.key, job.graph, str(_us(job.created_at)),
                          *_fields(job))
        except redis.ResponseError as e:
            if "exists already" in str(e):
                raise ValueError(f"job {job.id!r} exists already") from None
            raise
        if isinstance(r, list):
            return _job(r), False
        return job, True

    def set_queue_id(self, job_id: str, queue_id: str) -> None:
        if not self._run(self._set_queue_id, job_id, queue_id):
            raise JobNotFound(job_id)

    def get(self, job_id: str) -> Job:
        job = _job(self._r.hgetall(self._k("job", job_id)))
        if job is None:
            raise JobNotFound(job_id)
        return job

    def list(self, *, graph: str | None = None, status: str | None = None, limit: int = 50,
             after: str | None = None) -> list[Job]:
        if graph is not None and status is not None:
            index = self._k("jobs", "gs", status, graph)
        elif graph is not None:
            index = self._k("jobs", "graph", graph)
        elif status is not None:
            index = self._k("jobs", "status", status)
        else:
            index = self._k("jobs", "created")
        cursor = None
        if after is not None:
            score = self._r.zscore(self._k("jobs", "created"), after)
            if score is None:
                raise JobNotFound(after)
            cursor = (after.encode(), score)
        out: list[Job] = []
        while len(out) < limit:
            page = self._newest(index, cursor, limit - len(out))
            if not page:
                break
            for job in self._jobs(m for m, _ in page):
                # the index and the hash are read apart: a job that changed status or was
                # pruned in between is left out, as a later read would
                if (job is not None and (graph is None or job.graph == graph)
                        and (status is None or job.status == status)):
                    out.append(job)
            cursor = page[-1]
        return out

    def _newest(self, index: str, cursor: tuple[bytes, float] | None,
                n: int) -> list[tuple[bytes, float]]:
        """Up to ``n`` (member, score) of ``index`` after ``cursor`` in newest-first order
        (score descending, then member descending, as Redis orders equal scores)."""
        if cursor is None:
            return self._r.zrange(index, "+inf", "-inf", desc=True, byscore=True,
                                  withscores=True, offset=0, num=n)
        member, score = cursor
        # equal created_at: the members ranked below the cursor's among them
        ties = [(m, s) for m, s in self._r.zrange(index, score, score, desc=True, byscore=True,
                                                  withscores=True) if m < member][:n]
        if len(ties) < n:
            ties += self._r.zrange(index, f"({score!r}", "-inf", desc=True, byscore=True,
                                   withscores=True, offset=0, num=n - len(ties))
        return ties

    def claim(self, job_id: str, owner: str, lease_until: float, now: datetime) -> Job | None:
        r = self._run(self._claim, job_id, owner, _num(lease_until), str(_us(now)))
        return None if r is None else _job(r)

    def heartbeat(self, job_id: str, owner: str, lease_until: float, *, stage: str | None = None,
                  progress: float | None = None) -> str:
        extra: list = []
        if stage is not None:
            extra += ("stage", stage)
        if progress is not None:
            extra += ("progress", _num(progress))
        return self._run(self._heartbeat, job_id, owner, _num(lease_until), *extra).decode()

    def finish(self, job_id: str, owner: str, status: str, *, now: datetime, error: str | None = None,
               error_kind: str | None = None, result_key: str | None = None,
               graph_version: str | None = None) -> bool:
        if status not in FINISHED:
            raise ValueError(f"a job finishes done, failed or cancelled, not {status!r}")
        extra: list = ["progress", "1.0"] if status == JobStatus.DONE else []
        for name, value in (("error", error), ("error_kind", error_kind),
                            ("result_key", result_key), ("graph_version", graph_version)):
            if value is not None:
                extra += (name, value)
        return bool(self._run(self._finish, job_id, owner, status, str(_us(now)), *extra))

    def cancel(self, job_id: str, reason: str, now: datetime) -> Job:
        r = self._run(self._cancel, job_id, reason, str(_us(now)))
        if r is None:
            raise JobNotFound(job_id)
        return _job(r)

    def cancel_graph(self, graph: str, reason: str, now: datetime) -> list[Job]:
        jobs = [_job(h) for h in self._run(self._cancel_graph, graph, reason, str(_us(now)))]
        return sorted(jobs, key=lambda j: (j.created_at, j.id))

    def expired(self, now: float) -> list[Job]:
        ids = self._r.zrange(self._k("jobs", "leases"), "-inf", f"({_num(now)}", byscore=True)
        jobs = [j for j in self._jobs(ids)
                if j is not None and j.status == JobStatus.RUNNING
                and j.lease_until is not None and j.lease_until < now]
        return sorted(jobs, key=lambda j: (j.lease_until, j.id))

    def requeue(self, job_id: str, owner: str, *, max_attempts: int, now: datetime) -> Job | None:
        r = self._run(self._requeue, job_id, owner, str(int(max_attempts)), str(_us(now)),
                      _num(now.timestamp()))
        return None if r is None else _job(r)

    def active_count(self, graph: str) -> int:
        pipe = self._r.pipeline(transaction=False)
        pipe.zcard(self._k("jobs", "gs", JobStatus.QUEUED, graph))
        pipe.zcard(self._k("jobs", "gs", JobStatus.RUNNING, graph))
        return sum(pipe.execute())

    def prune(self, now: datetime, *, keep_seconds: float, keep_max: int) -> int:
        finished = self._k("jobs", "finished")
        cutoff = _us(now) - round(keep_seconds * 1e6)
        n = 0
        while True:  # finished more than keep_seconds ago
            ids = self._r.zrange(finished, "-inf", f"({cutoff}", byscore=True, offset=0,
                                 num=_PRUNE_BATCH)
            if not ids:
                break
            n += self._run(self._delete_finished, *ids)
        while True:  # the oldest beyond keep_max
            excess = self._r.zcard(finished) - max(0, keep_max)
            if excess <= 0:
                break
            ids = self._r.zrange(finished, 0, min(excess, _PRUNE_BATCH) - 1)
            n += self._run(self._delete_finished, *ids)
        return n

    # results ----------------------------------------------------------------------------
    def put_result(self, key: str, graph: str, data: bytes) -> bool:
        if len(data) * 2 > self.max_result_bytes:
            return False
        # SET and the bookkeeping script in one MULTI: atomic, and the bytes go to Redis
        # once instead of being copied into the script's Lua heap as well
        pipe = self._r.pipeline(transaction=True)
        pipe.set(self._k("result", key), data)
        self._run(self._put_result, key, graph, _num(self.clock()), str(self.max_result_bytes),
                  client=pipe)
        pipe.execute()
        return True

    def get_result(self, key: str) -> bytes | None:
        pipe = self._r.pipeline(transaction=False)
        pipe.get(self._k("result", key))
        # XX: a miss (or an entry evicted meanwhile) adds nothing; GT: never back in time
        pipe.zadd(self._k("results", "lru"), {key: self.clock()}, xx=True, gt=True)
        data, _ = pipe.execute()
        return data

    def has_result(self, key: str) -> bool:
        return bool(self._r.exists(self._k("result", key)))

    def drop_graph(self, graph: str) -> int:
        return self._run(self._drop_graph, graph)

    def result_usage(self) -> tuple[int, int]:
        pipe = self._r.pipeline(transaction=False)
        pipe.hlen(self._k("results", "size"))
        pipe.get(self._k("results", "bytes"))
        entries, size = pipe.execute()
        return entries, int(size or 0)

    # workers ----------------------------------------------------------------------------
    def beat_worker(self, worker: WorkerInfo, ttl: float) -> None:
        _us(worker.last_seen)
        pipe = self._r.pipeline(transaction=True)
        # the key's own expiry (server clock) only collects garbage; ``workers(now)``
        # decides by last_seen + ttl on the caller's clock
        pipe.set(self._k("worker", worker.id), msgspec.json.encode(_Beat(worker, ttl)),
                 px=max(1, math.ceil(ttl * 1000)))
        pipe.sadd(self._k("workers"), worker.id)
        pipe.execute()

    def drop_worker(self, worker_id: str) -> None:
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(self._k("worker", worker_id))
        pipe.srem(self._k("workers"), worker_id)
        pipe.execute()

    def workers(self, now: datetime) -> list[WorkerInfo]:
        _us(now)
        beats = [_decode_beat(v) for v in self._run(self._workers)]
        alive = [b.worker for b in beats
                 if b.worker.last_seen + timedelta(seconds=b.ttl) >= now]
        return sorted(alive, key=lambda w: (w.started_at, w.id))


def _unavailable(method):
    """Redis unreachable (or timing out) is the domain's ``StoreUnavailable``."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise StoreUnavailable(f"redis: {e}") from e

    return wrapper


for _name, _method in list(vars(RedisJobStore).items()):
    if not _name.startswith("_") and callable(_method) and _name != "close":
        setattr(RedisJobStore, _name, _unavailable(_method))
del _name, _method
