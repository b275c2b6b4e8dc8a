"""The API contract, fuzzed: schemathesis against a real ``castlegate serve``.

One server (embedded sqlite store, a fresh data folder, its own worker) is started for the
module, with ``CASTLEGATE_RATE_LIMIT`` and ``CASTLEGATE_MAX_ACTIVE_JOBS_PER_GRAPH`` raised
so that no 429 masks an answer, and ``CASTLEGATE_ANSWER_WAIT=0`` so that an analysis
answers 202 at once. Its OpenAPI document is loaded from the server (``/schema/openapi.json``,
the committed one: ``tests/test_openapi.py``) and every operation is run through
schemathesis' coverage phase (boundary and invalid values of every parameter and field,
missing credentials, methods the path does not have) and fuzzing phase with the admin key
(the Python API: ``schemathesis.engine``, what ``schemathesis run`` runs), then its
stateful phase follows the document's links (create a graph, then use and delete it; an
audit, its runs; an analysis job; an API key). The document has no examples, so the
examples phase is off.

What the fuzzer may touch: ``{graph}`` is, most of the time, a throwaway graph this module
creates and fills (a dictionary binding: the rest of the time it is generated, or comes
from a graph the stateful phase created), ``deleteGraph`` only ever names graphs made to be
deleted, ``{audit}``, ``{run}``, ``{job}`` and ``{key}`` are often ones made here. The demo
graph does not exist in this data folder, and no request names it.

Everything is seeded (``seed``, ``deterministic``: Hypothesis derandomized, no example
database, no schemathesis cache, no generation steered by earlier answers), so the coverage
and fuzzing phases send the same requests every run (the test prints their digest, the
server's random ids masked). The stateful phase follows the server's answers (the ids it
makes, whether an analysis is answered yet), so its later steps may vary. Any finding fails
the test with schemathesis' report: the check, the answer and the ``curl`` line (for a
sequence, the lines) that reproduce it.

Checks, all of them on every answer:

* ``not_a_server_error``: no 5xx, ever;
* ``status_code_conformance``, ``content_type_conformance``, ``response_headers_conformance``
  (a documented required header is there and well formed), ``response_schema_conformance``;
* ``negative_data_rejection``: what the document says is invalid is refused (4xx);
* ``positive_data_acceptance``, with 422 and (for imports) 415 among the accepted answers:
  a 422 is the domain's refusal of input the document can describe but not decide (an
  account the graph does not hold, ``until`` not after ``since``, an ISO 8601 duration or a
  cron line that does not parse, a file whose records are bad), and an import's
  Content-Type must fit its ``format``, which OpenAPI cannot tie together. What stays a
  failure is a 400 (the server's own decoding refusing what the document allows) or a 5xx;
* ``unsupported_method`` and ``allow_header_conformance``: a method the path does not have
  is 405 with ``Allow``, and ``Allow`` (also on OPTIONS) names the path's methods;
* ``missing_required_header``, ``ignored_auth`` (a request without the key, or with a bad
  one, is refused), and in the stateful phase ``use_after_free`` (what was deleted is gone)
  and ``ensure_resource_availability`` (what was created is there).

``object_level_authorization`` is left out: it needs a second key's point of view, which
``tests/api/test_auth_api.py`` tests directly. ``use_after_free`` is off for reading a job
or a key: their DELETE cancels or revokes, and they stay readable with that status
(documented). Last, the analyses the fuzzed parameters started must not have failed on the
worker's side (a failed job is a 500 when its answer is asked again).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from typing import Iterator

import httpx
import pytest
import schemathesis  # pinned, with hypothesis, in requirements/lock.txt
from schemathesis.config import SchemathesisConfig

from service.routes.analysis import answer_url
from tests.conftest import Service, start_service

SEED = 20260101
#: generated cases per operation in the fuzzing phase (the coverage phase adds its own
#: boundary and negative cases, the examples phase the document's examples)
MAX_EXAMPLES = 100
#: stateful scenarios (chains of linked calls), and steps in each at most
STATEFUL_SCENARIOS = 200
STATEFUL_STEPS = 10

THROWAWAY = "contract-throwaway"
ACCOUNTS = [f"acct-{i}" for i in range(8)]
DOOMED = [f"contract-doomed-{i}" for i in range(12)]

ENV = {
    "CASTLEGATE_RATE_LIMIT": "10000000",
    "CASTLEGATE_MAX_ACTIVE_JOBS_PER_GRAPH": "10000000",
    "CASTLEGATE_ANSWER_WAIT": "0",
    "CASTLEGATE_WORKER_CONCURRENCY": "1",
    # audits are scheduled and read, never run: no webhook leaves the machine
    "CASTLEGATE_SCHEDULER": "off",
}


# ----------------------------------------------------------------- NDJSON on the wire

@schemathesis.serializer("application/x-ndjson", "application/jsonl", "application/ndjson")
def _ndjson(ctx, value) -> bytes:
    """A batch (an array) one item a line; an import's text as it is."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, list):
        return b"".join(json.dumps(v).encode() + b"\n" for v in value)
    return json.dumps(value).encode() + b"\n"


