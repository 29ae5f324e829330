#!/usr/bin/env python3
"""`anchor tree root` against `LC_ALL=C sort -u` of the same file, in the same run (issue 25).

Usage: scripts/tree-root-vs-sort.py ANCHOR [DIR]

Writes three inputs into DIR (default: a temp dir) — 500 000, 1 000 000 and 2 000 000 distinct
random 64-hex digests, each with 10 % of them repeated, shuffled, about half the lines in
upper case (the issue's 1.11M-line file, and one below and one above `anchor tree root`'s
32 MiB sort chunk of 1 048 576 digests) — then times both commands on each file, taking
turns, five times, and prints the medians (and minimums) and their ratio. `sort -u` keeps
upper- and lower-case spellings apart and prints the lines; `anchor tree root` decodes them,
de-duplicates, and hashes the tree: the comparison is of time only.
"""

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time


def make(path, distinct, rng):
    digests = [rng.randbytes(32).hex() for _ in range(distinct)]
    lines = digests + rng.sample(digests, distinct // 10)
    rng.shuffle(lines)
    with open(path, "w", encoding="ascii") as f:
        for line in lines:
            f.write((line.upper() if rng.random() < 0.5 else line) + "\n")
    return len(lines)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    anchor = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="tree-root-vs-sort-")
    rng = random.Random(25)
    env = dict(os.environ, LC_ALL="C")
    print("load average at start:", " ".join(open("/proc/loadavg").read().split()[:3]))
    print("| distinct | lines | `anchor tree root` median (min) | `LC_ALL=C sort -u` median (min) | ratio of medians |")
    print("|---:|---:|---:|---:|---:|")
    for distinct in (500_000, 1_000_000, 2_000_000):
        path = os.path.join(out, f"digests-{distinct}.txt")
        lines = make(path, distinct, rng)
        ours, sort = [], []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run([anchor, "tree", "root", "--digests", path], check=True, stdout=subprocess.DEVNULL)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            subprocess.run(["sort", "-u", path], check=True, stdout=subprocess.DEVNULL, env=env)
            sort.append(time.perf_counter() - t)
        a, s = statistics.median(ours), statistics.median(sort)
        print(f"| {distinct} | {lines} | {a * 1e3:.0f} ms ({min(ours) * 1e3:.0f}) | {s * 1e3:.0f} ms ({min(sort) * 1e3:.0f}) | {a / s:.2f} |")
        os.remove(path)
    print("load average at end:", " ".join(open("/proc/loadavg").read().split()[:3]))


if __name__ == "__main__":
    main()
