import pandas as pd

from components.validation import batch_expectations, fraction_expectations, run_suites, tensor_expectations


def good_batch() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sample_id": ["a", "b"],
            "role": ["forget", "retain"],
            "in_manifest": [True, True],
            "file_exists": [True, True],
            "sha256_ok": [True, True],
            "dvc_md5_ok": [True, True],
            "label": [0, 9],
        }
    )


def test_a_well_formed_batch_passes():
    report = run_suites({"batch": (good_batch(), batch_expectations(10))})
    assert report.success and report.evaluated == 7 and report.failures == []


def test_failures_name_the_expectation_the_column_and_what_was_seen():
    frame = good_batch()
    frame.loc[1, "sha256_ok"] = False
    frame.loc[1, "role"] = "forget"  # retain set now empty
    report = run_suites(
        {
            "batch": (frame, batch_expectations(10)),
            "forget_fraction": (pd.DataFrame({"is_forget": [1, 1, 0, 0]}), fraction_expectations(0.2)),
        }
    )
    failed = {(f["suite"], f["column"]) for f in report.failures}
    assert not report.success
    assert failed == {("batch", "sha256_ok"), ("batch", "role"), ("forget_fraction", "is_forget")}
    assert "0.5" in report.summary()


def test_tensor_suite_catches_wrong_shapes_and_ranges():
    frame = pd.DataFrame({"shape": ["1x32x32", "3x32x32"], "finite": [True, True], "min": [0.0, -0.1], "max": [1.0, 1.0]})
    report = run_suites({"tensors": (frame, tensor_expectations(1, 32))})
    assert {f["column"] for f in report.failures} == {"shape", "min"}