# ----------------------------------------------------------------- the server and its data

def _interactions() -> list[dict]:
    out, n = [], 0
    for i, s in enumerate(ACCOUNTS):
        for j, t in enumerate(ACCOUNTS):
            if s == t or (i + j) % 3 == 0:
                continue
            for kind in ("reply", "mention", "quote", "repost", "like", "follow"):
                out.append({"id": f"e{n}", "kind": kind, "source": s, "target": t,
                            "at": f"2026-01-{1 + n % 28:02d}T12:{n % 60:02d}:00Z", "object": f"post-{n % 9}"})
                n += 1
    return out


def _wait_done(c: httpx.Client, job: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        j = c.get(f"/v1/analyses/{job}").json()
        if j["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return j
        time.sleep(0.2)


@pytest.fixture(scope="module")
def contract_service(tmp_path_factory) -> Iterator[tuple[Service, dict]]:
    """The server, with a throwaway graph that has something to analyse, graphs made to be
    deleted, an audit, a run, jobs and a key the fuzzer can find by id."""
    svc = start_service(tmp_path_factory.mktemp("contract"), ENV)
    try:
        with svc.client() as c:
            assert c.post("/v1/graphs", json={"id": THROWAWAY, "description": "fuzzed"}).status_code == 201
            for g in DOOMED:
                assert c.post("/v1/graphs", json={"id": g}).status_code == 201
            r = c.post(f"/v1/graphs/{THROWAWAY}/interactions", json=_interactions())
            assert r.status_code == 200, r.text
            r = c.post(f"/v1/graphs/{THROWAWAY}/accounts",
                       json=[{"id": a, "followers": 10 * i, "handle": f"@{a}"} for i, a in enumerate(ACCOUNTS)])
            assert r.status_code == 200, r.text
            audits = []
            for i, a in enumerate(ACCOUNTS[:4]):
                r = c.post(f"/v1/graphs/{THROWAWAY}/audits", json={"account": a, "every": "P1D", "paused": i % 2 == 1})
                assert r.status_code == 201, r.text
                audits.append(r.json()["id"])
            r = c.post(f"/v1/graphs/{THROWAWAY}/audits/{audits[0]}/run")
            assert r.status_code == 202, r.text
            runs = [r.json()["id"]]
            # answers computed beforehand, so that requests with the default parameters get
            # the 200 (and its schema is checked), not only the 202 of a job
            jobs = []
            for route in ("communities", "gatekeepers", "trusted-voices", "castles", "pods", "polarization",
                          f"accounts/{ACCOUNTS[1]}/roles", f"accounts/{ACCOUNTS[1]}/diversity"):
                r = c.get(f"/v1/graphs/{THROWAWAY}/{route}")
                assert r.status_code in (200, 202), r.text
                if r.status_code == 202:
                    jobs.append(r.json()["id"])
            r = c.post(f"/v1/graphs/{THROWAWAY}/reach", json={"accounts": ACCOUNTS[:3]})
            jobs.append(r.json()["id"])
            for job in jobs:
                assert _wait_done(c, job)["status"] == "done"
            r = c.post("/v1/keys", json={"name": "fuzzed", "scopes": ["read"], "graphs": [THROWAWAY]})
            assert r.status_code == 201, r.text
            ids = {"audits": audits, "runs": runs, "jobs": jobs, "keys": [r.json()["id"]]}
        yield svc, ids
    finally:
        svc.stop()


def _config(svc: Service, ids: dict) -> SchemathesisConfig:
    bind = lambda name, p: {"dictionary": name, "probability": p}  # noqa: E731
    checks = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
              "response_headers_conformance", "response_schema_conformance", "negative_data_rejection",
              "positive_data_acceptance", "unsupported_method", "allow_header_conformance",
              "missing_required_header", "ignored_auth", "use_after_free", "ensure_resource_availability"]
    accepted = ["2xx", "401", "403", "404", "409", "422", "429"]
    return SchemathesisConfig.from_dict({
        "seed": SEED,
        # no cache of earlier runs' observations (it would steer this run; and no .schemathesis/ folder)
        "cache": {"enabled": False},
        "headers": {"Authorization": f"Bearer {svc.token}"},
        "request-timeout": 60,
        "workers": 1,
        # every finding of an operation, not only its first
        "continue-on-failure": True,
        "generation": {"deterministic": True, "database": "none", "max-examples": MAX_EXAMPLES},
        # the document carries no examples: the coverage phase sends its boundary values instead
        # what is sent depends on the seed alone, not on earlier answers (their ids are random)
        "phases": {"examples": {"enabled": False},
                   "coverage": {"extra-data-sources": {"responses": False}},
                   "fuzzing": {"extra-data-sources": {"responses": False}, "error-feedback": {"enabled": False}},
                   "stateful": {"max-steps": STATEFUL_STEPS, "generation": {"max-examples": STATEFUL_SCENARIOS}}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in checks},
                   "positive_data_acceptance": {"enabled": True, "expected-statuses": accepted}},
        "dictionaries": {
            "graphs": {"values": [THROWAWAY]},
            "doomed": {"values": DOOMED},
            "accounts": {"values": ACCOUNTS},
            "audits": {"values": ids["audits"]},
            "runs": {"values": ids["runs"]},
            "jobs": {"values": ids["jobs"]},
            "keys": {"values": ids["keys"]},
            "kinds": {"values": ["reply,mention", "reply", "follow", " like , repost "]},
            "durations": {"values": ["P1D", "PT6H", "P1W"]},
        },
        "parameters": {
            "path.graph": bind("graphs", 0.85),
            "query.graph": bind("graphs", 0.5),
            "path.account": bind("accounts", 0.8),
            "body.account": bind("accounts", 0.8),
            "path.audit": bind("audits", 0.7),
            "path.run": bind("runs", 0.7),
            "path.job": bind("jobs", 0.7),
            "path.key": bind("keys", 0.7),
            "query.layers": bind("kinds", 0.5),
            "body.every": bind("durations", 0.6),
        },
        "operations": [
            # the throwaway graph is never deleted: deleteGraph names graphs made for it
            {"include-operation-id": "deleteGraph", "parameters": {"path.graph": bind("doomed", 1.0)}},
            {"include-operation-id": "importFile", "checks": {
                "positive_data_acceptance": {"expected-statuses": [*accepted, "415"]}}},
            # DELETE of a job cancels it, of a key revokes it: both stay readable, with their
            # status (documented), so a read after the DELETE is no use after free
            *({"include-operation-id": op, "checks": {"use_after_free": {"enabled": False}}}
              for op in ("getAnalysis", "getAnalysisResult", "getKey")),
        ],
    })


