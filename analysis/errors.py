"""Errors that are the user's to fix: printed as one clear line, never as a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the input or the options; the message says what and where."""


class InputError(UserError):
    """A value in an input file breaks a rule of the data dictionary."""

    def __init__(self, file: str, rule: str, row: int | None = None,
                 column: str | None = None, value: object = None) -> None:
        self.file, self.rule, self.row, self.column, self.value = file, rule, row, column, value
        where = [file]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        if value is not None:
            where.append(f"value '{value}'")
        super().__init__(f"{', '.join(where)}: {rule}")
