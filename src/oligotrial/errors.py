"""The oligotrial error hierarchy.

Every error raised by oligotrial derives from :class:`OligotrialError` and carries a stable,
machine-readable ``code``. Messages name the field, the value and what was expected.
Third-party exceptions are wrapped at the boundary, never leaked.
"""

from __future__ import annotations


class OligotrialError(Exception):
    """Root of every error oligotrial raises on purpose."""

    code = "oligotrial_error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field

    def to_dict(self) -> dict:
        out = {"code": self.code, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        return out


class RecordError(OligotrialError):
    """A patient record is malformed or clinically impossible."""

    code = "record_invalid"

    def __init__(
        self, message: str, *, errors: list[dict] | None = None, code: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message, code=code, field=field)
        self.errors = errors or []

    def to_dict(self) -> dict:
        out = super().to_dict()
        if self.errors:
            out["errors"] = self.errors
        return out


class ProtocolError(OligotrialError):
    """A protocol file is malformed, or a protocol or arm does not exist."""

    code = "protocol_invalid"


class EligibilityError(OligotrialError):
    """An eligibility rule cannot be evaluated as written."""

    code = "eligibility_error"


class AssessmentError(OligotrialError):
    """Lesion measurements cannot be assessed as given (inconsistent or ambiguous data)."""

    code = "assessment_invalid"


class DoseError(OligotrialError):
    """A dose, fractionation, plan or DICOM RT input is invalid. ``errors``: one item per field
    of a refused course (``path``, ``value``, ``expected``)."""

    code = "dose_invalid"

    def __init__(
        self, message: str, *, errors: list[dict] | None = None, code: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message, code=code, field=field)
        self.errors = errors or []


class DesignError(OligotrialError):
    """A trial design or simulation input is invalid."""

    code = "design_invalid"


class AnalysisError(OligotrialError):
    """Data given to a statistical analysis are invalid; names the data row (1-based) and column."""

    code = "analysis_invalid"

    def __init__(
        self, message: str, *, row: int | None = None, code: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message, code=code, field=field)
        self.row = row

    def to_dict(self) -> dict:
        out = super().to_dict()
        if self.row is not None:
            out["row"] = self.row
        return out


class RandomizationError(OligotrialError):
    """A randomization request cannot be honoured (not enrolled, list exhausted, ...)."""

    code = "randomization_error"


class BlindingError(OligotrialError):
    """An action would break the trial's blinding or the caller lacks the role for it."""

    code = "blinding_violation"


class WorkflowError(OligotrialError):
    """An enrolment workflow step is not allowed in the participant's current state."""

    code = "workflow_error"


class StorageError(OligotrialError):
    """The database refused or lost a write, or is unreachable."""

    code = "storage_error"


class AuditError(OligotrialError):
    """The audit trail is inconsistent or an append-only rule was broken."""

    code = "audit_error"