def _response_text(recorder, case_id: str) -> str:
    interaction = recorder.interactions.get(case_id)
    response = interaction.response if interaction is not None else None
    if response is None:
        return "(no response)"
    body = (response.content or b"")[:600].decode("utf-8", "replace")
    return f"[{response.status_code}] {body}"


def _report(event) -> list[str]:
    """schemathesis' findings in one scenario: the check, why, the answer, and the curl
    command (or, for a stateful sequence, the commands) that reproduce it."""
    out = []
    recorder = event.recorder
    for case_id, checks in recorder.checks.items():
        for check in checks:
            info = check.failure_info
            if info is None:
                continue
            failure = info.failure
            steps = "\n".join(f"    {s.curl}" for s in info.steps) if info.steps else f"    {info.code_sample}"
            out.append(f"[{event.phase.value}] {event.label or failure.operation}: {check.name}: {failure.title}\n"
                       f"    {failure.message.strip()}\n    answer: {_response_text(recorder, case_id)}\n"
                       f"  reproduce with:\n{steps}")
    return out


def test_the_api_keeps_its_contract(contract_service):
    from schemathesis.engine import Status, events

    svc, ids = contract_service
    schema = schemathesis.openapi.from_url(f"{svc.url}/schema/openapi.json", config=_config(svc, ids))
    findings: list[str] = []
    errors: list[str] = []
    scenarios: dict[tuple[str, str], Status] = {}
    answers: Counter[tuple[str, int]] = Counter()
    runs: Counter[str] = Counter()
    sent = hashlib.sha256()  # what the seeded phases sent, the ids made for this run masked
    made = [re.escape(svc.url)] + [i for group in ids.values() for i in group]
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            scenarios[(event.phase.value, event.label or "")] = event.status
            runs[event.phase.value] += 1
            if event.phase.value != "stateful":
                for interaction in event.recorder.interactions.values():
                    line = f"{interaction.request.method} {interaction.request.uri} {interaction.request.body!r}"
                    sent.update(re.sub("|".join(made), "<id>", line).encode())
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    answers[(event.phase.value, interaction.response.status_code)] += 1
            findings += _report(event)
            if event.status is Status.ERROR:
                errors.append(f"[{event.phase.value}] {event.label}: error (see the failures above)")
            if event.status is Status.SKIP and event.skip_reason:
                errors.append(f"[{event.phase.value}] {event.label}: skipped: {event.skip_reason}")
        elif isinstance(event, events.NonFatalError):
            errors.append(f"[{event.phase.value if event.phase else '-'}] {event.label}: "
                          f"{type(event.value).__name__}: {event.value}\n    {event.info.code_sample or ''}")
        elif isinstance(event, events.FatalError):
            errors.append(f"fatal: {type(event.exception).__name__}: {event.exception}")
        elif isinstance(event, events.EngineFinished):
            findings += [f"after the run: {f.title}: {f.message}" for f in event.failures]
            if event.stop_reason.value != "completed":
                errors.append(f"the run stopped early: {event.stop_reason.value}")
    phases = sorted({phase for phase, _ in answers})
    print("scenarios per phase:", dict(runs), "requests of the seeded phases:", sent.hexdigest()[:16])
    print("answers per phase:", {p: dict(sorted((code, n) for (q, code), n in answers.items() if q == p))
                                 for p in phases})
    findings = list(dict.fromkeys(findings))  # a finding reproduced while shrinking is one finding
    assert not findings and not errors, "\n\n".join(
        [f"{len(findings)} contract finding(s), {len(errors)} error(s):", *findings, *errors])
    tested = {label for (phase, label), status in scenarios.items() if status is Status.SUCCESS}
    assert len({label for label in tested if " " in label}) >= 30, sorted(tested)


