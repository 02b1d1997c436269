"""Pack the CIFAR-10 JPEG tree into one blob + index small enough to carry to the device machine.

The zip (65 MB with its headers) and the repository together pass the device tool's 64 MiB
transfer limit; the JPEG bytes alone are about 53 MiB. This writes them, unchanged, end to end into
``.devdata/cifar10.jpgblob`` and their paths and lengths into ``.devdata/cifar10.index.json.gz``;
``unpack_cifar10.py`` rebuilds the ``train/<class>/*.jpg``, ``test/<class>/*.jpg`` tree from them,
byte for byte (it checks a SHA-256 of the whole blob).

    python scripts/device/pack_cifar10.py --zip DATA/cifar10-jpeg.zip [--out .devdata]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import zipfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zip", type=Path, required=True, help="the CIFAR-10 JPEG zip")
    parser.add_argument("--out", type=Path, default=Path(".devdata"))
    parser.add_argument("--limit", type=int, help="images per class and split (for a quick test)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    files, digest, per_folder = [], hashlib.sha256(), {}
    with zipfile.ZipFile(args.zip) as archive, open(args.out / "cifar10.jpgblob", "wb") as blob:
        names = sorted(n for n in archive.namelist() if n.endswith(".jpg"))
        for name in names:
            parts = Path(name).parts
            split_at = next(i for i, p in enumerate(parts) if p in ("train", "test"))
            relative = "/".join(parts[split_at:])  # train/<class>/NNNN.jpg
            folder = str(Path(relative).parent)
            if args.limit is not None and per_folder.get(folder, 0) >= args.limit:
                continue
            per_folder[folder] = per_folder.get(folder, 0) + 1
            data = archive.read(name)
            blob.write(data)
            digest.update(data)
            files.append([relative, len(data)])
    index = {"files": files, "sha256": digest.hexdigest()}
    with gzip.open(args.out / "cifar10.index.json.gz", "wt") as fh:
        json.dump(index, fh)
    total = sum(n for _, n in files)
    print(f"packed {len(files)} JPEGs, {total / 2**20:.1f} MiB, into {args.out}")


if __name__ == "__main__":
    main()
