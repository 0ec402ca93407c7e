"""Image distances: how far one image is from another, for drift, re-run and verify.

`compare_images(reference, image)` measures every distance the playground reports, once, on 8-bit RGB
pixels: mean squared error, PSNR and SSIM from scikit-image, the perceptual-hash (`imagehash.phash`,
64 bits) Hamming distance, and the plain pixel differences (largest and mean absolute channel
difference, the fraction of pixels that changed). Exact identity of pixels is `images.content_hash`.

Size rule: when the two images differ in size, `image` is resized to the reference's size with
Pillow's Lanczos filter before anything is measured (`ImageDistance.resized` says so). PSNR is None
for identical pixels (it is infinite).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

RESIZE_RULE = ("When two images differ in size, the later image is resized to the earlier image's size "
               "(Pillow LANCZOS) before the metrics are computed.")


@dataclass(frozen=True)
class ImageDistance:
    """How far an image is from a reference.

    `mse` (0 = identical), `psnr` in dB (None = identical), `ssim` (1 = identical), `phash` Hamming
    distance in bits (0 = same hash), `max_difference` / `mean_difference` the largest and mean
    absolute channel difference (0-255), `changed_fraction` the share of pixels with any channel
    changed. All are measured after the size rule; the sizes are the images' own.
    """

    mse: float
    psnr: float | None
    ssim: float
    phash: int
    max_difference: int
    mean_difference: float
    changed_fraction: float
    reference_size: tuple[int, int]
    image_size: tuple[int, int]

    @property
    def resized(self) -> bool:
        """Whether the sizes differed, so the image was resized before measuring."""
        return self.image_size != self.reference_size

    @property
    def identical(self) -> bool:
        """Same size and the same pixels."""
        return not self.resized and self.max_difference == 0

    def as_dict(self) -> dict[str, Any]:
        """Every measure, JSON-ready (the form drift manifests keep per step)."""
        return {"mse": self.mse, "psnr": self.psnr, "ssim": self.ssim, "phash": self.phash, "resized": self.resized,
                "identical": self.identical, "max": self.max_difference, "mean": self.mean_difference,
                "changed_fraction": self.changed_fraction, "reference_size": list(self.reference_size),
                "image_size": list(self.image_size)}

    def summary(self) -> dict[str, Any]:
        """The pixel-difference summary a re-run reports, rounded for reading: `{"identical", "same_size",
        "max", "mean", "psnr_db", "changed_fraction"}`. Images of different sizes are not compared
        pixel by pixel: then the figures are None and `expected_size` / `actual_size` say the sizes."""
        if self.resized:
            return {"identical": False, "same_size": False, "expected_size": list(self.reference_size),
                    "actual_size": list(self.image_size), "max": None, "mean": None, "psnr_db": None,
                    "changed_fraction": None}
        return {"identical": self.identical, "same_size": True, "max": self.max_difference,
                "mean": round(self.mean_difference, 6),
                "psnr_db": None if self.psnr is None else round(self.psnr, 4),
                "changed_fraction": round(self.changed_fraction, 6)}


def compare_images(reference: Image.Image, image: Image.Image) -> ImageDistance:
    """Every distance of `image` from `reference` (see the module docstring for the size rule).

    MSE: skimage.metrics.mean_squared_error; PSNR: peak_signal_noise_ratio with data_range 255 (None when
    MSE is 0); SSIM: structural_similarity over the RGB channels (channel_axis=2, data_range 255, a 7-pixel
    window or the largest odd window that fits); pHash: imagehash.phash(reference) - imagehash.phash(image).
    """
    # Heavy libraries, imported when a comparison is first asked for (not at app start).
    import imagehash
    import numpy as np
    from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

    ref = reference.convert("RGB")
    other = image.convert("RGB")
    if other.size != ref.size:
        other = other.resize(ref.size, Image.Resampling.LANCZOS)
    a, b = np.asarray(ref), np.asarray(other)
    mse = float(mean_squared_error(a, b))
    psnr = None if mse == 0 else float(peak_signal_noise_ratio(a, b, data_range=255))
    window = min(7, *(s if s % 2 else s - 1 for s in ref.size))
    ssim = float(structural_similarity(a, b, channel_axis=2, data_range=255, win_size=max(window, 1)))
    difference = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return ImageDistance(
        mse=mse, psnr=psnr, ssim=ssim, phash=int(imagehash.phash(ref) - imagehash.phash(other)),
        max_difference=int(difference.max()), mean_difference=float(difference.mean()),
        changed_fraction=float(difference.any(axis=-1).mean()),
        reference_size=reference.size, image_size=image.size,
    )
