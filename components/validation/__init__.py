"""Great Expectations suites for the manifest, a deletion batch and its image tensors."""

from components.validation.suites import (
    ValidationReport,
    batch_expectations,
    dvc_expectations,
    file_expectations,
    fraction_expectations,
    manifest_expectations,
    run_suites,
    tensor_expectations,
)

__all__ = [
    "ValidationReport",
    "batch_expectations",
    "dvc_expectations",
    "file_expectations",
    "fraction_expectations",
    "manifest_expectations",
    "run_suites",
    "tensor_expectations",
]
