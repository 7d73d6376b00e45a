"""Text that came from a process or a log, made harmless to print on a terminal.

A service controls its own name (``prctl(PR_SET_NAME)``), its command line and every byte it
writes; printed raw, an ESC or a C1 control (``\\x9b`` is CSI on its own) can clear the
screen, retitle the window, or hide and forge lines. Every control character — C0
(U+0000..U+001F), DEL (U+007F) and C1 (U+0080..U+009F) — is shown as ``\\xNN`` instead, as
Python writes it: readable, greppable, and defined for C1 too (Unicode's control pictures,
U+2400.., have none for C1). A backslash is left as it is: the output is for reading, not
for decoding back.

- :func:`visible`: one field (a name, a message): every control, newline and tab included.
- :func:`visible_lines`: a block of lines (what a program wrote): newlines and tabs stay line
  breaks and tabs, a CR before a newline goes (CRLF ends a line too), a lone CR is escaped.

Both are one ``str.translate`` with a precomputed table, behind an ``isprintable()`` check,
so the common case — nothing to escape — costs one C-level scan.
"""

from __future__ import annotations

_CONTROLS = (*range(0x20), 0x7F, *range(0x80, 0xA0))
# Indexed by code point (a tuple is looked up faster than a dict); past its end, or where it
# holds the character's own code, the character stays.
_FIELD = tuple(f"\\x{code:02x}" if code in _CONTROLS else code for code in range(0xA0))
_BLOCK = tuple(code if code in (0x09, 0x0A) else shown for code, shown in enumerate(_FIELD))


def visible(text: str) -> str:
    """``text`` with every control character (C0, DEL, C1; tab and newline too) as ``\\xNN``."""
    if text.isprintable():
        return text
    return text.translate(_FIELD)


def visible_lines(text: str) -> str:
    """``text`` as :func:`visible` shows it, but its line breaks (LF, CRLF) and tabs kept."""
    if text.isprintable():
        return text
    return text.replace("\r\n", "\n").translate(_BLOCK)
