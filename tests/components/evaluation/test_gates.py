import pytest

from components.evaluation.gates import GateConfig, check_gates


def test_gates_compare_forget_drop_and_retain_tolerance_with_the_parent():
    cfg = GateConfig(forget_metric="cosine_centre", forget_min_drop=0.1, retain_metric="psnr_centre", retain_max_drop_pct=5)
    forget, retain = check_gates(cfg, {"cosine_centre": 0.9, "psnr_centre": 1}, {"cosine_centre": 0.75},
                                 {"psnr_centre": 20.0, "cosine_centre": 1}, {"psnr_centre": 19.1})
    assert forget.passed and retain.passed  # dropped 0.15 >= 0.1; 19.1 >= 19.0
    _, retain = check_gates(cfg, {"cosine_centre": 0.9, "psnr_centre": 1}, {"cosine_centre": 0.75},
                            {"psnr_centre": 20.0, "cosine_centre": 1}, {"psnr_centre": 18.9})
    assert not retain.passed and "19.0000" in retain.detail


def test_gates_refuse_unmeasured_or_lower_is_better_metrics():
    with pytest.raises(ValueError, match="was not measured"):
        check_gates(GateConfig(forget_metric="cosine_border"), {"cosine_centre": 1, "psnr_centre": 1}, {}, {"psnr_centre": 1}, {})
    with pytest.raises(ValueError, match="higher is better"):
        check_gates(GateConfig(forget_metric="fid_centre"), {}, {}, {}, {})
