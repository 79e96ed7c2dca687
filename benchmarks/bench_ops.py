"""Overhead of `invoke up` / `invoke down` over raw compose, on the fixture stack.

Each round times raw `docker compose up -d --wait` and `down` on a throwaway
copy of tests/fixtures/opsstack, then the same through invoke (preflight,
start, runtime verification; down with its leftover check). Reported as the
ratio of medians, since the absolute time depends on the machine.

    flock /tmp/engine.lock python benchmarks/bench_ops.py [--rounds 5] [--profiles core,data]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "opsstack"
IMAGE = "stackctl-test/busybox:1.0"


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{done.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profiles", default="core,data")
    args = parser.parse_args()
    compose = str(Path(sys.executable).parent / "docker-compose")
    work = Path(tempfile.mkdtemp(prefix="bench-ops-"))
    stack = work / "stack"
    shutil.copytree(FIXTURE, stack)
    name = f"benchops{secrets.token_hex(3)}"
    (stack / ".env").write_text(
        f"COMPOSE_PROJECT_NAME={name}\nDEFAULT_MOUNT_VOLUME_PATH={work / 'state'}\n"
        f"LOG_DRIVER=local\nTEST_IMAGE={IMAGE}\n"
    )
    invoke = [sys.executable, "-m", "invoke", "--search-root", str(REPO)]
    profiles = [f for p in args.profiles.split(",") for f in ("--profile", p)]
    raw = [compose, "--env-file", ".env", *profiles]
    timed([*invoke, "secrets.scaffold"], stack)
    timed([*invoke, "up", "--profiles", args.profiles], stack)  # warm-up: state dirs, caches
    timed([*invoke, "down"], stack)
    times: dict[str, list[float]] = {
        "raw up": [],
        "raw down": [],
        "invoke up": [],
        "invoke down": [],
    }
    try:
        for _ in range(args.rounds):
            times["raw up"].append(timed([*raw, "up", "-d", "--wait"], stack))
            times["raw down"].append(timed([*raw, "down"], stack))
            times["invoke up"].append(timed([*invoke, "up", "--profiles", args.profiles], stack))
            times["invoke down"].append(
                timed([*invoke, "down", "--profiles", args.profiles], stack)
            )
    finally:
        subprocess.run([*raw, "down"], cwd=stack, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    median = {key: statistics.median(values) for key, values in times.items()}
    for key, value in median.items():
        print(f"{key:<12} median {value:6.2f}s over {args.rounds} rounds")
    print(f"up   overhead {median['invoke up'] / median['raw up']:.2f}x raw compose")
    print(f"down overhead {median['invoke down'] / median['raw down']:.2f}x raw compose")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
