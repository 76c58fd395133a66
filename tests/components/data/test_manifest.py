import pytest

from components.data import DataConfig, is_safe_id, load_images, load_source, materialise, read_manifest, verify_files
from components.data.manifest import MANIFEST_NAME
from components.errors import DataValidationError


@pytest.fixture
def data_dir(tmp_path, idx_source):
    materialise(load_source(idx_source), DataConfig(train_per_class=1, test_per_class=1), tmp_path / "data")
    return tmp_path / "data"


@pytest.mark.parametrize(
    "token,ok",
    [
        ("fm-train-000123", True),
        ("subj-000001", True),
        ("../etc/passwd", False),
        ("a/b", False),
        ("", False),
        (".hidden", False),
        ("x" * 65, False),
        ("id with space", False),
    ],
)
def test_is_safe_id_accepts_tokens_and_rejects_path_like_ids(token, ok):
    assert is_safe_id(token) is ok


def test_verify_files_detects_a_file_that_does_not_match_its_sha256(data_dir):
    samples = read_manifest(data_dir)
    (data_dir / samples[0].relpath).write_bytes(b"tampered")
    with pytest.raises(DataValidationError, match="does not match its manifest sha256"):
        verify_files(data_dir, samples)


def test_verify_files_detects_a_missing_file(data_dir):
    samples = read_manifest(data_dir)
    (data_dir / samples[1].relpath).unlink()
    with pytest.raises(DataValidationError, match="is missing"):
        verify_files(data_dir, samples)


@pytest.mark.parametrize("relpath", ["../../secret.png", "train/../../secret.png", "/etc/passwd"])
def test_read_manifest_rejects_a_relpath_that_escapes_data(data_dir, relpath):
    text = (data_dir / MANIFEST_NAME).read_text().splitlines()
    fields = text[1].split(",")
    fields[5] = relpath
    (data_dir / MANIFEST_NAME).write_text("\n".join([text[0], ",".join(fields)]) + "\n")
    with pytest.raises(DataValidationError, match="escapes the data directory"):
        read_manifest(data_dir)


def test_read_manifest_rejects_a_wrong_header(data_dir):
    (data_dir / MANIFEST_NAME).write_text("id,label\nx,1\n")
    with pytest.raises(DataValidationError, match="header must be"):
        read_manifest(data_dir)


def test_load_images_pads_to_32_and_rejects_a_wrong_shape(data_dir):
    from PIL import Image

    samples = read_manifest(data_dir)
    x = load_images(data_dir, samples)
    assert x.shape == (len(samples), 1, 32, 32) and 0 <= x.min() and x.max() <= 1
    assert x[:, :, :2].abs().sum() == 0  # zero padding
    Image.new("L", (30, 30)).save(data_dir / samples[0].relpath)
    with pytest.raises(DataValidationError, match="expected 28x28"):
        load_images(data_dir, samples)


def test_load_images_rejects_a_corrupt_png(data_dir):
    samples = read_manifest(data_dir)
    (data_dir / samples[0].relpath).write_bytes(b"\x89PNG\r\n\x1a\ngarbage")
    with pytest.raises(DataValidationError, match="cannot read"):
        load_images(data_dir, samples)


def test_read_manifest_parses_again_when_the_bytes_change_even_at_the_same_size(data_dir):
    first = read_manifest(data_dir)
    first.clear()  # callers get their own list: the cached samples stay intact
    text = (data_dir / MANIFEST_NAME).read_text().splitlines()
    fields = text[1].split(",")
    fields[2] = "9" if fields[2] != "9" else "8"  # another one-digit label: same size, other bytes
    (data_dir / MANIFEST_NAME).write_text("\n".join([text[0], ",".join(fields), *text[2:]]) + "\n")

    again = read_manifest(data_dir)

    assert again[0].label == int(fields[2]) and len(again) == len(text) - 1
