#!/usr/bin/env python3
"""Functions longer than a limit (default 80 lines) in the workspace's Rust sources.

Usage: scripts/long-functions.py [--limit N] [--all] [DIR ...]   (default: every crate's src/)

Issue 18 tracks the count ("no function over 80 lines without a stated reason"). A function
counts from its `fn` line to its closing brace, both included; test modules (`#[cfg(test)]`
blocks and files under tests/ or benches/) are left out, since long table-driven tests read
better whole. A function whose doc comment or the line above its `fn` contains
`long-function:` states its reason and is listed apart; with `--all` it counts too.

The brace matching skips string and char literals and comments, which is all the Rust in this
workspace needs (no raw strings with unbalanced braces in function bodies).

Exit status 0 always: this is a measurement, not a gate.
"""
import os
import re
import sys

FN = re.compile(r"^\s*(pub(\([a-z ]+\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+([a-zA-Z_0-9]+)")
SKIP_DIRS = {"target", "tests", "benches", "fuzz", "examples", ".git"}


def strip(line, state):
    """The line with literals and comments blanked; state carries block comments over lines."""
    out = []
    i = 0
    n = len(line)
    while i < n:
        c = line[i]
        if state["block"]:
            if line.startswith("*/", i):
                state["block"] -= 1
                i += 2
            elif line.startswith("/*", i):
                state["block"] += 1
                i += 2
            else:
                i += 1
            continue
        if line.startswith("//", i):
            break
        if line.startswith("/*", i):
            state["block"] += 1
            i += 2
            continue
        if c == '"':
            i += 1
            while i < n and line[i] != '"':
                i += 2 if line[i] == "\\" else 1
            i += 1
            out.append('""')
            continue
        if c == "'" and i + 2 < n and (line[i + 2] == "'" or line[i + 1] == "\\"):
            j = line.find("'", i + 2 if line[i + 1] != "\\" else i + 3)
            i = (j + 1) if j > 0 else n
            continue
        out.append(c)
        i += 1
    return "".join(out)


def functions(path):
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    state = {"block": 0}
    clean = [strip(l, state) for l in lines]
    found = []
    test_depth = None  # brace depth at which a #[cfg(test)] block closes
    depth = 0
    pending_test = False
    i = 0
    while i < len(lines):
        text = clean[i]
        if "#[cfg(test)]" in lines[i]:
            pending_test = True
        m = FN.match(text)
        if m and test_depth is None and not pending_test:
            # find the body's opening brace (or a `;`: a declaration without a body)
            j = i
            while j < len(lines) and "{" not in clean[j] and ";" not in clean[j]:
                j += 1
            if j < len(lines) and "{" in clean[j]:
                d = 0
                k = j
                started = False
                while k < len(lines):
                    for ch in clean[k]:
                        if ch == "{":
                            d += 1
                            started = True
                        elif ch == "}":
                            d -= 1
                    if started and d <= 0:
                        break
                    k += 1
                above = "\n".join(lines[max(0, i - 6) : i + 1])
                found.append((m.group(6), i + 1, k - i + 1, "long-function:" in above))
        for ch in text:
            if ch == "{":
                depth += 1
                if pending_test:
                    test_depth = depth
                    pending_test = False
            elif ch == "}":
                if test_depth is not None and depth == test_depth:
                    test_depth = None
                depth -= 1
        if pending_test and text.strip().endswith(";"):
            pending_test = False
        i += 1
    return found


def crate_sources(roots):
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for f in sorted(filenames):
                if f.endswith(".rs"):
                    yield os.path.join(dirpath, f)


def main(argv):
    limit = 80
    count_all = False
    roots = []
    args = iter(argv)
    for a in args:
        if a == "--limit":
            limit = int(next(args))
        elif a == "--all":
            count_all = True
        else:
            roots.append(a)
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.path.dirname(here)
    if not roots:
        roots = sorted(
            os.path.join(top, d, "src")
            for d in os.listdir(top)
            if os.path.isfile(os.path.join(top, d, "Cargo.toml")) and os.path.isdir(os.path.join(top, d, "src"))
        )
    over, reasoned = [], []
    for path in crate_sources(roots):
        for name, line, length, has_reason in functions(path):
            if length > limit:
                row = (length, f"{os.path.relpath(path, top)}:{line}", name)
                (reasoned if has_reason and not count_all else over).append(row)
    for length, where, name in sorted(over, reverse=True):
        print(f"{length:5d}  {where}  {name}")
    for length, where, name in sorted(reasoned, reverse=True):
        print(f"{length:5d}  {where}  {name}  (reason stated)")
    print(f"functions over {limit} lines: {len(over)} without a stated reason, {len(reasoned)} with one")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
