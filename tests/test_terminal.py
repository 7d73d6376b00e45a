"""cellsrun.terminal: text from processes and logs, made harmless to print on a terminal."""

from __future__ import annotations

import pytest

from cellsrun.terminal import visible, visible_lines

CONTROLS = [*range(0x20), 0x7F, *range(0x80, 0xA0)]


@pytest.mark.parametrize("code", CONTROLS)
def test_every_control_character_is_shown_as_an_escape(code):
    ch = chr(code)
    assert visible(f"a{ch}b") == f"a\\x{code:02x}b"
    if ch not in "\t\n":
        assert visible_lines(f"a{ch}b") == f"a\\x{code:02x}b"


def test_the_attacks_seen_become_plain_text():
    assert visible("\x1b[2J\x1b[31mEVIL") == "\\x1b[2J\\x1b[31mEVIL"
    assert visible("\x1b]0;pwned-title\x07") == "\\x1b]0;pwned-title\\x07"
    assert visible("\x9b2J") == "\\x9b2J"  # C1 CSI: one character does what ESC [ does


def test_printable_text_is_untouched():
    for text in ("", "plain ascii ~!@#$%^&*()", "é ü ß 日本語 🙂", "back\\slash \\x1b typed",
                 "\u00a0nbsp", "\u200bzero width"):
        assert visible(text) == text and visible_lines(text) == text
    assert all(chr(c) in visible(chr(c)) for c in range(0x20, 0x7F))


def test_a_block_keeps_its_line_breaks_and_tabs_but_no_lone_cr():
    text = "first\tline\r\nsecond \x1b[2Jline\rover\nthird\n"
    assert visible_lines(text) == "first\tline\nsecond \\x1b[2Jline\\x0dover\nthird\n"
    assert visible(text) == "first\\x09line\\x0d\\x0asecond \\x1b[2Jline\\x0dover\\x0athird\\x0a"


def test_the_output_has_no_control_character_left():
    every = "".join(map(chr, range(0x200)))
    for out in (visible(every), visible_lines(every)):
        assert not any(ord(c) in CONTROLS for c in out.replace("\n", "").replace("\t", ""))
    assert "\n" not in visible(every) and "\t" not in visible(every)
