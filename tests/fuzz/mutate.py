#!/usr/bin/env python3
"""Structurally mutated copies of model files, the same every run.

    mutate.py --seed S --count N --out DIR FILE...

Writes N files to DIR, each a copy of one of FILE (in turn) with one to
three mutations: flipped bits, a truncation, a block of zeros, two blocks
swapped, a run of 0xff or random bytes, a block duplicated over another.
The random numbers come from splitmix64 seeded with S and the file's
number, not from Python's `random`, so the corpus is identical on every
Python version and machine. Names say what was done:
mut-0042-seq_dense_k1.2.2-zero+flip.h5.

The test suite loads each file in isolated mode (tests/test_mutated_corpus.c);
the fuzz harnesses use the same files as part of their seed corpus.
"""
import argparse
import os
import sys

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n if n > 0 else 0


def block(rng, size):
    """A block length: mostly small (one structure), sometimes large."""
    return 1 + (rng.below(64) if rng.below(4) else rng.below(4096)) if size > 1 else 1


def flip(data, rng):
    for _ in range(1 + rng.below(8)):
        i = rng.below(len(data))
        data[i] ^= 1 << rng.below(8)
    return data


def truncate(data, rng):
    return data[: rng.below(len(data))]


def zero(data, rng):
    n = block(rng, len(data))
    at = rng.below(len(data))
    data[at:at + n] = bytes(len(data[at:at + n]))
    return data


def swap(data, rng):
    n = block(rng, len(data))
    if len(data) < 2 * n:
        return flip(data, rng)
    a, b = rng.below(len(data) - n), rng.below(len(data) - n)
    first, second = bytes(data[a:a + n]), bytes(data[b:b + n])
    data[a:a + n], data[b:b + n] = second, first
    return data


def fill(data, rng):
    n = block(rng, len(data))
    at = rng.below(len(data))
    end = min(at + n, len(data))
    if rng.below(2):
        data[at:end] = b"\xff" * (end - at)
    else:
        data[at:end] = bytes(rng.below(256) for _ in range(end - at))
    return data


def duplicate(data, rng):
    n = block(rng, len(data))
    if len(data) <= n:
        return flip(data, rng)
    src, dst = rng.below(len(data) - n), rng.below(len(data) - n)
    data[dst:dst + n] = bytes(data[src:src + n])
    return data


MUTATIONS = [("flip", flip), ("trunc", truncate), ("zero", zero), ("swap", swap), ("fill", fill),
             ("dup", duplicate)]


def mutate(data, rng):
    names = []
    for _ in range(1 + rng.below(3)):
        if not data:
            break
        name, fn = MUTATIONS[rng.below(len(MUTATIONS))]
        data = fn(bytearray(data), rng)
        names.append(name)
    return bytes(data), "+".join(names)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--count", type=int, default=1200)
    ap.add_argument("--out", required=True)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    sources = []
    for path in sorted(args.files):
        with open(path, "rb") as f:
            sources.append((os.path.splitext(os.path.basename(path))[0], f.read()))
    os.makedirs(args.out, exist_ok=True)
    for i in range(args.count):
        stem, data = sources[i % len(sources)]
        rng = SplitMix64(args.seed * 1000003 + i)
        out, how = mutate(data, rng)
        with open(os.path.join(args.out, "mut-%04d-%s-%s.h5" % (i, stem, how)), "wb") as f:
            f.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
