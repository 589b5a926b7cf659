"""Errors that carry a hint of the fix, so every tool can end with one clear line."""
from __future__ import annotations


class GoldenRecordError(Exception):
    """An expected failure with a cause a user can act on.

    ``hint`` says what to do ("run make seed-data"); ``stage`` is filled in by the pipeline;
    ``exit_code`` is what a command exits with when this error ends it.
    """
    exit_code = 1

    def __init__(self, message: str, hint: str = "", stage: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.stage = stage

    def one_line(self) -> str:
        return f"{self.message}: {self.hint}" if self.hint else self.message


class UsageError(GoldenRecordError):
    """A bad argument: the user typed something that cannot work (nothing was started)."""
    exit_code = 2


class WarehouseError(GoldenRecordError):
    """The database cannot be reached or does not hold what the pipeline needs."""
    exit_code = 3


class DataError(GoldenRecordError):
    """The data are present but unusable (empty table, null field, no candidate pairs...)."""


class ModelError(GoldenRecordError):
    """The model could not be fitted sensibly (EM did not converge or collapsed)."""


class TrackingError(GoldenRecordError):
    """The MLflow tracking store cannot be used."""


class RunNotFoundError(TrackingError):
    """The run a command was given (``--run-id``) does not exist or is deleted: a user error."""
    exit_code = 2
