"""The little XML writing GEXF and GraphML share: escaping untrusted text, spelling
values, and turning a stream of strings into a stream of byte chunks.

Example
-------
>>> attr('<a href="x">&\\x00\\n')
'&lt;a href=&quot;x&quot;&gt;&amp;\\ufffd&#10;'
>>> value(True), value(0.25), value(3)
('true', '0.25', '3')
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from graph.export.attributes import xml_safe

__all__ = ["attr", "text", "value", "chunks"]

# in an attribute a parser turns a raw tab, newline or CR into a space: as character
# references they survive, so an odd id reads back as it was written
_ATTR = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                       "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"})
# in content only a raw CR is lost (read back as a newline)
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})

#: bytes gathered before a chunk is handed on: big enough to keep the per-chunk cost
#: small, small enough that a million-edge graph never sits in memory as one string
CHUNK = 1 << 16


def attr(s: str) -> str:
    """``s`` for a double-quoted XML attribute."""
    return xml_safe(s).translate(_ATTR)


def text(s: str) -> str:
    """``s`` as XML element content."""
    return xml_safe(s).translate(_TEXT)


def value(v: Any) -> str:
    """An attribute value as XML Schema spells it (``true``, not ``True``)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def chunks(parts: Iterable[str]) -> Iterator[bytes]:
    """UTF-8 chunks of about ``CHUNK`` bytes from many small strings."""
    buf: list[str] = []
    size = 0
    for p in parts:
        buf.append(p)
        size += len(p)
        if size >= CHUNK:
            yield "".join(buf).encode("utf-8")
            buf, size = [], 0
    if buf:
        yield "".join(buf).encode("utf-8")
