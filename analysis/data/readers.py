"""Reading one tabular file (CSV, Parquet, Excel) into a frame of strings.

Every column is read as text, so that validation sees the value exactly as the file holds
it and can name it in an error. Swedish exports are often cp1252 or latin-1 with ``;``
separators and decimal commas; those are detected here (decimal commas are accepted by the
number parser in analysis/data/validate.py), as are UTF-16 files with a byte-order mark
(Excel's "Unicode text") and a UTF-8 byte-order mark. An Excel workbook with several
sheets is read only from the sheet named (``--sheet`` or data_folder.yaml ``sheet``).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import polars as pl

from analysis.errors import UserError

SUFFIXES = (".csv", ".txt", ".tsv", ".parquet", ".xlsx", ".xls")
# An erasure in progress (analysis.privacy.erasure): while it exists, no reader may use the
# folder, since some files may already lack the person and others not yet.
JOURNAL = ".erasure-journal.json"


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode(raw: bytes) -> str:
    """Text of a file's bytes: UTF-16 with BOM, UTF-8 (with or without BOM), else cp1252,
    else latin-1."""
    return _utf8(raw).decode("utf-8")


def encoding_of(raw: bytes) -> str:
    """The encoding :func:`decode` reads a file's bytes in: utf-16, utf-8, cp1252 or
    latin-1."""
    if raw.startswith(UTF16_BOMS):
        return "utf-16"
    for encoding in ("utf-8", "cp1252"):
        try:
            raw.decode(encoding)
            return encoding
        except UnicodeDecodeError:
            pass
    return "latin-1"


def _utf8(raw: bytes) -> bytes:
    """The file's bytes as UTF-8: UTF-16 with BOM decoded, UTF-8 (with or without BOM)
    as is, else cp1252/latin-1."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    encoding = encoding_of(raw)
    return raw if encoding == "utf-8" else raw.decode(encoding).encode("utf-8")


