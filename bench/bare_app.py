"""The floor for ``bench/cached_reads.py``: Litestar returning fixed bytes, nothing else.

Run:  python -m bench.bare_app ANSWER.json PORT          (on uvicorn, castlegate's settings)
      BARE_ANSWER=ANSWER.json granian --interface asgi --factory bench.bare_app:create
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import uvicorn
from litestar import Litestar, Response, get


def create(path: str | None = None) -> Litestar:
    body = Path(path or os.environ["BARE_ANSWER"]).read_bytes()

    @get("/v1/graphs/demo/gatekeepers", sync_to_thread=False)
    def answer(limit: int = 20) -> Response:
        return Response(content=body, media_type="application/json")

    return Litestar([answer], openapi_config=None, logging_config=None)


def main() -> None:
    # castlegate's own server settings (service/cli.py cmd_serve)
    uvicorn.run(create(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), log_config=None, access_log=False,
                server_header=False)


if __name__ == "__main__":
    main()
