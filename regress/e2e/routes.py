#!/usr/bin/env python3
"""The REST routes of the operation catalogue (common/ops.h), one a line:

    ROLE METHOD PATH

PATH as the catalogue has it ({id} and {name} left in), so that a test
made from this list covers every route the catalogue gains.
"""
import re
import sys

src = open(sys.argv[1] if len(sys.argv) > 1 else "common/ops.h").read()
ops = src[src.index("#define OPS(X)"):]
ops = ops[:ops.index("\n\n")]
rows = re.findall(r"X\(([^()]*(?:\([^()]*\))*[^()]*)\)", ops.replace("\\\n", " "))
for row in rows:
    f = [x.strip() for x in row.split(",")]
    if len(f) < 7 or f[5] == "NULL":
        continue
    print(f[3], f[5].strip('"'), f[6].strip('"'))
