"""The README stays true about configuration: every setting the service reads from the
environment is in its configuration table, and the table names no setting that is gone."""

from __future__ import annotations

import re
from pathlib import Path

from service.settings import ENV_NAMES

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_documented_and_no_documented_one_is_gone():
    text = README.read_text()
    table = text[text.index("## Configuration"):]
    table = table[: table.index("\n## ", 5)]
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)`", table, flags=re.M))
    # rows like "`CASTLEGATE_NEO4J_HEAP` / `_PAGECACHE`" document the launcher's settings
    documented |= {"CASTLEGATE_NEO4J_PAGECACHE"} if "`_PAGECACHE`" in table else set()
    missing = set(ENV_NAMES.values()) - documented
    assert not missing, f"settings missing from the README's configuration table: {sorted(missing)}"
    launcher = {"CASTLEGATE_DEPLOY_DIR", "CASTLEGATE_NEO4J_HOME", "CASTLEGATE_NEO4J_CACHE", "CASTLEGATE_NEO4J_PORT",
                "CASTLEGATE_NEO4J_HEAP", "CASTLEGATE_NEO4J_PAGECACHE"}
    stale = documented - set(ENV_NAMES.values()) - launcher
    assert not stale, f"the README documents settings nothing reads: {sorted(stale)}"
