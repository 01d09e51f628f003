"""oligotrial: run metastasis-directed radiotherapy trials.

The public surface is listed in ``__all__`` (sorted); ``tests/unit/architecture`` keeps it
in sync with what the package exports.
"""

from oligotrial.errors import (
    AnalysisError,
    AssessmentError,
    AuditError,
    BlindingError,
    DesignError,
    DoseError,
    EligibilityError,
    OligotrialError,
    ProtocolError,
    RandomizationError,
    RecordError,
    StorageError,
    WorkflowError,
)

__version__ = "0.1.0"

__all__ = [
    "AnalysisError",
    "AssessmentError",
    "AuditError",
    "BlindingError",
    "DesignError",
    "DoseError",
    "EligibilityError",
    "OligotrialError",
    "ProtocolError",
    "RandomizationError",
    "RecordError",
    "StorageError",
    "WorkflowError",
    "__version__",
]
