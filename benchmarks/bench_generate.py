"""Tenant generator: time and peak memory per size, against baselines measured in the same run.

Each size runs in a fresh subprocess so peak RSS belongs to that size alone. Ratios:
- `x 2k` compares with the 2,000-user run of this same table (how it scales: linear means x50 at 100k);
- `x json` compares with serialising the same tenant with `json.dumps` (what merely writing it costs).
The issue's budget is 100,000 users in under 10 s.

    .venv/bin/python benchmarks/bench_generate.py [--sizes 2000,20000,100000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import datetime as dt, json, resource, sys, time
from rcaudit.sandbox import generate
n = int(sys.argv[1])
start = time.perf_counter()
tenant = generate(users=n, seed=1, now=dt.datetime(2026, 11, 26, tzinfo=dt.UTC))
seconds = time.perf_counter() - start
start = time.perf_counter()
size = len(json.dumps(tenant.tenant))
dump_seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"n": n, "seconds": seconds, "dump_seconds": dump_seconds, "mb": rss, "json_mb": size / 2**20,
                  "findings": len(tenant.truth)}))
"""


def measure(n: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(n)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,20000,100000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    rows = [measure(n) for n in sizes]
    base = rows[0]
    print(f"{'users':>8} {'seconds':>8} {'x 2k':>7} {'json s':>7} {'x json':>7} {'peak MB':>8} {'file MB':>8} "
          f"{'findings':>9}")
    for r in rows:
        print(f"{r['n']:>8} {r['seconds']:>8.2f} {r['seconds'] / base['seconds']:>7.1f} {r['dump_seconds']:>7.2f} "
              f"{r['seconds'] / r['dump_seconds']:>7.2f} {r['mb']:>8.0f} {r['json_mb']:>8.1f} {r['findings']:>9}")


if __name__ == "__main__":
    main()
