#!/usr/bin/env python3
"""Import circles between the top-level modules of each crate's src/ directory.

Usage: scripts/import-circles.py [CRATE/src ...]   (default: every workspace crate)

Reads every `crate::module` reference outside comments in the top-level `.rs` files and
prints the strongly connected components of more than one module (Tarjan's algorithm).
Exit status 1 when any crate has one. Issue 18 tracks the count: a module that both uses and
is used by another cannot be read, tested or moved on its own.
"""
import os
import re
import sys

CRATES = ["merkle", "stamp", "ledger", "scheduler", "scheduler/process", "workers", "proofs", "service", "verifier", "reserves", "anchor-api", "cli"]


def graph(src):
    mods = {}
    for f in sorted(os.listdir(src)):
        if not f.endswith(".rs") or f in ("lib.rs", "main.rs"):
            continue
        name = f[:-3]
        deps = set()
        with open(os.path.join(src, f)) as fh:
            for line in fh:
                s = line.strip()
                if s.startswith("//"):
                    continue
                deps.update(m for m in re.findall(r"crate::([a-z_0-9]+)", s) if m != name)
        mods[name] = deps
    return mods


def circles(mods):
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in mods[v]:
            if w not in mods:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in mods:
        if v not in index:
            visit(v)
    return found


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    dirs = sys.argv[1:] or [os.path.join(root, c, "src") for c in CRATES]
    total = 0
    for d in dirs:
        found = circles(graph(d))
        total += len(found)
        for c in found:
            print(f"{os.path.relpath(d, root)}: {' ↔ '.join(c)}")
    print(f"{total} import circle(s)")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
