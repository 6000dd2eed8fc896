#!/usr/bin/env python3
"""Search a running process's memory for strings, as a core dump would hold it.

    memscan.py PID STRING...

Prints "found" when any STRING is in one of the process's readable
mappings, "absent" otherwise; on stderr, for each copy found, the
mapping, its offset there and the bytes around it (the string itself
shown as <S>), to tell which buffer kept it; exits 2 when nothing
could be read.  The test is root, so it reads /proc/PID/mem of a process
that is not dumpable.  Mappings over 1 GiB are skipped: a sanitizer's
shadow memory, which holds no data.
"""
import sys

CHUNK = 1 << 24
BIG = 1 << 30


def main():
    pid, needles = sys.argv[1], [s.encode() for s in sys.argv[2:]]
    if not needles:
        sys.exit("usage: memscan.py PID STRING...")
    keep = max(len(n) for n in needles) - 1
    found, read = [], 0
    with open(f"/proc/{pid}/maps") as maps, \
            open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            name = f[5] if len(f) > 5 else hex(lo)
            if "r" not in f[1] or hi - lo > BIG or name in (
                    "[vvar]", "[vsyscall]", "[vvar_vclock]"):
                continue
            tail = b""
            for at in range(lo, hi, CHUNK):
                try:
                    mem.seek(at)
                    data = mem.read(min(CHUNK, hi - at))
                except OSError:
                    break
                read += len(data)
                buf = tail + data
                base = at - len(tail)
                for n in needles:
                    i = buf.find(n)
                    while i != -1:
                        ctx = buf[max(0, i - 48):i + len(n) + 48]
                        found.append((name, f[1], base + i - lo,
                                      ctx.replace(n, b"<S>")))
                        i = buf.find(n, i + 1)
                tail = buf[-keep:] if keep else b""
    if read == 0:
        sys.exit(f"memscan: nothing readable in process {pid}")
    for name, perms, off, ctx in found[:20]:
        print(f"memscan: in {name} ({perms}) at +{off:#x}: {ctx!r}",
              file=sys.stderr)
    print("found" if found else "absent")


main()
