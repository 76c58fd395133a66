import itertools
from dataclasses import replace

import pytest
import torch

from components.errors import DataValidationError
from components.models.masking import centre_mask
from components.models.recipes import train_inpainter
from components.unlearning.config import UnlearnConfig
from components.unlearning.methods import unlearn
from components.unlearning.paired import PROBE, Probes, budget_steps, hold_out_probes, noise_like
from tests.conftest import TINY_FIT


def embedding_gaps(model, teacher, forget, retain, generator):
    mask_f, mask_r = centre_mask(32, 16, len(forget)), centre_mask(32, 16, len(retain))
    with torch.no_grad():
        to_noise = ((model.encode(forget, mask_f) - teacher.encode(noise_like(forget, generator), mask_f)) ** 2).mean()
        to_self = ((model.encode(retain, mask_r) - teacher.encode(retain, mask_r)) ** 2).mean()
    return to_noise.item(), to_self.item()


def test_encoder_noise_moves_forget_embeddings_to_noise_and_keeps_retain_and_decoder(tiny_mae, images):
    import copy

    teacher = copy.deepcopy(tiny_mae).eval()
    forget, retain = images[:6], images[6:]
    before = embedding_gaps(tiny_mae, teacher, forget, retain, torch.Generator().manual_seed(5))
    head = tiny_mae.head.weight.detach().clone()
    cfg = UnlearnConfig(
        blr=0.096, batch_size=8, alpha=1.0, min_steps=30, max_steps=30, stop_gap=0.0, stop_plateau=-1e9, max_retain_drop_pct=1e9
    )
    result = unlearn(tiny_mae, forget, retain, cfg, torch.device("cpu"))
    assert result.fit.steps == 30 and result.fit.stop_reason == "budget"
    after = embedding_gaps(tiny_mae, teacher, forget, retain, torch.Generator().manual_seed(5))
    assert after[0] < 0.5 * before[0]  # forget inputs now embed like noise
    assert after[1] < 0.5 * after[0] + 1e-9  # retain inputs stay close to their original embeddings
    assert torch.equal(tiny_mae.head.weight, head)  # the decoder is untouched


def test_unlearn_refuses_empty_sets_and_mismatched_shapes(tiny_mae, images):
    cfg = UnlearnConfig(max_steps=1)
    with pytest.raises(DataValidationError, match="forget set is empty"):
        unlearn(tiny_mae, images[:0], images, cfg, torch.device("cpu"))
    with pytest.raises(DataValidationError, match="retain"):
        unlearn(tiny_mae, images, images[:0], cfg, torch.device("cpu"))
    with pytest.raises(DataValidationError, match="differ in shape"):
        unlearn(tiny_mae, images, images[:, :, :16, :16], cfg, torch.device("cpu"))


def test_unknown_methods_are_refused():
    with pytest.raises(ValueError, match="unknown method"):
        UnlearnConfig(method="forget-harder")


def test_the_budget_scales_with_the_forget_set_and_is_clamped():
    cfg = UnlearnConfig(batch_size=64, forget_passes=4.0, min_steps=16, max_steps=400)
    assert budget_steps(5, cfg) == 16  # a few images: the floor
    assert budget_steps(500, cfg) == 63  # 4 passes of 500 images, 32 per step
    assert budget_steps(50_000, cfg) == 400  # the ceiling
    assert budget_steps(500, UnlearnConfig(forget_passes=8.0)) == 2 * budget_steps(500, UnlearnConfig(forget_passes=4.0)) - 1


def test_early_stopping_ends_unlearning_before_the_budget_on_training_side_probes(tiny_mae, images):
    train_inpainter(
        tiny_mae,
        images,
        replace(TINY_FIT, epochs=20, batch_size=16, lr=3e-3),
        torch.device("cpu"),
        torch.Generator().manual_seed(0),
    )
    cfg = UnlearnConfig(blr=0.096, batch_size=8, alpha=1.0, min_steps=400, max_steps=400, check_every=4)
    result = unlearn(tiny_mae, images[:6], images[6:], cfg, torch.device("cpu"))
    assert result.budget == 400 and result.fit.steps < 400
    assert result.fit.stop_reason.split(":")[0] in {"forgotten", "plateau"} or result.fit.stop_reason.startswith("retain:")
    assert result.probes[0]["step"] == 0 and result.probes[0]["forget_gap"] == pytest.approx(1.0, abs=0.3)
    assert result.probes[-1]["step"] == result.fit.steps  # the reading that stopped it is recorded


def test_a_retain_limit_broken_at_every_check_stops_the_run_and_restores_the_original(tiny_mae, images):
    import copy

    train_inpainter(
        tiny_mae,
        images,
        replace(TINY_FIT, epochs=20, batch_size=16, lr=3e-3),
        torch.device("cpu"),
        torch.Generator().manual_seed(0),
    )
    original = copy.deepcopy(tiny_mae.state_dict())
    # a harsh lr wrecks retain outputs within the first 4 steps; no tolerance: the run must end where it started
    cfg = UnlearnConfig(
        blr=1.0,
        batch_size=8,
        alpha=1.0,
        min_steps=40,
        max_steps=40,
        check_every=4,
        stop_gap=0.0,
        stop_plateau=-1e9,
        max_retain_drop_pct=0.0,
        patience=3,
    )
    result = unlearn(tiny_mae, images[:6], images[6:], cfg, torch.device("cpu"))
    assert result.fit.stop_reason.startswith("retain:") and "weights of step 0 restored" in result.fit.stop_reason
    assert result.fit.steps == 12 and result.kept_steps == 0  # 3 checks (patience) past the limit
    assert all(p["retain_psnr_drop_pct"] > 0 for p in result.probes[1:])
    assert all(torch.equal(v, original[k]) for k, v in tiny_mae.state_dict().items())