def detect_separator(header: str) -> str:
    """The separator a CSV header line uses: ; tab , or |."""
    counts = {sep: header.count(sep) for sep in (";", "\t", ",", "|")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


def _read_plain_utf8(path: Path) -> pl.DataFrame | None:
    """The common case read straight from the file by polars: UTF-8 without a byte-order
    mark, a header line within the first 64 KiB. None when the file is anything else or
    polars cannot read it (invalid UTF-8, ragged rows): :func:`_read_csv` then reads it
    through Python, which knows the other encodings and words the error. Saves holding and
    decoding the file's bytes in Python (a copy of the file in memory, and a pass)."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    newline = head.find(b"\n")
    if (newline < 0 or head.startswith((b"\xef\xbb\xbf", *UTF16_BOMS)) or b"\x00" in head
            or head[:4] == b"PAR1" or head[:2] == b"PK"):
        return None
    try:
        header = head[:newline].decode("utf-8")
        return pl.read_csv(path, separator=detect_separator(header), infer_schema=False,
                           truncate_ragged_lines=False, encoding="utf8")
    except (UnicodeDecodeError, pl.exceptions.PolarsError):
        return None


# What may make a value lose characters to strip_chars(), polars' Unicode White_Space: the
# ASCII blanks, and the UTF-8 lead bytes of the others (U+0085 and U+00A0: C2; U+1680: E1;
# U+2000-U+205F: E2; U+3000: E3; the same lead bytes start other characters, e.g. an en
# dash, which is only a false alarm). A carriage return before a newline ends a line
# (polars removes it); a newline inside a value needs quotes.
_BLANKS = (b" ", b"\t", b"\x0b", b"\x0c", b"\xc2", b"\xe1", b"\xe2", b"\xe3")


def blank_scan(path: Path) -> tuple[bool, bool]:
    """(whether a UTF-8 CSV file holds a blank that may surround a value, whether it holds
    a quote, inside which a value may hold a newline): a few passes over its bytes at
    memchr speed, 4 MiB at a time. Stripping every value costs more than reading the
    file, and a file without blanks has no value to strip."""
    quoted, last = False, b""
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            if any(b in chunk for b in _BLANKS):
                return True, True
            if b"\r" in chunk or last == b"\r":
                # A return at the end of a chunk is judged with the next one's first byte.
                data = last + chunk
                if data.count(b"\r") - data.count(b"\r\n") - (data[-1:] == b"\r"):
                    return True, True
            quoted = quoted or b'"' in chunk
            last = chunk[-1:]
    return last == b"\r", quoted


def _to_strip(path: Path, frame: pl.DataFrame) -> tuple[list[str], bool]:
    """The columns of a UTF-8 CSV file's frame that may hold values to strip: all when the
    file holds blanks, else those with a (quoted) newline in a value, else none; and
    whether a value may be an empty text (only a quoted "" is read as one, or a blank
    stripped)."""
    blanks, quoted = blank_scan(path)
    if blanks or not quoted:
        return (frame.columns, True) if blanks else ([], False)
    multiline = frame.select(pl.col(c).str.contains("\n", literal=True).any()
                             for c in frame.columns).row(0)
    return [c for c, found in zip(frame.columns, multiline, strict=True) if found], True


def _read_csv(path: Path) -> tuple[pl.DataFrame, list[str], bool]:
    """The file's frame of text, the columns whose values may need stripping, and whether
    a value may be an empty text."""
    frame = _read_plain_utf8(path)
    if frame is not None:
        return frame, *_to_strip(path, frame)
    raw = path.read_bytes()
    if not raw.strip():
        raise UserError(f"{path}: the file is empty")
    if raw[:4] == b"PAR1" or raw[:2] == b"PK":
        raise UserError(f"{path}: not a text (CSV) file; is it Parquet or Excel under "
                        "the wrong name?")
    if not raw.startswith(UTF16_BOMS) and b"\x00" in raw[:1000]:
        if raw[:1000].count(b"\x00") * 3 >= min(len(raw), 1000):
            raise UserError(f"{path}: looks like UTF-16 text without a byte-order mark; "
                            "save it as UTF-8 (or UTF-16 with BOM)")
        raise UserError(f"{path}: not a text (CSV) file (it holds binary zero bytes)")
    data = _utf8(raw)
    header = data[:data.find(b"\n")].decode("utf-8")
    try:
        frame = pl.read_csv(data, separator=detect_separator(header),
                            infer_schema=False,
                            truncate_ragged_lines=False)
    except pl.exceptions.PolarsError:
        raise unreadable_csv(path, data.decode("utf-8"), detect_separator(header)) from None
    return frame, frame.columns, True


def unreadable_csv(path: Path, text: str, separator: str) -> UserError:
    """The error for a CSV that polars cannot parse: the first row whose number of fields
    differs from the header's. Never the row's content (polars' message quotes it, and it
    may hold an identity number)."""
    reader = csv.reader(io.StringIO(text), delimiter=separator)
    try:
        header = next(reader, [])
        row_start = reader.line_num + 1
        for row in reader:
            if len(row) != len(header):
                titled = len(header) == 1 or not all(h.strip() for h in header)
                cause = ("is row 1 a title above the header?" if titled
                         else "an unbalanced quote or an extra separator?")
                return UserError(f"{path}: cannot be read as CSV: row {row_start} has "
                                 f"{len(row)} field(s) where the header has {len(header)} "
                                 f"({cause})")
            row_start = reader.line_num + 1
    except csv.Error:
        return UserError(f"{path}: cannot be read as CSV: malformed at line "
                         f"{reader.line_num}")
    return UserError(f"{path}: cannot be read as CSV (malformed quoting or line endings)")


def _read_excel(path: Path, sheet: str | None) -> pl.DataFrame:
    """The named sheet of a workbook, or its only sheet; several sheets and none named
    is an error that lists them."""
    import fastexcel

    names = fastexcel.read_excel(path).sheet_names
    if sheet is not None and sheet not in names:
        raise UserError(f"{path}: no sheet '{sheet}' (the sheets are {', '.join(names)})")
    if sheet is None and len(names) > 1:
        raise UserError(f"{path}: the workbook has {len(names)} sheets ({', '.join(names)}); "
                        "name the one holding the data with --sheet NAME or 'sheet:' in "
                        "data_folder.yaml")
    return pl.read_excel(path, sheet_name=sheet or names[0], infer_schema_length=0)


def _kept_typed(dtype: pl.DataType) -> bool:
    """A Parquet column type that validation reads as it is (analysis.data.validate)."""
    return dtype in (pl.Date, pl.Boolean) or dtype.is_integer() or dtype.is_float()


def read_table(path: Path, sheet: str | None = None, typed: bool = False) -> pl.DataFrame:
    """Read a CSV, Parquet or Excel file (from ``sheet``, for a workbook of several); every
    column as String with surrounding blanks removed, empty cells as null. With ``typed``,
    a Parquet file's date, boolean, integer and float columns stay as they are: casting
    them to text only for validation to parse them back costs more than the read."""
    if not path.exists():
        raise UserError(f"{path}: file not found")
    suffix = path.suffix.lower()
    strip = None  # the columns whose values may have surrounding blanks (None: all)
    empties = True  # whether a value may be an empty text
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            frame, strip, empties = _read_csv(path)
        elif suffix == ".parquet":
            frame = pl.read_parquet(path)
        elif suffix in (".xlsx", ".xls"):
            frame = _read_excel(path, sheet)
        else:
            raise UserError(f"{path}: unknown file format '{suffix}' "
                            f"(use one of {', '.join(SUFFIXES)})")
    except UserError:
        raise
    except Exception as exc:  # a broken Parquet/Excel file: the reader's words, one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: cannot be read as {suffix.lstrip('.')} ({first})") from None
    if frame.width == 0:
        raise UserError(f"{path}: the file has no columns")
    # polars renames a repeated CSV header to <name>_duplicated_<k>.
    names = [re.sub(r"_duplicated_\d+$", "", c).strip().lower() for c in frame.columns]
    empty = [i + 1 for i, n in enumerate(names) if not n]
    if empty:
        raise UserError(f"{path}: the header has no name for column(s) "
                        f"{', '.join(map(str, empty))} (a separator too many, or a title "
                        "row above the header?)")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UserError(f"{path}: column(s) {', '.join(repeated)} appear more than once in "
                        "the header (rule duplicate_column)")
    stripped = {new for old, new in zip(frame.columns, names, strict=True)
                if strip is None or old in strip}
    # One chunk per column (polars reads a CSV into one per thread's block): every later
    # step that lines up columns of different chunking would copy them all, several times.
    frame = frame.rename(dict(zip(frame.columns, names, strict=True))).rechunk()
    text = [c for c, dtype in frame.schema.items() if not (typed and _kept_typed(dtype))]
    frame = frame.with_columns(pl.col(c).cast(pl.String).str.strip_chars() if c in stripped
                               else pl.col(c).cast(pl.String) for c in text)
    # Only the columns holding an empty text (a quoted "" or a stripped blank) are
    # rewritten; an empty unquoted field is read as null already.
    empty = (frame.select((pl.col(c) == "").any() for c in text).row(0) if text and empties
             else [False] * len(text))
    return frame.with_columns(pl.col(c).replace("", None)
                              for c, has_empty in zip(text, empty, strict=True) if has_empty)


def find_file(directory: Path, name: str) -> Path | None:
    """The file `<name>.<csv|txt|tsv|parquet|xlsx|xls>` in a directory, if there is one."""
    hits = [directory / f"{name}{s}" for s in SUFFIXES if (directory / f"{name}{s}").exists()]
    if len(hits) > 1:
        raise UserError(f"{directory}: more than one file for '{name}': "
                        + ", ".join(h.name for h in hits))
    return hits[0] if hits else None
