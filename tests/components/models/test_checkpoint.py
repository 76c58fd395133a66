import pytest
import torch

from components.errors import CheckpointError
from components.models import checkpoint
from components.models.configs import FeatureNetConfig
from components.models.featurenet import FeatureNet


def test_checkpoint_round_trips_weights_and_config(tmp_path, tiny_mae):
    digest = checkpoint.save(tiny_mae, tmp_path / "m.pt")
    loaded = checkpoint.load(tmp_path / "m.pt")
    assert loaded.config == tiny_mae.config and len(digest) == 64
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), tiny_mae.state_dict().values(), strict=True))
    assert checkpoint.read_meta(tmp_path / "m.pt")["kind"] == "mae"


def test_checkpoint_refuses_weights_that_do_not_match_their_hash(tmp_path):
    checkpoint.save(FeatureNet(FeatureNetConfig()), tmp_path / "f.pt")
    other = tmp_path / "g.pt"
    checkpoint.save(FeatureNet(FeatureNetConfig(width=8)), other)
    (tmp_path / "f.pt").write_bytes(other.read_bytes())
    with pytest.raises(CheckpointError, match="do not match the sha256"):
        checkpoint.load(tmp_path / "f.pt")


def test_checkpoint_reports_missing_config_and_unknown_kind(tmp_path, tiny_mae):
    checkpoint.save(tiny_mae, tmp_path / "m.pt")
    (tmp_path / "m.json").unlink()
    with pytest.raises(CheckpointError, match="missing"):
        checkpoint.load(tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="unknown model kind"):
        checkpoint.build("gan", {})


def test_featurenet_features_and_logits_have_the_configured_sizes():
    net = FeatureNet(FeatureNetConfig(num_classes=7, feature_dim=20))
    x = torch.rand(3, 1, 32, 32)
    assert net.features(x).shape == (3, 20) and net(x).shape == (3, 7)


def test_a_checkpoint_from_before_sincos_and_refinement_loads_as_it_was_built(tmp_path, tiny_mae):
    """The config defaults follow params.yaml (sincos, refine_width 32); an old checkpoint's missing keys
    take the values it was built with (`checkpoint.LEGACY`), not those defaults."""
    import json

    path = tmp_path / "old.pt"
    checkpoint.save(tiny_mae, path)
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    del meta["config"]["pos_embed"], meta["config"]["refine_width"]  # what an older release wrote
    meta_path.write_text(json.dumps(meta))
    loaded = checkpoint.load(path)
    assert loaded.config.pos_embed == "learned" and torch.equal(loaded.pos_embed, tiny_mae.pos_embed)
    assert loaded.config.refine_width == 0 and loaded.refine is None
