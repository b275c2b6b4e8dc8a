"""One shape for every list the API gives: ``{"items": [...], "next": cursor | null}``.

``next`` is what to pass as ``after`` (with the same other parameters) for the page after
this one; null on the last page. A cursor names the last item listed (a graph, audit, job,
run or account id; a delivery's time and id), so pages stay consistent while items are
added, and a cursor that names nothing the list holds is refused (422 naming ``after``).
"""

from __future__ import annotations

from typing import Annotated, Callable, Sequence, TypeVar

from litestar.params import QueryParameter

from graph.errors import FieldError, InvalidInput

__all__ = ["After", "Limit", "cut", "bad_cursor"]

T = TypeVar("T")

Limit = Annotated[int, QueryParameter(ge=1, le=1000, description="how many items to list (one page)")]
After = Annotated[str | None, QueryParameter(
    max_length=512, description="the `next` of the page before: the items after it (same other parameters)")]


def cut(items: Sequence[T], limit: int, cursor: Callable[[T], str]) -> tuple[list[T], str | None]:
    """The first ``limit`` of ``items`` (read as ``limit + 1`` to know whether more follow)
    and the ``next`` cursor.

    >>> cut(["a", "b", "c"], 2, str)
    (['a', 'b'], 'b')
    >>> cut(["a", "b"], 2, str)
    (['a', 'b'], None)
    """
    page = list(items[:limit])
    return page, (cursor(page[-1]) if len(items) > limit and page else None)


def bad_cursor(what: str = "") -> InvalidInput:
    return InvalidInput([FieldError("after", f"not a cursor of this list{what}: start again without after")])
