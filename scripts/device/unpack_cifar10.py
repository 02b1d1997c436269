"""Rebuild the CIFAR-10 ImageFolder tree from pack_cifar10.py's blob and index.

    python scripts/device/unpack_cifar10.py .devdata DEST   ->  DEST/train/<class>/*.jpg, DEST/test/...
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path


def main(source: Path, dest: Path) -> None:
    with gzip.open(source / "cifar10.index.json.gz", "rt") as fh:
        index = json.load(fh)
    digest = hashlib.sha256()
    with open(source / "cifar10.jpgblob", "rb") as blob:
        for relative, length in index["files"]:
            data = blob.read(length)
            if len(data) != length:
                raise SystemExit(f"blob ends early at {relative}")
            digest.update(data)
            path = dest / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    if digest.hexdigest() != index["sha256"]:
        raise SystemExit("blob does not match its index (SHA-256 differs)")
    print(f"unpacked {len(index['files'])} JPEGs into {dest}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
