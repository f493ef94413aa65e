"""MinHash signatures over word shingles, their LSH band buckets, and the estimated Jaccard similarity.

datasketch computes the signatures (its permutations are seeded, so every worker on every host computes the same
signature for the same text). Shingles are hashed with CRC-32 rather than datasketch's default SHA-1: shingle
hashes only need to be stable and well spread before the MinHash permutations, and CRC-32 is a C call, which
keeps signing a 1,500-word article near one millisecond.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from datasketch import MinHash

from processors.extraction.text import fold_for_hash

__all__ = ["NearDuplicateOptions", "Signature", "shingles", "sign", "band_buckets", "estimated_jaccard"]


@dataclass(frozen=True)
class NearDuplicateOptions:
    """Tunables of near-duplicate detection (level 3); see docs/dedupe.md for how they were measured.

    `num_perm`, `bands`, `rows` and `shingle_words` define the index: changing them makes existing index entries
    unreachable (they age out with the retention window), so change them together with a purge.
    """

    shingle_words: int = 2  # word bigrams: a 10 % edit keeps ~0.66 Jaccard, unrelated texts stay below ~0.23
    num_perm: int = 128  # signature length: the Jaccard estimate's standard error is ~0.04 at 0.66
    bands: int = 32  # LSH bands of `rows` values: P(candidate) = 1 - (1 - J^rows)^bands
    rows: int = 4  # with 32 x 4: 0.87 at J=0.5, 0.999 at J=0.66, 0.003 at J=0.1
    threshold: float = 0.5  # estimated Jaccard at or above which a candidate is a near duplicate
    min_shingles: int = 20  # shorter texts skip this level: a few shingles give no reliable estimate
    seed: int = 1  # permutation seed; every worker must use the same

    def __post_init__(self) -> None:
        if self.bands * self.rows > self.num_perm:
            raise ValueError("bands * rows must not exceed num_perm")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")


@dataclass(frozen=True)
class Signature:
    """A text's MinHash values (uint32, `num_perm` of them) and the LSH buckets they fall in."""

    values: np.ndarray
    buckets: tuple[int, ...]

    def to_bytes(self) -> bytes:
        return self.values.astype("<u4").tobytes()


def shingles(text: str, words: int) -> set[bytes]:
    """The set of `words`-word shingles of the folded text (case, spacing and punctuation ignored)."""
    tokens = fold_for_hash(text).split()
    if len(tokens) < words:
        return {" ".join(tokens).encode()} if tokens else set()
    return {" ".join(tokens[i:i + words]).encode() for i in range(len(tokens) - words + 1)}


# Pinned: datasketch's default scheme changed in 2.0, and an index only works with signatures of one scheme.
_SCHEME = "affine32"


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return MinHash(num_perm=num_perm, seed=seed, scheme=_SCHEME).permutations  # type: ignore[return-value]


def band_buckets(values: np.ndarray, bands: int, rows: int) -> tuple[int, ...]:
    """One signed 64-bit bucket per band: a hash of the band's number and its values, sorted (lock order)."""
    raw = values.astype("<u4").tobytes()
    width = rows * 4
    buckets = []
    for band in range(bands):
        digest = hashlib.blake2b(raw[band * width:(band + 1) * width], digest_size=8,
                                 person=band.to_bytes(2, "little") + b"nw-lsh").digest()
        buckets.append(int.from_bytes(digest, "little", signed=True))
    return tuple(sorted(buckets))


def sign(text: str, options: NearDuplicateOptions = NearDuplicateOptions()) -> Signature | None:
    """The text's signature, or None when it has fewer than `min_shingles` shingles."""
    grams = shingles(text, options.shingle_words)
    if len(grams) < options.min_shingles:
        return None
    minhash = MinHash(num_perm=options.num_perm, seed=options.seed, hashfunc=zlib.crc32,
                      scheme=_SCHEME, permutations=_permutations(options.num_perm, options.seed))
    minhash.update_batch(grams)
    values = minhash.hashvalues.astype(np.uint32)
    return Signature(values=values, buckets=band_buckets(values, options.bands, options.rows))


def estimated_jaccard(a: np.ndarray | bytes, b: np.ndarray | bytes) -> float:
    """The share of equal MinHash values: an unbiased estimate of the Jaccard similarity of the shingle sets."""
    va = np.frombuffer(a, dtype="<u4") if isinstance(a, bytes) else a
    vb = np.frombuffer(b, dtype="<u4") if isinstance(b, bytes) else b
    if va.shape != vb.shape:
        return 0.0
    return float(np.count_nonzero(va == vb)) / float(len(va))
