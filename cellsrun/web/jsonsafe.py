"""JSON for the browser, from values that came out of log lines.

A log line's JSON may hold what the page's JSON cannot: ``NaN``/``Infinity`` (Python's json
reads them; a browser's ``JSON.parse`` does not) and a lone ``\\ud800`` escape (it decodes to a
character UTF-8 cannot encode). Encoding such a value must not fail the whole answer (a 500
would hide every other row behind one hostile line): those numbers are sent as the text json
writes for them (``"NaN"``, ``"-Infinity"``), and the answer falls back to ASCII with ``\\u``
escapes, which carry any character.
"""

from __future__ import annotations

import json
import math

from starlette.responses import JSONResponse

_COMPACT = (",", ":")


def encode(content) -> bytes:
    """``content`` as compact JSON in UTF-8, every value readable by ``JSON.parse``."""
    try:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=_COMPACT).encode("utf-8")
    except ValueError:  # NaN or Infinity (allow_nan), or a lone surrogate (UnicodeEncodeError)
        return json.dumps(_finite(content), ensure_ascii=True, allow_nan=False, separators=_COMPACT).encode()


def _finite(value):
    """``value`` with each float that is not finite replaced by json's text for it. (Values come
    from the reader, which takes apart no JSON deeper than 64 levels: the recursion is bounded.)"""
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class SafeJSONResponse(JSONResponse):
    """A JSONResponse that any log value can go through (see :func:`encode`)."""

    def render(self, content) -> bytes:
        return encode(content)
