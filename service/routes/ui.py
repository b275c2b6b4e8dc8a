"""The map page at ``/ui``: the static files ``ui/`` builds into ``service/ui_dist``.

The page is a shell without data (HTML, one script, one stylesheet), so it is served without
a key; everything it shows it reads from the API with the key the user gives it, as any
client does. Its answers carry a content policy of their own, instead of the API's
``default-src 'none'``: scripts, styles, images and requests from this origin only (no
inline code, no other origin, no framing). When the bundle was never built (``make
install`` builds it), ``/ui`` answers 503 with a page saying how to build it.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["UI_DIR", "UI_POLICY", "ui_routes"]

#: where ``make install`` (``npm ci`` then ``npm run build`` in ``ui/``) puts the page
UI_DIR = Path(__file__).resolve().parents[1] / "ui_dist"
#: what the page may load: only its own files and the API of this origin
UI_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
             "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_PUBLIC = {"public": True}
_MISSING = """castlegate: the map page is not built.

/ui serves the files that ui/ builds into {where}, and there are none.
Build them from a checkout (needs node 18+ and npm):

    make install                        # runs: cd ui && npm ci && npm run build

or by hand: cd ui && npm ci && npm run build

then reload this page (no restart needed). The API itself works without them.
"""


def _with_policy(app: ASGIApp) -> ASGIApp:
    """The page's content policy on every /ui answer (the app-wide middleware then adds
    its other security headers but keeps this one)."""

    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-security-policy"]
                message = {**message, "headers": [*headers, (b"content-security-policy", UI_POLICY.encode())]}
            await send(message)

        await app(scope, receive, send_with)

    return call


def ui_routes(directory: Path = UI_DIR) -> list:
    """The /ui routes: the built page when ``directory`` holds it, else a 503 explaining
    how to build it (checked on every request, so a build needs no restart)."""
    static = create_static_files_router(
        path="/ui", directories=[directory], html_mode=True, name="ui", opt=_PUBLIC,
        include_in_schema=False, cache_control=CacheControlHeader(no_cache=True),
    )

    def built() -> bool:
        return (directory / "index.html").is_file() and (directory / "app.js").is_file()

    def guard_built(app: ASGIApp) -> ASGIApp:
        async def call(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and not built():
                body = _MISSING.format(where=directory).encode()
                await send({"type": "http.response.start", "status": 503, "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                    (b"retry-after", b"60")]})
                await send({"type": "http.response.body", "body": body})
                return
            await app(scope, receive, send)

        return call

    return [Router(path="/", route_handlers=[static], middleware=[_with_policy, guard_built],
                   include_in_schema=False)]
