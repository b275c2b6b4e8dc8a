"""The parameters of one analysis, and the key its results are cached under."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated

import msgspec

from graph.analysis.engine import ENGINES
from graph.analysis.pods import COUNTS
from graph.errors import FieldError, InvalidInput
from graph.model import Kind

__all__ = ["AnalysisParams", "DEFAULT_LAYERS", "ALGORITHMS"]

#: community detection algorithms
ALGORITHMS = ("louvain", "leiden")

#: Communities and roles are found on every interaction layer but "follow": following is
#: listening, not interacting, and a follow graph is often larger than all the rest.
DEFAULT_LAYERS: tuple[str, ...] = ("reply", "quote", "mention", "repost", "like")

_KINDS = {k.value for k in Kind}


def _doc(**json_schema) -> msgspec.Meta:
    """What the JSON Schema (and so the OpenAPI document) states of a field whose rule
    ``__post_init__`` checks (a 422 naming the field, rather than a decoding error)."""
    return msgspec.Meta(extra_json_schema=json_schema)


class AnalysisParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything that changes an analysis' numbers. Limits (how many items an answer
    lists) are not here: they only cut what is shown."""

    layers: Annotated[tuple[Annotated[str, _doc(title="Kind", enum=[k.value for k in Kind])], ...],
                      _doc(minItems=1)] = DEFAULT_LAYERS
    since: Annotated[datetime, _doc(format="date-time")] | None = None
    until: Annotated[datetime, _doc(format="date-time")] | None = None
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] = 0
    engine: Annotated[str, _doc(title="Engine", enum=list(ENGINES))] = "fast"
    resolution: Annotated[float, msgspec.Meta(gt=0, le=100)] = 1.0
    #: how communities are found: Louvain (Blondel et al. 2008) or Leiden (Traag et al.
    #: 2019: every community is guaranteed connected; fast engine only)
    algorithm: Annotated[str, _doc(title="Algorithm", enum=list(ALGORITHMS))] = "louvain"
    #: draws of the degree-preserving null model behind the castle closure z-scores and
    #: polarization's modularity z-score (and permutations behind the currency z-scores);
    #: each z comes with its standard error, which more draws shrink
    null_samples: Annotated[int, msgspec.Meta(ge=2, le=200)] = 10
    #: coordination window (seconds) and how often two accounts must co-act to be linked
    tau: Annotated[float, msgspec.Meta(gt=0, le=86400)] = 60.0
    min_repeats: Annotated[int, msgspec.Meta(ge=1, le=10000)] = 3
    #: smallest pod reported: 2 lists linked pairs too (what CooRTweet and the QUT toolkit
    #: report); 3, the default, keeps pods to groups, which is what the analyses that read
    #: pod members (trusted voices, reach, the map) take a pod to be
    min_size: Annotated[int, msgspec.Meta(ge=2, le=10000)] = 3
    #: what a pods pair's weight counts: "objects" (distinct objects, each account's first
    #: act on each) or "messages" (every act, per direction: the QUT toolkit's co-retweet weight)
    count: Annotated[str, _doc(title="PodCount", enum=list(COUNTS))] = "objects"

    def __post_init__(self) -> None:
        errors = []
        bad = [k for k in self.layers if k not in _KINDS]
        if bad or not self.layers:
            errors.append(FieldError("layers", f"choose from {', '.join(sorted(_KINDS))}; got {list(self.layers)}"))
        if self.engine not in ENGINES:
            errors.append(FieldError("engine", f"one of {', '.join(ENGINES)}; got {self.engine!r}"))
        if self.count not in COUNTS:
            errors.append(FieldError("count", f"one of {', '.join(COUNTS)}; got {self.count!r}"))
        if self.algorithm not in ALGORITHMS:
            errors.append(FieldError("algorithm", f"one of {', '.join(ALGORITHMS)}; got {self.algorithm!r}"))
        elif self.algorithm == "leiden" and self.engine == "reference":
            errors.append(FieldError("algorithm", "leiden runs on the fast engine (igraph): networkx has no"
                                                  " implementation of its own"))
        if self.since is not None and self.until is not None and self.since >= self.until:
            errors.append(FieldError("until", "must be later than since"))
        for name in ("since", "until"):
            v = getattr(self, name)
            if v is not None and v.tzinfo is None:
                errors.append(FieldError(name, "needs a timezone (RFC 3339)"))
        if errors:
            raise InvalidInput(errors)

    def normalised(self) -> "AnalysisParams":
        """Layers sorted and de-duplicated, so that the same request spelled differently
        hits the same cache entry."""
        return msgspec.structs.replace(self, layers=tuple(sorted(set(self.layers))))

    def key(self) -> str:
        data = msgspec.json.encode(self.normalised(), order="sorted")
        return hashlib.blake2b(data, digest_size=10).hexdigest()

    def as_dict(self) -> dict:
        return msgspec.to_builtins(self.normalised())
