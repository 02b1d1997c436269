"""Any image data set in an ImageFolder tree: ``train/<class>/*`` and ``test/<class>/*``.

Classes are the sub-folders of ``train`` in sorted order, and ``test`` must have the same ones;
within a class, files are taken in the order torchvision's ImageFolder takes them (sorted walk),
so a CIFAR-10 tree keeps its numbering. Every image must have one size (memtui trains on whole
tensors); grey images in a colour set are repeated to three channels, alpha is dropped. Pillow
decodes them (memtui needs no torchvision).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from memtui.errors import DataError
from memtui.imageset import ImageSet

# torchvision's ImageFolder suffixes, as memtui/data.py reads the CIFAR-10 tree; Pillow decodes them
EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")
LAYOUT = "train/<class>/<image> and test/<class>/<image> folders"


def image_files(root: Path) -> tuple[tuple[str, ...], list[tuple[Path, int]]]:
    """The classes under ``root`` and each image file with its class index, ImageFolder's order."""
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; expected {LAYOUT}")
    classes = tuple(sorted(entry.name for entry in os.scandir(root)
                           if entry.is_dir() and not entry.name.startswith(".")))
    if len(classes) < 2:
        raise DataError(f"{root} holds {len(classes)} class folder(s); a classification needs "
                        f"at least 2 ({LAYOUT})")
    samples: list[tuple[Path, int]] = []
    for index, name in enumerate(classes):
        found = [Path(folder) / fname
                 for folder, _, fnames in sorted(os.walk(root / name, followlinks=True))
                 for fname in sorted(fnames)
                 if fname.lower().endswith(EXTENSIONS) and not fname.startswith(".")]
        if not found:
            raise DataError(f"{root / name} holds no images ({', '.join(EXTENSIONS)}); remove "
                            "the empty class or fill it")
        samples.extend((path, index) for path in found)
    return classes, samples


def fingerprint(root: Path) -> str:
    """A key that changes when any image under ``root`` is added, removed or rewritten (the
    folder's own mtime does not: it changes only for entries directly in it)."""
    digest = hashlib.sha1(str(root.resolve()).encode())
    for folder, dirs, fnames in sorted(os.walk(root, followlinks=True)):
        dirs.sort()
        for fname in sorted(fnames):
            stat = os.stat(os.path.join(folder, fname))
            digest.update(f"{folder}/{fname}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def decode(samples: list[tuple[Path, int]], shape: tuple[int, int, int] | None = None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode every image (Pillow) into one uint8 tensor [N, C, H, W]. ``shape`` (C, H, W) when the
    data set fixes it; otherwise the first image sets the size and the set's colours the C."""
    from PIL import Image, UnidentifiedImageError

    if not samples:
        raise DataError("no images to read")
    images: np.ndarray | None = None
    colour = np.zeros(len(samples), dtype=bool)
    first: tuple[Path, int, int] | None = None
    for i, (path, _) in enumerate(samples):
        try:
            with Image.open(path) as picture:
                grey = picture.mode in GREY_MODES
                pixels = np.asarray(picture.convert("L" if grey else "RGB"))
        except (UnidentifiedImageError, OSError, ValueError):
            raise DataError(f"{path} is damaged: it cannot be decoded as an image") from None
        h, w = pixels.shape[:2]
        if first is None:
            first = (path, h, w)
            if shape is not None and (h, w) != shape[1:]:
                raise DataError(f"{path} is {w}x{h} pixels; this data set's images are "
                                f"{shape[2]}x{shape[1]}")
            images = np.empty((len(samples), h, w, 3), dtype=np.uint8)
        elif (h, w) != first[1:]:
            raise DataError(f"images differ in size: {path} is {w}x{h} pixels, {first[0]} is "
                            f"{first[2]}x{first[1]}; memtui needs one size (resize them first)")
        assert images is not None
        # grey: one channel, repeated to three in case the set holds colour images too
        images[i] = pixels[:, :, None] if grey else pixels
        colour[i] = not grey
    assert images is not None
    labels = torch.tensor([label for _, label in samples], dtype=torch.int64)
    channels = shape[0] if shape is not None else (3 if bool(colour.any()) else 1)
    tensor = torch.from_numpy(images).permute(0, 3, 1, 2)
    if channels == 1:
        if bool(colour.any()):
            path = samples[int(np.flatnonzero(colour)[0])][0]
            raise DataError(f"{path} is a colour image; this data set's images are grey")
        return tensor[:, :1].contiguous(), labels
    return tensor.contiguous(), labels


def read_image_folder(root: Path) -> ImageSet:
    """Decode ``root/train`` and ``root/test`` (same classes, one image size across both)."""
    root = Path(root)
    if not (root / "train").is_dir() or not (root / "test").is_dir():
        raise DataError(f"{root} has no train/ and test/ folders; expected {LAYOUT}")
    classes, train = image_files(root / "train")
    test_classes, test = image_files(root / "test")
    if test_classes != classes:
        extra = sorted(set(test_classes) ^ set(classes))
        raise DataError(f"{root / 'test'} has other classes than {root / 'train'} (differing: "
                        f"{', '.join(extra) or 'their order'}); both need the same class folders")
    images, labels = decode(train + test)
    n = len(train)
    return ImageSet(images[:n].contiguous(), labels[:n], images[n:].contiguous(), labels[n:],
                    classes)
