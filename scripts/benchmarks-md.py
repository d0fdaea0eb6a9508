#!/usr/bin/env python3
"""Writes BENCHMARKS.md from one `make bench` run: the machine, the versions, and each
benchmark's own output (every figure a ratio to a floor measured in the same run), with the
lines that name a target missed gathered at the top.

    scripts/benchmarks-md.py DIR > BENCHMARKS.md

DIR holds one `<order>-<name>.txt` per benchmark (its output) and `<order>-<name>.cmd` (the
command that made it), as the Makefile's bench target writes them.
"""
import datetime
import os
import pathlib
import platform
import re
import subprocess
import sys

# What each benchmark measures and its target, in the words; the output says the figure.
ABOUT = {
    "footprint": "per function: arm64 zip size, start to the first Runtime API poll and peak RSS, "
                 "as ratios to a bare lambda_runtime binary built with the same profile "
                 "(targets: zip <= 2.5 MB, start <= 2x, RSS <= 12 MB); the first invocation "
                 "after start and warm ones against the local stack, beside the bare binary's",
    "idle-reaper": "idle-reaper reaping 1,000 idle PostgreSQL sessions against PostgreSQL's own "
                   "floor (a superuser terminating them in one statement), measured before and "
                   "after (target <= 1.1x)",
    "forecast": "storage-guard's forecast over a 10,000-point history against one pass reading "
                "the points",
    "storage-guard": "storage-guard, the time from an alarm to its decision against the same "
                     "reads made by the benchmark's own client (target <= 1.5x)",
    "decision": "failover-check, idle-reaper, snapshotter and restore-drill: the time from an "
                "event to the decision (the report's duration, before delivery), warm, against "
                "the same AWS requests sent again by the benchmark (and a new database "
                "connection with SELECT 1 where the function connects) (target <= 1.5x)",
    "restore-drill": "restore-drill's RPO audit over 1,000 resources: requests and time, against "
                     "its listings made by hand (target <= 1.5x)",
    "snapshotter": "snapshotter against Cloud Custodian on the same moto work: client CPU, peak "
                   "RSS, requests, wall time against moto's own CPU (targets: 20x less CPU, 10x "
                   "less memory, wall <= 1.2x moto's CPU)",
}
# Not measured by any benchmark yet: named, so the file never implies they were.
NOT_MEASURED = [
    "a cold start on Lambda itself, on arm64 at 128 MB: every run here is x86_64 against the "
    "local stack (the zips are arm64, their size is measured)",
]
MISSED = re.compile(r"\bmiss(ed)?\b|\bMISSED\b", re.I)


def version(command):
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "not found"


def machine():
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1))
        memory = f", {kib / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass
    return f"{platform.machine()}, {os.cpu_count()} cores ({model}){memory}, {platform.platform()}"


def main(directory):
    runs = sorted(pathlib.Path(directory).glob("*.txt"))
    if not runs:
        sys.exit(f"benchmarks-md: no benchmark output in {directory}")
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (scripts/benchmarks-md.py); do not edit by hand. Every figure is "
        "a ratio to a floor measured in the same run, since these machines are noisy.",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        f"- commit: {version(['git', 'rev-parse', '--short=12', 'HEAD'])}",
        f"- rustc: {version(['rustc', '--version'])}",
        f"- moto: {version(['.venv/bin/python', '-c', 'import moto; print(moto.__version__)'])}",
        f"- PostgreSQL: {version(['sh', '-c', 'for d in /usr/lib/postgresql/*/bin; do v=$d; done; $v/postgres --version'])}",
        f"- MariaDB: {version(['mariadbd', '--version'])}",
        "",
        "## Targets missed",
        "",
    ]
    missed = [(run, line.strip()) for run in runs for line in run.read_text().splitlines()
              if MISSED.search(line)]
    lines += [f"- {name_of(run)}: {line}" for run, line in missed] or ["- none"]
    lines += ["", "## Not measured", ""] + [f"- {item}" for item in NOT_MEASURED]
    for run in runs:
        name = name_of(run)
        command = run.with_suffix(".cmd")
        lines += ["", f"## {name}", "", ABOUT.get(name, ""), ""]
        if command.exists():
            lines += [f"`{command.read_text().strip()}`", ""]
        lines += ["```", run.read_text().rstrip(), "```"]
    print("\n".join(lines))


def name_of(run):
    return run.stem.split("-", 1)[1] if re.match(r"\d+-", run.stem) else run.stem


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/bench")
