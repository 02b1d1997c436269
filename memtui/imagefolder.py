"""Any image data set in an ImageFolder tree: ``train/<class>/*`` and ``test/<class>/*``.

Classes are the sub-folders of ``train`` in sorted order, and ``test`` must have the same ones;
within a class, files are taken in the order torchvision's ImageFolder takes them (sorted walk),
so a CIFAR-10 tree keeps its numbering. Every image must have one size (memtui trains on whole
tensors); grey images in a colour set are repeated to three channels, alpha is dropped.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import torch

from memtui.errors import DataError
from memtui.imageset import ImageSet

EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
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
    """Decode every image into one uint8 tensor [N, C, H, W]. ``shape`` (C, H, W) when the data set
    fixes it (CIFAR-10); otherwise the first image sets the size and the set's colours the C."""
    from torchvision.io import ImageReadMode, decode_image, read_file

    if not samples:
        raise DataError("no images to read")
    images: torch.Tensor | None = None
    colour = torch.zeros(len(samples), dtype=torch.bool)
    first: tuple[Path, int, int] | None = None
    # torchvision 0.29 deprecates its JPEG decoder in favour of TorchCodec; it still decodes
    # correctly, and a warning per image would bury the run's own output.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="torchvision")
        for i, (path, _) in enumerate(samples):
            try:
                image = decode_image(read_file(str(path)), mode=ImageReadMode.UNCHANGED)
            except RuntimeError:
                raise DataError(f"{path} is damaged: it cannot be decoded as an image") from None
            if image.ndim != 3:
                raise DataError(f"{path} is not a still image (shape {tuple(image.shape)})")
            c, h, w = image.shape
            if first is None:
                first = (path, h, w)
                if shape is not None and (h, w) != shape[1:]:
                    raise DataError(f"{path} is {w}x{h} pixels; this data set's images are "
                                    f"{shape[2]}x{shape[1]}")
                images = torch.empty((len(samples), 3, h, w), dtype=torch.uint8)
            elif (h, w) != first[1:]:
                raise DataError(f"images differ in size: {path} is {w}x{h} pixels, {first[0]} is "
                                f"{first[2]}x{first[1]}; memtui needs one size (resize them first)")
            assert images is not None
            if c >= 3:
                images[i] = image[:3]
                colour[i] = True
            else:
                images[i] = image[:1]  # grey (and grey+alpha): one channel, broadcast to three
    assert images is not None
    labels = torch.tensor([label for _, label in samples], dtype=torch.int64)
    channels = shape[0] if shape is not None else (3 if bool(colour.any()) else 1)
    if channels == 1:
        if bool(colour.any()):
            path = samples[int(colour.nonzero()[0])][0]
            raise DataError(f"{path} is a colour image; this data set's images are grey")
        return images[:, :1].contiguous(), labels
    return images, labels


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
