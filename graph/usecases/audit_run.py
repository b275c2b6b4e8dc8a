"""One audit run: the diversity answer of the audit's account, as a run's outcome.

The scheduler (``service/scheduler.py``) decides *when*; ``graph.audits.runner`` which slot
and what the webhook is told; this is *what* a run computes. The answer comes through a
``DiversityFor``: in a worker it is a job on the queue, so audits share cached stages and
answers with the API; ``inline`` computes it in the calling process (``castlegate worker
--once``, tests).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from graph.analysis.params import AnalysisParams
from graph.audits.model import Audit, RunStatus
from graph.errors import AccountNotFound, GraphNotFound
from graph.store.port import GraphStore
from graph.usecases.analyse import ResultCache, produce

__all__ = ["DiversityFor", "Outcome", "RunFailed", "execute", "inline"]

#: ``diversity_for(graph, params, account) -> (graph_version, DiversityAnswer JSON)``;
#: raises ``GraphNotFound`` / ``AccountNotFound`` as the analysis does
DiversityFor = Callable[[str, AnalysisParams, str], "tuple[str, bytes]"]


class RunFailed(Exception):
    """The answer could not be had, for a reason worth one line in the run (the analysis
    failed, or ran out of time); the scheduler records it without a stack trace."""


class Outcome(NamedTuple):
    status: str
    graph_version: str | None
    #: the diversity answer (result and manifest) as JSON text
    result: str | None
    error: str | None


def execute(audit: Audit, diversity_for: DiversityFor) -> Outcome:
    """Audits the account on the audit's analysis parameters. A graph or an account that
    is gone makes a failed run with the reason (the schedule goes on: the account may come
    back with the next import); other errors propagate."""
    try:
        version, body = diversity_for(audit.graph, audit.params, audit.account)
    except GraphNotFound:
        return Outcome(RunStatus.FAILED, None, None, f"graph {audit.graph!r} does not exist")
    except AccountNotFound:
        return Outcome(RunStatus.FAILED, None, None,
                       f"account {audit.account!r} has no interactions in graph {audit.graph!r}")
    return Outcome(RunStatus.DONE, version, body.decode(), None)


def inline(store: GraphStore, cache: ResultCache) -> DiversityFor:
    """A ``DiversityFor`` that computes in this process, through the same cache."""

    def diversity_for(graph: str, params: AnalysisParams, account: str) -> tuple[str, bytes]:
        produced = produce(store, cache, graph, params, "diversity", {"account": account})
        body = cache.get_result(produced.result_key)
        if body is None:  # evicted in the instant between filing and reading: compute again
            return diversity_for(graph, params, account)
        return produced.graph_version, body

    return diversity_for
