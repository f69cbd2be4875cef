"""The data-driven attribution core on a period's worth of paths: shares() and intervals().

Random journeys (fixed seed): 5,000 distinct journeys over 12 channels (one to eight touches,
popular channels more likely, repeats possible), 1,000,000 contacts in all, about one in twenty
converting. Times shares() and intervals() (200 draws) for each model, best of three runs, in
wall and CPU time (over a second of CPU is a failure: a busy machine stretches only the wall
time), and checks each answer (shares >= 0 adding up to 1, an interval within [0, 1] for each
channel with a share); any failed check or error exits non-zero.

    .venv/bin/python bench/pathmodels.py
"""

from __future__ import annotations

import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reports.pathmodels import MODELS, Journey, intervals, shares

DISTINCT = 5_000
CHANNELS = 12
CONTACTS = 1_000_000
LIMIT_SECONDS = 1.0


def journeys(seed: int = 7) -> list[Journey]:
    rng = random.Random(seed)
    popularity = [1 / (i + 1) for i in range(CHANNELS)]
    seen: set[tuple[tuple[int, ...], bool]] = set()
    while len(seen) < DISTINCT:
        length = min(8, 1 + int(rng.expovariate(0.6)))
        path = tuple(rng.choices(range(1, CHANNELS + 1), weights=popularity, k=length))
        seen.add((path, rng.random() < 0.3))
    keys = sorted(seen)
    raw = [rng.paretovariate(1.2) * (1 if converted else 10) for _, converted in keys]
    scale = (CONTACTS - DISTINCT) / sum(raw)
    counts = [1 + math.floor(r * scale) for r in raw]
    counts[0] += CONTACTS - sum(counts)
    return [Journey(p, c, n) for (p, c), n in zip(keys, counts, strict=True)]


def best_of_three(call) -> tuple[float, float, object]:
    """Best wall time, best CPU time of this process (a busy machine stretches the first, not
    the second) and the answer."""
    walls, cpus, answer = [], [], None
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        answer = call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), answer


def main() -> int:
    data = journeys()
    total = sum(j.count for j in data)
    conversions = sum(j.count for j in data if j.converted)
    print(
        f"{len(data)} distinct journeys, {CHANNELS} channels, {total} contacts, "
        f"{conversions} conversions"
    )
    errors = 0
    for model in MODELS:
        try:
            took, cpu, point = best_of_three(lambda m=model: shares(m, data))
            took_i, cpu_i, bands = best_of_three(lambda m=model: intervals(m, data))
        except Exception as error:  # counted and reported: the bench must not hide one
            print(f"{model}: ERROR {error!r}")
            errors += 1
            continue
        if abs(sum(point.values()) - 1) > 1e-9 or min(point.values()) < 0:
            print(f"{model}: ERROR shares do not add up to 1 or go below 0")
            errors += 1
        for channel, (low, high) in bands.items():
            if not 0 <= low <= high <= 1 or channel not in point:
                print(f"{model}: ERROR interval {low}..{high} of channel {channel}")
                errors += 1
        # Judged on CPU time: other work on the machine stretches the wall time, not this.
        slow = [name for name, t in (("shares", cpu), ("intervals", cpu_i)) if t > LIMIT_SECONDS]
        print(
            f"{model}: shares {took * 1000:.1f} ms (CPU {cpu * 1000:.1f} ms), intervals"
            f" (200 draws) {took_i * 1000:.1f} ms (CPU {cpu_i * 1000:.1f} ms)"
            + (f"  SLOW: {', '.join(slow)}" if slow else "")
        )
        errors += len(slow)
        top = sorted(point.items(), key=lambda kv: -kv[1])[:3]
        print(
            "  top: "
            + ", ".join(f"{c}: {s:.3f} [{bands[c][0]:.3f}, {bands[c][1]:.3f}]" for c, s in top)
        )
    print(f"errors: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
