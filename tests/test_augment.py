"""Specification of on-device augmentation (``data.augment``): each training image becomes a
window of itself padded by 4 black pixels, at a uniformly random offset, mirrored left-right with
probability 1/2; the draws are a function of the generator's seed."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from memtui.augment import batch_generator, crop_and_flip


def images(b: int = 64, c: int = 3, h: int = 8, w: int = 6) -> torch.Tensor:
    return torch.randint(1, 256, (b, c, h, w), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(0))


def windows_of(image: torch.Tensor, pad: int = 4) -> list[torch.Tensor]:
    """Every crop and mirrored crop the augmentation may give for one image."""
    _, h, w = image.shape
    padded = F.pad(image, (pad, pad, pad, pad))
    found = []
    for y in range(2 * pad + 1):
        for x in range(2 * pad + 1):
            window = padded[:, y:y + h, x:x + w]
            found += [window, window.flip(2)]
    return found


def test_each_image_becomes_one_of_its_padded_crops_or_their_mirror_images():
    x = images()
    out = crop_and_flip(x, torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    for original, augmented in zip(x, out):
        assert any(torch.equal(augmented, window) for window in windows_of(original))


def test_offsets_and_flips_are_drawn_per_image_and_cover_every_choice():
    x = images(b=2000, c=1, h=12, w=12)
    x[:] = 0
    x[:, :, 0, 0] = 255  # a marker: where it lands tells the offset and the flip
    out = crop_and_flip(x, torch.Generator().manual_seed(2))
    seen = set()
    for image in out[:, 0]:
        where = (image == 255).nonzero()
        if len(where):
            seen.add(tuple(where[0].tolist()))
    # marker at (4 - dy, 4 - dx) unflipped or mirrored: 5 x 5 visible offsets x 2 flips
    assert len(seen) == 50
    flipped = [(r, c) for r, c in seen if c >= 6]
    assert len(flipped) == 25


def test_the_same_seed_gives_the_same_batch_and_another_seed_another():
    x = images()
    a = crop_and_flip(x, batch_generator(3, 1, torch.device("cpu")))
    b = crop_and_flip(x, batch_generator(3, 1, torch.device("cpu")))
    c = crop_and_flip(x, batch_generator(3, 2, torch.device("cpu")))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_floats_are_augmented_the_same_way():
    x = images()
    gen = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    assert torch.equal(crop_and_flip(x.float(), gen()), crop_and_flip(x, gen()).float())
