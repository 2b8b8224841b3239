"""Where the demo workflow's time goes, per rule (``make demo`` without simulate and set-up).

Copies the workflow into --work-dir, simulates the demo data (``resistcall simulate``, not
timed), runs ``snakemake --cores N --workflow-profile profiles/default`` under
``/usr/bin/time -v`` (wall, controller peak RSS), then reads every job's ``benchmark:`` file
(the workflow's rules all declare one) and prints one markdown row per rule: jobs, summed wall
and CPU seconds (``s``, ``cpu_time``), largest ``max_rss``, share of the CPU. --report-only
reprints the table of an existing work dir.

    .venv/bin/python bench/scale/demo_rules.py --work-dir /tmp/resistcall_demo
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # run_scale: one reader of benchmark files, one timed runner

from run_scale import BIN, copy_workflow, per_rule, read_benchmarks, simulate, timed  # noqa: E402


def markdown(tab: pd.DataFrame) -> str:
    lines = [
        "| rule | jobs | wall s (sum) | CPU s (sum) | CPU share | max RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for r in tab.itertuples(index=False):
        lines.append(
            f"| {r.rule} | {r.jobs} | {r.wall_s:.1f} | {r.cpu_s:.1f} | {r.cpu_share:.0%}"
            f" | {r.max_rss_mb:.0f} |"
        )
    lines.append(
        f"| total | {tab['jobs'].sum()} | {tab['wall_s'].sum():.1f} | {tab['cpu_s'].sum():.1f}"
        " | 100% | - |"
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work-dir", type=Path, default=Path("/tmp/resistcall_demo"))
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--report-only", action="store_true", help="table of an existing run")
    args = ap.parse_args(argv)
    wd = args.work_dir
    if not args.report_only:
        shutil.rmtree(wd, ignore_errors=True)
        copy_workflow(wd)
        env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}")
        simulate(wd, env)
        load0 = os.getloadavg()[0]
        cmd = [str(BIN / "snakemake"), "--cores", str(args.cores)]
        wall, rss = timed([*cmd, "--workflow-profile", "profiles/default"], wd, env, wd / "run.log")
        print(
            f"snakemake --cores {args.cores}: wall {wall:.1f} s, controller peak RSS {rss:.0f} MB,"
            f" load1 {load0:.1f} before / {os.getloadavg()[0]:.1f} after"
        )
    tab = per_rule(read_benchmarks(wd))
    tab.to_csv(wd / "rules.tsv", sep="\t", index=False)
    print(markdown(tab))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