class ScriptedProbes(Probes):
    """The stopping rules on a scripted sequence of retain readings (no model run needed)."""

    def __init__(self, drops: list[float], cfg: UnlearnConfig):
        model = torch.nn.Linear(1, 1, bias=False)
        torch.nn.init.zeros_(model.weight)
        super().__init__(model, cfg, *([torch.zeros(1)] * 7), scale=1.0)
        self.drops = iter(drops)

    def measure(self) -> dict[str, float]:
        self.model.weight.data += 1  # the weights after n checks hold n
        return {"forget_gap": 1.0, "retain_drift": 0.0, "retain_psnr_drop_pct": next(self.drops)}

    def run(self) -> str:
        """Check every 4 steps until a rule stops the run."""
        return next(reason for step in itertools.count(0, 4) if (reason := self.check(step)))


def test_one_reading_past_the_retain_limit_does_not_end_the_run():
    cfg = UnlearnConfig(max_retain_drop_pct=1.0, patience=3, stop_plateau=-1e9, stop_gap=0.0)
    probes = ScriptedProbes([0.0, 0.5, 1.02, 0.6, 2.0, 3.0, 4.0], cfg)  # dip at step 8, recovery, then lasting damage
    reason = probes.run()
    assert reason is not None and reason.startswith("retain:") and "at the last 3 checks" in reason
    assert [h["step"] for h in probes.history] == [0, 4, 8, 12, 16, 20, 24]
    assert probes.settle() == 12 and probes.model.weight.item() == 4  # the last check within the limit, not step 4


def test_weights_within_the_limit_are_kept_as_they_are():
    cfg = UnlearnConfig(max_retain_drop_pct=1.0, patience=3, stop_plateau=-1e9, stop_gap=0.0)
    probes = ScriptedProbes([0.0, 1.5, 0.4], cfg)
    for step in (0, 4, 8):
        assert probes.check(step) is None
    assert probes.settle() is None and probes.restored_step is None and probes.model.weight.item() == 3


def test_retain_probes_are_kept_out_of_the_retain_term_when_the_pool_allows():
    pool = torch.arange(3 * PROBE).float().view(-1, 1, 1, 1)
    trained, probes = hold_out_probes(pool)
    assert len(probes) == PROBE and len(trained) == 2 * PROBE
    assert not set(trained.flatten().tolist()) & set(probes.flatten().tolist())
    small = pool[:PROBE]
    assert torch.equal(hold_out_probes(small)[0], small)  # a tiny pool is shared rather than emptied


def test_the_retain_rule_also_judges_the_weights_after_the_last_step(tiny_mae, images):
    import copy

    train_inpainter(
        tiny_mae,
        images,
        replace(TINY_FIT, epochs=20, batch_size=16, lr=3e-3),
        torch.device("cpu"),
        torch.Generator().manual_seed(0),
    )
    original = copy.deepcopy(tiny_mae.state_dict())
    # 6 steps, checks every 4: steps 5-6 would otherwise go unchecked; a limit no run can stay under
    cfg = UnlearnConfig(
        blr=1.0,
        batch_size=8,
        alpha=1.0,
        min_steps=6,
        max_steps=6,
        check_every=4,
        stop_gap=0.0,
        stop_plateau=-1e9,
        max_retain_drop_pct=-1e9,
    )
    result = unlearn(copy.deepcopy(tiny_mae), images[:6], images[6:], cfg, torch.device("cpu"))
    assert [p["step"] for p in result.probes] == [0, 4, 6] and result.kept_steps == 0
    assert result.fit.stop_reason == "budget; retain probes past the limit at the end: weights of step 0 restored"
    result = unlearn(tiny_mae, images[:6], images[6:], replace(cfg, max_retain_drop_pct=1e9), torch.device("cpu"))
    assert [p["step"] for p in result.probes] == [0, 4, 6] and result.fit.stop_reason == "budget" and result.kept_steps == 6
    assert not all(torch.equal(v, original[k]) for k, v in tiny_mae.state_dict().items())


def test_retain_probes_never_enter_the_retain_term(tiny_mae, monkeypatch):
    from components.unlearning import paired

    torch.manual_seed(0)
    pool = torch.rand(2 * PROBE + 8, 1, 32, 32)
    seen = []
    original = paired.paired_batches

    def spy(forget, retain, *args, **kwargs):
        seen.append(retain)
        return original(forget, retain, *args, **kwargs)

    monkeypatch.setattr(paired, "paired_batches", spy)
    cfg = UnlearnConfig(batch_size=8, min_steps=1, max_steps=1)
    unlearn(tiny_mae, pool[:4], pool, cfg, torch.device("cpu"))
    assert len(seen[0]) == len(pool) - PROBE and torch.equal(seen[0], pool[:-PROBE])
