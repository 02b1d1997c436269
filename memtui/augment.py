"""On-device augmentation of a training batch: random crop with zero padding and horizontal flip.

The CIFAR-N and APL recipes (torchvision's RandomCrop(32, padding=4) + RandomHorizontalFlip),
done on the whole batch where it lies, after the gather and before normalisation, so images never
leave the device and the padding is black as in torchvision. Only training batches are augmented;
evaluation and the per-sample ledger see the images as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PAD = 4


def crop_and_flip(images: torch.Tensor, generator: torch.Generator, pad: int = PAD
                  ) -> torch.Tensor:
    """Each image of ``images`` [B, C, H, W] replaced by an H x W window, at a uniformly random
    offset, of itself padded by ``pad`` zero pixels on every side, mirrored left-right with
    probability 1/2. ``generator`` lives on the images' device; the draws depend on it alone."""
    b, _, h, w = images.shape
    device = images.device
    padded = F.pad(images, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=device)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=device)
    flip = torch.rand(b, generator=generator, device=device) < 0.5
    rows = dy[:, None] + torch.arange(h, device=device)
    cols = dx[:, None] + torch.arange(w, device=device)
    cols = torch.where(flip[:, None], cols.flip(1), cols)  # a mirrored window reads right to left
    batch = torch.arange(b, device=device)[:, None, None]
    # advanced indices on dims 0, 2, 3 around a slice: the result is [B, H, W, C]
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


def batch_generator(seed: int, epoch: int, device: torch.device) -> torch.Generator:
    """The augmentation draws of an epoch: a function of (seed, epoch), so a resumed run replays
    them (the same rule as the batch order)."""
    generator = torch.Generator(device=device)
    generator.manual_seed((seed * 1_000_003 + epoch) * 2 + 1)
    return generator
