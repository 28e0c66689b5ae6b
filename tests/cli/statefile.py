#!/usr/bin/env python3
"""statefile.py - edit a version 2 state file (docs/store.md) for the store's
CLI tests, with every checksum kept right:

  statefile.py FILE corrupt TYPE VCPU NAME   flip the first data byte of a section
  statefile.py FILE add TYPE VCPU NAME DATA  append a section (flags 0)
  statefile.py FILE has TYPE VCPU NAME DATA  exit 0 if the section holds DATA

NAME "-" is the empty name; VCPU 65535 is VM-level.  Exit 1: not found."""
import struct
import sys
import zlib


def sections(b):
    off = 32
    for _ in range(struct.unpack_from("<I", b, 24)[0]):
        t, _fl, v, n = struct.unpack_from("<IHHI", b, off)
        yield off, t, v, bytes(b[off + 16:off + 32]).rstrip(b"\0").decode(), n
        off += 32 + n


def seal(b, off, n):
    crc = zlib.crc32(b[off + 32:off + 32 + n],
                     zlib.crc32(b[off + 16:off + 32], zlib.crc32(b[off:off + 12])))
    struct.pack_into("<I", b, off + 12, crc)


def main():
    path, op, typ, vcpu, name = sys.argv[1:6]
    typ, vcpu, name = int(typ), int(vcpu), "" if sys.argv[5] == "-" else name
    b = bytearray(open(path, "rb").read())
    if op == "add":
        data = sys.argv[6].encode()
        off = len(b)
        b += struct.pack("<IHHII", typ, 0, vcpu, len(data), 0) + name.encode().ljust(16, b"\0")
        b += data
        seal(b, off, len(data))
        struct.pack_into("<QI", b, 16, len(b) - 32, struct.unpack_from("<I", b, 24)[0] + 1)
        struct.pack_into("<I", b, 28, zlib.crc32(b[:28]))
        open(path, "wb").write(b)
        return 0
    for off, t, v, nm, n in sections(b):
        if (t, v, nm) != (typ, vcpu, name):
            continue
        if op == "has":
            return 0 if bytes(b[off + 32:off + 32 + n]) == sys.argv[6].encode() else 1
        b[off + 32] ^= 0x5a             # a device's magic or version
        seal(b, off, n)
        open(path, "wb").write(b)
        return 0
    return 1


sys.exit(main())
