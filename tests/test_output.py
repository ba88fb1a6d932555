"""Terminal tables (analysis/commands/output.py): one rendering, never a cut number."""

import io

import polars as pl
from rich.console import Console
from rich.table import Table

from analysis.commands.output import print_table


def _printed(frame: pl.DataFrame, width: int) -> str:
    buffer = io.StringIO()
    print_table(frame, "Title", console=Console(file=buffer, width=width))
    return buffer.getvalue()


def test_a_table_wider_than_the_terminal_runs_off_its_edge_whole():
    frame = pl.DataFrame({f"column_{i}": [1234.5 * i] for i in range(12)})
    lines = _printed(frame, 60).splitlines()
    header = lines[2].replace("┃", "│").split("│")[1:-1]
    cells = lines[4].split("│")[1:-1]
    assert [c.strip() for c in header] == [f"column_{i}" for i in range(12)]
    assert [c.strip() for c in cells][-3:] == ["11 110", "12 345", "13 580"]
    assert "…" not in "".join(lines)
    assert len({len(line) for line in lines[1:]}) == 1 and len(lines[-1]) > 60


def test_a_narrow_table_is_printed_as_rich_prints_it_on_the_terminal():
    frame = pl.DataFrame({"time": [1.0, 5.0], "estimate": [0.9, 0.61]})
    table = Table(title="Title", show_lines=False, header_style="bold")
    table.add_column("time", justify="right")
    table.add_column("estimate", justify="right")
    for row in (("1.00", "0.90"), ("5.00", "0.61")):
        table.add_row(*row)
    expected = io.StringIO()
    Console(file=expected, width=60).print(table)
    assert _printed(frame, 60) == expected.getvalue()
