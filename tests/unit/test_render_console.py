"""The CLI's consoles: text from outside never acts as a terminal control, on a terminal too."""

from __future__ import annotations

import io
import json

import pytest
from rich.text import Text

from cpv.cli.render.console import SafeConsole


def _terminal() -> tuple[SafeConsole, io.StringIO]:
    out = io.StringIO()
    return SafeConsole(file=out, force_terminal=True, color_system="truecolor", width=200), out


def test_text_with_escape_sequences_is_printed_visible_and_styles_still_work() -> None:
    console, out = _terminal()
    console.print(Text("msg \x1b]52;c;ZXZpbA==\x07 \x1b[2J \x9b1m", style="bold"))
    written = out.getvalue()
    assert "␛]52;c;ZXZpbA== ␛[2J \ufffd1m" in written  # (rich drops the BEL itself)
    assert "\x1b]52" not in written and "\x1b[2J" not in written and "\x9b" not in written
    assert "\x1b[1m" in written  # rich's own bold is still drawn


def test_no_hyperlink_is_written_whatever_markup_came_in() -> None:
    console, out = _terminal()
    console.print("[link=https://evil.example]click[/link]")
    assert "click" in out.getvalue() and "\x1b]8;" not in out.getvalue()


def test_json_output_is_valid_json_whatever_the_data_holds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cpv.cli.render.base import print_json

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    print_json({"removed": {"at": float("nan")}, "values": (float("inf"), -float("inf"), 1.5)})
    out = capsys.readouterr().out
    data = json.loads(out, parse_constant=refuse)
    assert data == {"removed": {"at": "nan"}, "values": ["inf", "-inf", 1.5]}
    with pytest.raises(ValueError, match="not JSON"):
        json.loads('{"a": NaN}', parse_constant=refuse)
