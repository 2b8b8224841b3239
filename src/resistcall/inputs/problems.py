"""Problems found in the input: located (file, line, column or key) and reported together."""

from __future__ import annotations

from dataclasses import dataclass

from resistcall.errors import UserError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as the input allows."""

    file: str
    line: int | None
    field: str | None
    message: str
    kind: str = "column"  # "column" for sheets, "key" for the YAML config

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.field:
            where += f", {self.kind} {self.field}"
        return f"{where}: {self.message}"


class SheetError(UserError):
    """Every problem found in the config and sheets, reported together."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the input; nothing was run:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))
