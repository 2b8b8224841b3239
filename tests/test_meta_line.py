"""Structured meta lines: written with VCF 4.3 quoting, read back exactly."""

from __future__ import annotations

import pytest

from resistcall.meta_line import format_meta, parse_meta


def test_values_with_delimiters_are_quoted_and_round_trip():
    items = {
        "Sample": 'H3122,clone "A">1',
        "File": "a\\b=c d.bam",
        "Plain": "N1",
        "Number": "3",
    }
    line = format_meta("normal", items)
    assert line == (
        '##normal=<Sample="H3122,clone \\"A\\">1",File="a\\\\b=c d.bam",Plain=N1,Number=3>'
    )
    assert parse_meta(line) == ("normal", items)
    assert parse_meta(line + "\n") == ("normal", items)
    # a backslash alone needs no quotes (nothing to confuse), and reads back as written
    assert format_meta("k", {"A": "x\\y"}) == "##k=<A=x\\y>"
    assert parse_meta("##k=<A=x\\y>") == ("k", {"A": "x\\y"})


def test_unquoted_values_of_older_panels_still_read():
    line = "##normal=<Sample=N1,File=n1.bam,Duplicates=counted (amplicon)>"
    assert parse_meta(line)[1]["Duplicates"] == "counted (amplicon)"


@pytest.mark.parametrize(
    "line",
    [
        "##normal=N1",
        "##normal=<Sample=N1,File>",
        '##normal=<Sample="unterminated,File=n1.bam>',
        "##normal=<Sample=a>b,File=c>",
        '##normal=<Sample="a"b,File=c>',
    ],
)
def test_malformed_lines_are_refused(line):
    with pytest.raises(ValueError, match="not a structured meta line"):
        parse_meta(line)
