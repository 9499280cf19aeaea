"""Text from outside (git, the bucket, a webhook's reply) made safe to show on a terminal.

A tag message, an alias's reason, an index's fields or a server's error can hold escape
sequences: ``ESC [2J`` clears the screen, ``ESC ] 52`` writes the clipboard, a carriage
return or a bidi override makes a line read as something else. :func:`printable` turns each
such character into one visible stand-in of the same width (``␛`` for ESC, ``�`` for a C1
control or a bidi override), so a line still aligns and nothing reaches the terminal as
control. The CLI applies it to everything it prints (:mod:`cpv.cli.render.base`); JSON output
stays faithful (JSON escapes control characters itself).
"""

from __future__ import annotations

_REPLACEMENT = "\ufffd"
#: C0 controls as their Unicode control pictures (U+2400…), DEL as ␡; C1 controls and the
#: bidi formatting characters (embeddings, overrides, isolates, marks) as U+FFFD.
_TABLE: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20)}
_TABLE[0x7F] = "\u2421"
_TABLE.update({c: _REPLACEMENT for c in range(0x80, 0xA0)})
_TABLE.update(
    {
        c: _REPLACEMENT
        for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
    }
)
_MULTILINE = {k: v for k, v in _TABLE.items() if k not in (0x09, 0x0A)}


def printable(text: str, *, multiline: bool = True) -> str:
    """``text`` with every control character made visible (tab and newline kept when
    ``multiline``; a CR right before a newline dropped, as a CRLF line ending)."""
    if multiline and "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return text.translate(_MULTILINE if multiline else _TABLE)


def is_printable(text: str) -> bool:
    """Whether ``text`` has no control character at all (not even a tab or a newline)."""
    return text.translate(_TABLE) == text
