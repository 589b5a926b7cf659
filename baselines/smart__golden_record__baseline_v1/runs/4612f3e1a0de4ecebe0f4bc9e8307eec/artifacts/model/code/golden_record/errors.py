"""Errors that carry a hint of the fix, so every tool can end with one clear line."""
from __future__ import annotations


class GoldenRecordError(Exception):
    """An expected failure with a cause a user can act on.

    ``hint`` says what to do ("run make seed-data"); ``stage`` is filled in by the pipeline.
    """

    def __init__(self, message: str, hint: str = "", stage: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.stage = stage

    def one_line(self) -> str:
        return f"{self.message}: {self.hint}" if self.hint else self.message


class WarehouseError(GoldenRecordError):
    """The database cannot be reached or does not hold what the pipeline needs."""


class DataError(GoldenRecordError):
    """The data are present but unusable (empty table, null field, no candidate pairs...)."""


class ModelError(GoldenRecordError):
    """The model could not be fitted sensibly (EM did not converge or collapsed)."""


class TrackingError(GoldenRecordError):
    """The MLflow tracking store cannot be used."""
