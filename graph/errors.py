"""Domain errors. The service maps each to one HTTP status in one place
(``service/errors.py``); nothing here knows about HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field


class CastlegateError(Exception):
    """Base of every error the domain raises on purpose."""


class NotFound(CastlegateError):
    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"{what} {ident!r} does not exist")
        self.what = what
        self.ident = ident


class GraphNotFound(NotFound):
    def __init__(self, graph: str) -> None:
        super().__init__("graph", graph)


class AccountNotFound(NotFound):
    def __init__(self, graph: str, account: str) -> None:
        super().__init__("account", account)
        self.graph = graph


class GraphExists(CastlegateError):
    def __init__(self, graph: str) -> None:
        super().__init__(f"graph {graph!r} already exists")
        self.graph = graph


@dataclass(frozen=True)
class FieldError:
    """One bad field of one item. ``index`` is the item's position in the batch (or line
    number - 1 for NDJSON), ``None`` for the request as a whole."""

    field: str
    message: str
    index: int | None = None


@dataclass
class InvalidInput(CastlegateError):
    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{len(self.errors)} invalid field(s)"


@dataclass
class IngestConflict(CastlegateError):
    """Ids re-sent with content different from what is stored. The whole batch is refused
    so that nothing is silently overwritten."""

    ids: list[str]
    indexes: list[int]

    def __str__(self) -> str:
        return f"{len(self.ids)} interaction id(s) already stored with different content"


class StoreUnavailable(CastlegateError):
    """The store did not answer (down, unreachable, wrong credentials)."""


class AuditNotFound(NotFound):
    def __init__(self, audit: str) -> None:
        super().__init__("audit", audit)


class RunNotFound(NotFound):
    def __init__(self, run: str) -> None:
        super().__init__("audit run", run)
