"""The floor for ``bench/cached_reads.py``: Litestar returning fixed bytes, nothing else.

Run:  python -m bench.bare_app ANSWER.json PORT
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from litestar import Litestar, Response, get


def main() -> None:
    body = Path(sys.argv[1]).read_bytes()

    @get("/v1/graphs/demo/gatekeepers", sync_to_thread=False)
    def answer(limit: int = 20) -> Response:
        return Response(content=body, media_type="application/json")

    # castlegate's own server settings (service/cli.py cmd_serve)
    uvicorn.run(Litestar([answer], openapi_config=None, logging_config=None), host="127.0.0.1",
                port=int(sys.argv[2]), log_config=None, access_log=False, server_header=False)


if __name__ == "__main__":
    main()
