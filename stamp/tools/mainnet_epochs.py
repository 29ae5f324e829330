#!/usr/bin/env python3
"""Writes stamp/data/mainnet-epochs.txt from Electrum's mainnet checkpoint list.

Usage: mainnet_epochs.py CHECKPOINTS.json COMMIT > stamp/data/mainnet-epochs.txt

CHECKPOINTS.json is spesmilo/electrum's electrum/chains/mainnet/checkpoints.json: entry i is
[hash of block 2016*i + 2015 (the last block of epoch i), the target of epoch i + 1 as an
integer]. Epoch 0's target is Bitcoin's proof-of-work limit (bits 1d00ffff). Every target is
written back as compact bits and must expand to exactly the integer the source gave.
"""

import json
import sys

EPOCH = 2016


def to_bits(target: int) -> int:
    size = (target.bit_length() + 7) // 8
    if size <= 3:
        mantissa = target << (8 * (3 - size))
    else:
        mantissa = target >> (8 * (size - 3))
    if mantissa & 0x800000:  # the top mantissa bit is a sign: move one byte up
        mantissa >>= 8
        size += 1
    return mantissa | (size << 24)


def to_target(bits: int) -> int:
    return (bits & 0x7FFFFF) << (8 * ((bits >> 24) - 3))


def main() -> None:
    source, commit = sys.argv[1], sys.argv[2]
    entries = json.load(open(source))
    bits = [0x1D00FFFF]
    for _, target in entries:
        b = to_bits(target)
        if to_target(b) != target:
            sys.exit(f"target {target} has no exact compact form")
        bits.append(b)
    hashes = [h for h, _ in entries]
    print("# Bitcoin mainnet difficulty epochs of 2016 blocks (stamp/README.md, \"Mainnet epochs\").")
    print(f"# Derived by stamp/tools/mainnet_epochs.py from spesmilo/electrum@{commit}")
    print("# electrum/chains/mainnet/checkpoints.json.")
    print("# epoch  bits  hash of the epoch's last block (height 2016*epoch+2015), as explorers show it")
    for epoch, b in enumerate(bits):
        last = hashes[epoch] if epoch < len(hashes) else "-"
        print(f"{epoch} {b:08x} {last}")


if __name__ == "__main__":
    main()
