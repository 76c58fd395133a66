import io

import numpy as np
from PIL import Image

from components.data.png import encode_grey_png


def test_encode_grey_png_decodes_to_the_same_pixels():
    pixels = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    decoded = np.asarray(Image.open(io.BytesIO(encode_grey_png(pixels))))
    assert decoded.dtype == np.uint8 and np.array_equal(decoded, pixels)


def test_encode_grey_png_splits_large_images_into_several_stored_blocks():
    pixels = np.random.default_rng(1).integers(0, 256, (300, 300), dtype=np.uint8)  # > 65,535 raw bytes
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode_grey_png(pixels)))), pixels)


def test_encode_grey_png_is_byte_deterministic():
    pixels = np.full((28, 28), 7, np.uint8)
    assert encode_grey_png(pixels) == encode_grey_png(pixels.copy())
