"""Great Expectations suites that a deletion batch must pass before any model is touched.

A batch checks what it can change or depends on, so its cost barely grows with the dataset: the
manifest's rows (ids, labels, hashes well-formed; no file I/O), data/ against DVC's record (the
same files, the recorded manifest), the batch (every forget/retain id exists, its file is there
and matches its sha256 and DVC's md5, forget and retain are both non-empty and disjoint), the
forget share of the training split (under a limit) and the image tensors (shape and value range).
`forgetflow audit` adds the full re-hash of every file. A failure names each expectation that
failed and what it saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

SAFE_ID_REGEX = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


@dataclass(frozen=True)
class ValidationReport:
    success: bool
    evaluated: int
    failures: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        if self.success:
            return f"all {self.evaluated} expectations passed"
        parts = [f"{f['suite']}: {f['expectation']}({f['column']}) observed {f['observed']}" for f in self.failures]
        return f"{len(self.failures)} of {self.evaluated} expectations failed: " + "; ".join(parts)


def manifest_expectations(n_classes: int) -> list:
    import great_expectations as gx

    e = gx.expectations
    return [
        e.ExpectColumnValuesToBeUnique(column="sample_id"),
        e.ExpectColumnValuesToNotBeNull(column="sample_id"),
        e.ExpectColumnValuesToMatchRegex(column="sample_id", regex=SAFE_ID_REGEX),
        e.ExpectColumnValuesToMatchRegex(column="subject_id", regex=SAFE_ID_REGEX),
        e.ExpectColumnValuesToBeBetween(column="label", min_value=0, max_value=n_classes - 1),
        e.ExpectColumnValuesToBeInSet(column="split", value_set=["train", "test"]),
        e.ExpectColumnValuesToMatchRegex(column="sha256", regex=r"^[0-9a-f]{64}$"),
    ]


def file_expectations() -> list:
    """Every file present and matching its sha256 (the audit's full re-hash; a batch checks its own files)."""
    import great_expectations as gx

    e = gx.expectations
    return [
        e.ExpectColumnValuesToBeInSet(column="file_exists", value_set=[True]),
        e.ExpectColumnValuesToBeInSet(column="sha256_ok", value_set=[True]),
    ]


def dvc_expectations() -> list:
    """data/ is the version data.dvc names (a batch: same files and manifest as DVC's record; the
    audit: `dvc status data.dvc` clean)."""
    import great_expectations as gx

    return [gx.expectations.ExpectColumnValuesToBeInSet(column="data_matches_dvc", value_set=[True])]


def batch_expectations(n_classes: int) -> list:
    import great_expectations as gx

    e = gx.expectations
    return [
        e.ExpectColumnValuesToBeUnique(column="sample_id"),  # forget and retain are disjoint
        e.ExpectColumnDistinctValuesToContainSet(column="role", value_set=["forget", "retain"]),  # both non-empty
        e.ExpectColumnValuesToBeInSet(column="in_manifest", value_set=[True]),
        e.ExpectColumnValuesToBeInSet(column="file_exists", value_set=[True]),
        e.ExpectColumnValuesToBeInSet(column="sha256_ok", value_set=[True]),
        e.ExpectColumnValuesToBeInSet(column="dvc_md5_ok", value_set=[True]),  # DVC recorded these bytes
        e.ExpectColumnValuesToBeBetween(column="label", min_value=0, max_value=n_classes - 1),
    ]


def fraction_expectations(max_forget_fraction: float) -> list:
    import great_expectations as gx

    return [gx.expectations.ExpectColumnMeanToBeBetween(column="is_forget", min_value=0.0, max_value=max_forget_fraction)]


def tensor_expectations(channels: int, size: int) -> list:
    import great_expectations as gx

    e = gx.expectations
    return [
        e.ExpectColumnValuesToBeInSet(column="shape", value_set=[f"{channels}x{size}x{size}"]),
        e.ExpectColumnValuesToBeInSet(column="finite", value_set=[True]),
        e.ExpectColumnMinToBeBetween(column="min", min_value=0.0),
        e.ExpectColumnMaxToBeBetween(column="max", max_value=1.0),
    ]


def run_suites(tables: dict[str, tuple[pd.DataFrame, list]]) -> ValidationReport:
    """Validate each named dataframe against its expectations in one ephemeral GX context."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("forgetflow")
    failures, evaluated = [], 0
    for name, (frame, expectations) in tables.items():
        batch = (
            source.add_dataframe_asset(name)
            .add_batch_definition_whole_dataframe(name)
            .get_batch(batch_parameters={"dataframe": frame})
        )
        suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
        result = batch.validate(suite)
        evaluated += len(result.results)
        for r in result.results:
            if not r.success:
                failures.append(
                    {
                        "suite": name,
                        "expectation": r.expectation_config.type,
                        "column": r.expectation_config.kwargs.get("column"),
                        "observed": _observed(r.result),
                    }
                )
    return ValidationReport(not failures, evaluated, failures)


def _observed(result: dict) -> str:
    if "observed_value" in result:
        return str(result["observed_value"])
    examples = result.get("partial_unexpected_list", [])[:3]
    return f"{result.get('unexpected_count', '?')} unexpected, e.g. {examples}"
