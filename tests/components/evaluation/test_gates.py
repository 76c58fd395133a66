import pytest

from components.evaluation.gates import GateConfig, check_gates


def test_gates_compare_forget_drop_and_retain_tolerance_with_the_parent():
    cfg = GateConfig(forget_metric="cosine_centre", forget_min_drop=0.1, retain_metric="psnr_centre", retain_max_drop_pct=5)
    forget, retain = check_gates(cfg, {"cosine_centre": 0.9, "psnr_centre": 1}, {"cosine_centre": 0.75},
                                 {"psnr_centre": 20.0, "cosine_centre": 1}, {"psnr_centre": 19.1})
    assert forget.passed and retain.passed  # dropped 0.15 >= 0.1; 19.1 >= 19.0
    _, retain = check_gates(cfg, {"cosine_centre": 0.9, "psnr_centre": 1}, {"cosine_centre": 0.75},
                            {"psnr_centre": 20.0, "cosine_centre": 1}, {"psnr_centre": 18.9})
    assert not retain.passed and "1.0000" in retain.detail  # 5% of 20 dB may be lost


def test_gates_read_fid_as_lower_is_better():
    cfg = GateConfig(forget_metric="fid_centre", forget_min_drop=10.0, retain_metric="fid_centre", retain_max_drop_pct=20)
    forget, retain = check_gates(cfg, {"fid_centre": 15.0}, {"fid_centre": 40.0}, {"fid_centre": 10.0}, {"fid_centre": 11.5})
    assert forget.passed and retain.passed  # forget FID rose by 25 >= 10; retain FID rose 1.5 <= 2
    _, retain = check_gates(cfg, {"fid_centre": 15.0}, {"fid_centre": 40.0}, {"fid_centre": 10.0}, {"fid_centre": 12.5})
    assert not retain.passed


def test_gates_refuse_unmeasured_or_unknown_metrics():
    with pytest.raises(ValueError, match="was not measured"):
        check_gates(GateConfig(forget_metric="cosine_border"), {"cosine_centre": 1, "psnr_centre": 1}, {}, {"psnr_centre": 1}, {})
    with pytest.raises(ValueError, match="is not one of"):
        check_gates(GateConfig(forget_metric="n"), {}, {}, {}, {})
