"""Exception hierarchy: every error placement raises on purpose derives from PlacementError."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MAX_LISTED_PROBLEMS = 20


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in an input file.

    Attributes
    ----------
    file : str
        File name as the user knows it (for example ``dwellings.csv``).
    row : int or None
        Row as a spreadsheet shows it: the header is row 1, the first data row is row 2.
        ``None`` when the problem concerns the whole file or a column.
    column : str or None
        Column (or manifest key, or GTFS table) the problem is in.
    message : str
        What was expected, what was found and how to fix it.
    """

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        """Return ``file:row:column: message`` with the parts that are known."""
        parts = [self.file]
        if self.row is not None:
            parts.append(str(self.row))
        if self.column is not None:
            parts.append(self.column)
        return ":".join(parts) + f": {self.message}"


class PlacementError(Exception):
    """Base class for every error raised by placement."""


class DataError(PlacementError, ValueError):
    """Invalid input data: one or more problems, each naming file, row and column.

    Parameters
    ----------
    problems : iterable of Problem
        Every problem found in the file(s); at least one.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        if not self.problems:
            msg = "DataError needs at least one problem"
            raise ValueError(msg)
        super().__init__(self._render())

    @classmethod
    def single(
        cls, file: str, message: str, *, row: int | None = None, column: str | None = None
    ) -> DataError:
        """Build an error from a single problem."""
        return cls([Problem(file=file, row=row, column=column, message=message)])

    @property
    def file(self) -> str:
        """File of the first problem."""
        return self.problems[0].file

    @property
    def row(self) -> int | None:
        """Row of the first problem (header is row 1)."""
        return self.problems[0].row

    @property
    def column(self) -> str | None:
        """Column of the first problem."""
        return self.problems[0].column

    def _render(self) -> str:
        n = len(self.problems)
        shown = self.problems[:MAX_LISTED_PROBLEMS]
        head = f"{n} problem{'s' if n != 1 else ''} in the input:" if n > 1 else ""
        lines = [str(p) for p in shown]
        if n > MAX_LISTED_PROBLEMS:
            lines.append(f"... and {n - MAX_LISTED_PROBLEMS} more")
        return "\n".join([head, *lines]) if head else lines[0]


class CRSError(DataError):
    """A coordinate reference system is missing, unknown or unsuitable."""


class ConfigError(PlacementError, ValueError):
    """Invalid policy, scenario or settings file; the message names the key."""


class InfeasibleError(PlacementError):
    """A scenario cannot be solved; ``reasons`` says why in plain language.

    Parameters
    ----------
    reasons : list of str
        Plain-language causes, most binding first.
    """

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("; ".join(self.reasons) if self.reasons else "the scenario is infeasible")


class NetworkDisabledError(PlacementError):
    """An online path was asked for while network access is off (``settings.allow_network``)."""
