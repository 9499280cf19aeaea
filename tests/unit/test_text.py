"""``cpv.domain.text.printable``: every control character becomes one visible character."""

from __future__ import annotations

from cpv.domain.text import is_printable, printable


def test_controls_become_visible_and_keep_the_width() -> None:
    hostile = "a\x1b]52;c;eA==\x07b\x1b[2Jc\rd\x9b1me\u202ef\x7f"
    shown = printable(hostile)
    assert shown == "a␛]52;c;eA==␇b␛[2Jc␍d\ufffd1me\ufffdf␡"
    assert len(shown) == len(hostile)  # columns still line up
    assert is_printable(shown)


def test_newlines_and_tabs_stay_in_multiline_text_only() -> None:
    assert printable("one\r\ntwo\tthree\n") == "one\ntwo\tthree\n"
    assert printable("one\ntwo\t", multiline=False) == "one␊two␉"
    assert not is_printable("a\nb") and is_printable("plain text, é, 中文")
