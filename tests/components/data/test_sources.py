import numpy as np
import pytest
from PIL import Image

from components.data import sources
from components.data.sources import load_source
from components.errors import DataSourceError
from tests.conftest import write_idx_source


def test_load_source_reads_raw_idx_files_as_torchvision_lays_them_out(tmp_path):
    raw = load_source(write_idx_source(tmp_path / "raw", gz=False))
    assert raw.images["train"].shape == (60, 28, 28) and raw.labels["test"].shape == (20,)
    assert raw.id_prefix == "fm" and raw.class_names[7] == "Sneaker"


def test_load_source_says_how_to_install_the_missing_debian_package(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST", tmp_path / "absent")
    with pytest.raises(DataSourceError, match="apt-get install -y dataset-fashion-mnist"):
        load_source(None)


def test_load_source_rejects_label_count_mismatch(tmp_path):
    directory = write_idx_source(tmp_path / "idx")
    from components.data.idx import write_idx

    write_idx(directory / "train-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(DataSourceError, match="labels for 60 images"):
        load_source(directory)


def _save(path, value, size=(28, 28), mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def test_image_folder_with_split_dirs_is_greyscaled_and_resized(tmp_path):
    for split, n in (("train", 3), ("test", 1)):
        for cls in ("cat", "dog"):
            for i in range(n):
                _save(tmp_path / split / cls / f"{i}.png", (200, 10, 10), size=(40, 30), mode="RGB")
    raw = load_source(tmp_path)
    assert raw.class_names == ("cat", "dog") and raw.id_prefix == "img"
    assert raw.images["train"].shape == (6, 28, 28) and raw.images["test"].shape == (2, 28, 28)
    assert list(raw.labels["train"]) == [0, 0, 0, 1, 1, 1]


def test_flat_image_folder_sends_every_seventh_image_to_test(tmp_path):
    for i in range(14):
        _save(tmp_path / "shoe" / f"{i:02d}.jpg", i * 10)
    raw = load_source(tmp_path)
    assert len(raw.images["train"]) == 12 and len(raw.images["test"]) == 2


def test_image_folder_reports_an_unreadable_image(tmp_path):
    _save(tmp_path / "a" / "ok.png", 1)
    (tmp_path / "a" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataSourceError, match="broken.png: unreadable image"):
        load_source(tmp_path)


def test_empty_directory_is_not_a_source(tmp_path):
    with pytest.raises(DataSourceError, match="no IDX files and no class folders"):
        load_source(tmp_path)
