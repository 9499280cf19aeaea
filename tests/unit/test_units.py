from cpv.cli.render import layout as _layout
from cpv.domain.units import human_size


def test_human_size() -> None:
    assert human_size(0) == "0 B"
    assert human_size(999) == "999 B"
    assert human_size(1000) == "1.0 KB"
    assert human_size(1_234_567) == "1.2 MB"
    assert human_size(-2_500) == "-2.5 KB"  # a size change
    assert human_size(5 * 10**15) == "5000.0 TB"
    assert _layout.human_size is human_size  # one formatter for the CLI, report and webhooks
