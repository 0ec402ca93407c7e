"""Image distances (playground.metrics): figures worked out by hand or by scikit-image and imagehash
called directly here, the size rule, and the two dict forms (drift's and a re-run's)."""

from __future__ import annotations

import math

import imagehash
import numpy as np
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from playground.metrics import compare_images
from tests.conftest import make_image

FLAT = (10, 20, 30)


def test_identical_images_are_zero_apart():
    image = make_image()
    same = compare_images(image, image.copy())
    assert (same.mse, same.psnr, same.ssim, same.phash) == (0.0, None, 1.0, 0)
    assert same.identical and not same.resized
    assert (same.max_difference, same.mean_difference, same.changed_fraction) == (0, 0.0, 0.0)
    # The summary of identical pixels is exactly what a re-run reports when it reproduces the image.
    assert same.summary() == {"identical": True, "same_size": True, "max": 0, "mean": 0.0, "psnr_db": None,
                              "changed_fraction": 0.0}


def test_one_changed_pixel_gives_the_distances_worked_out_by_hand():
    reference = Image.new("RGB", (64, 64), FLAT)
    changed = reference.copy()
    changed.putpixel((5, 7), (13, 20, 26))  # channel differences 3, 0, 4
    values = 64 * 64 * 3
    distance = compare_images(reference, changed)
    assert distance.mse == (3 ** 2 + 4 ** 2) / values
    assert math.isclose(distance.psnr, 10 * math.log10(255 ** 2 / ((3 ** 2 + 4 ** 2) / values)), rel_tol=1e-12)
    assert distance.max_difference == 4 and distance.mean_difference == (3 + 4) / values
    assert distance.changed_fraction == 1 / (64 * 64)
    assert not distance.identical and distance.ssim < 1.0
    # A second changed pixel doubles the error: the figures follow the pixels, not a constant.
    changed.putpixel((40, 2), (13, 20, 26))
    assert compare_images(reference, changed).mse == 2 * distance.mse


def test_summary_matches_scikit_image():
    a = make_image()
    b = make_image(pattern=1)
    diff = compare_images(a, b).summary()
    expected = peak_signal_noise_ratio(np.asarray(a), np.asarray(b), data_range=255)
    delta = np.abs(np.asarray(a).astype(int) - np.asarray(b).astype(int))
    assert diff["psnr_db"] == round(expected, 4) and not diff["identical"]
    assert (diff["max"], diff["mean"]) == (delta.max(), round(delta.mean(), 6))
    other = compare_images(a, make_image(32, 32)).summary()
    assert other["same_size"] is False and other["expected_size"] == [64, 64] and other["actual_size"] == [32, 32]


def test_images_of_different_sizes_are_measured_after_resizing_to_the_reference():
    small, large = make_image(64, 64), make_image(128, 96, color=(30, 120, 200))
    distance = compare_images(small, large)
    assert distance.resized and not distance.identical
    assert (distance.reference_size, distance.image_size) == ((64, 64), (128, 96))
    resized = large.resize((64, 64), Image.Resampling.LANCZOS)
    assert distance.mse == compare_images(small, resized).mse
    assert distance.phash == imagehash.phash(small) - imagehash.phash(resized)
    as_dict = distance.as_dict()
    assert as_dict["resized"] is True and as_dict["reference_size"] == [64, 64] and as_dict["image_size"] == [128, 96]
    # A re-run does not compare pixels of images that differ in size.
    assert distance.summary()["max"] is None and distance.summary()["psnr_db"] is None


def test_images_smaller_than_the_ssim_window_are_measured():
    tiny = Image.new("RGB", (3, 5), FLAT)
    other = tiny.copy()
    other.putpixel((1, 1), (200, 200, 200))
    distance = compare_images(tiny, other)
    assert 0.0 < distance.ssim < 1.0 and distance.changed_fraction == 1 / 15