def test_the_fuzzed_server_is_healthy_and_the_throwaway_graph_is_still_there(contract_service):
    """After the fuzzing: nothing it sent brought the server down or deleted the throwaway
    graph, nothing was logged as unhandled, and no analysis the fuzzed parameters started
    failed on the worker's side (a job that did would be a 500 when its answer is asked
    again): a failed job is one the analysis refused (``invalid``) or whose account it did
    not find (``not_found``)."""
    svc, _ = contract_service
    failed, after = [], None
    with svc.client() as c:
        assert c.get("/ready").status_code == 200
        assert c.get(f"/v1/graphs/{THROWAWAY}").status_code == 200
        # the worker runs what the fuzzer queued (small jobs, a few a second); not forever
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(
                c.get("/v1/analyses", params={"status": s, "limit": 1}).json()["items"] for s in ("queued", "running")):
            time.sleep(1)
        while True:
            page = c.get("/v1/analyses", params={"status": "failed", "limit": 500,
                                                 **({"after": after} if after else {})}).json()
            failed += page["items"]
            if (after := page["next"]) is None:
                break
    broken = [f"{j['target']} of {j['graph']}: {j['error_kind']}: {j['error']}\n  parameters {j['parameters']},"
              f" arguments {j['arguments']}\n  asked again: GET "
              f"{answer_url(j['graph'], j['target'], j['parameters'], j['arguments']) or '(a POST: see the job)'}"
              for j in failed if j["error_kind"] not in ("invalid", "not_found")]
    assert not broken, "analyses that failed on the worker (a 500 when asked again):\n" + "\n".join(broken)
    assert "unhandled error" not in svc.log.read_text()
