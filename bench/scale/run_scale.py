"""Wall time and peak memory of the workflow for N parental/resistant pairs, local vs SLURM.

Each pair is one cell line (parental + resistant derivative) simulated with the demo's truth
(parental = H3122_P, resistant = H3122_CR1 settings of config/config.yaml) at --fragments read
pairs per sample. For every N in --pairs and every mode in --modes the workflow runs in a fresh
copy under --work-dir:

* local: `snakemake --cores <cpus> --workflow-profile profiles/default`
* slurm: `snakemake --workflow-profile profiles/slurm --cores <node cpus>` against a private
  single-node SLURM cluster started here (the same harness as tests/test_slurm.py), or an
  existing one with --slurm-conf.

Prints one table row per run (wall s, controller peak RSS, largest job peak RSS from the
`benchmark:` files, jobs, CPU s) and a per-stage table (CPU s and max RSS per rule, summed over
samples) so stage cost can be related to reads. Results also go to <work-dir>/scale.tsv and
<work-dir>/stages.tsv.

    .venv/bin/python bench/scale/run_scale.py --pairs 1 4 16 --modes local slurm
    .venv/bin/python bench/scale/run_scale.py --pairs 1 --modes local --fragments 350000
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # the workflow-copy helper and the SLURM harness

from conftest import copy_workflow  # noqa: E402

BIN = Path(sys.executable).parent
PARENTAL, RESISTANT = "H3122_P", "H3122_CR1"


def load_harness():
    """LocalSlurm from tests/test_slurm.py (one implementation of the private cluster)."""
    spec = importlib.util.spec_from_file_location("test_slurm", REPO / "tests" / "test_slurm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_workdir(dest: Path, pairs: int, fragments: int) -> Path:
    """Copy the workflow and write sheets + config for `pairs` simulated lines."""
    if dest.exists():
        shutil.rmtree(dest)
    copy_workflow(dest)
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    sim = cfg["simulate"]
    samples, units, per_sample = [], [], {}
    rename = {}
    for i in range(1, pairs + 1):
        line, par, res = f"L{i:02d}", f"L{i:02d}_P", f"L{i:02d}_R"
        samples += [(par, line, "parental", "", ""), (res, line, "resistant", "crizotinib", "")]
        for name, src in ((par, PARENTAL), (res, RESISTANT)):
            units.append(
                (
                    name,
                    "lane1",
                    f"bench_data/{name}_R1.fastq.gz",
                    f"bench_data/{name}_R2.fastq.gz",
                    "",
                )
            )
            per_sample[name] = copy.deepcopy(sim["samples"][src])
            rename.setdefault(src, []).append(name)
    variants = []
    for v in sim.get("variants") or []:
        v = dict(v)
        v["vaf"] = {
            new: f for old, f in (v.get("vaf") or {}).items() for new in rename.get(old, [])
        }
        if v["vaf"]:
            variants.append(v)
    cols_s = ["sample", "line", "condition", "drug", "notes"]
    cols_u = ["sample", "unit", "fq1", "fq2", "bam"]
    pd.DataFrame(samples, columns=cols_s).to_csv(dest / "config/samples.tsv", sep="\t", index=False)
    pd.DataFrame(units, columns=cols_u).to_csv(dest / "config/units.tsv", sep="\t", index=False)
    sim.update(out_dir="bench_data", fragments=fragments, samples=per_sample, variants=variants)
    (dest / "config/config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return dest


def simulate(workdir: Path, env: dict) -> None:
    cmd = [str(BIN / "resistcall"), "simulate", "--config", "config/config.yaml"]
    subprocess.run(cmd, cwd=workdir, env=env, check=True, capture_output=True)


def timed(cmd: list[str], workdir: Path, env: dict, log: Path) -> tuple[float, float]:
    """Run under /usr/bin/time -v; return (wall s, controller peak RSS MB)."""
    t0 = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.run(
            ["/usr/bin/time", "-v", *cmd],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wall = time.monotonic() - t0
    text = log.read_text()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed in {workdir}; see {log}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    return wall, (int(rss.group(1)) / 1024 if rss else float("nan"))


def per_rule(bench: pd.DataFrame) -> pd.DataFrame:
    """jobs, summed wall/CPU s, max RSS MB and CPU share per rule, most CPU first."""
    tab = (
        bench.groupby("rule")
        .agg(
            jobs=("job", "size"),
            wall_s=("s", "sum"),
            cpu_s=("cpu_time", "sum"),
            max_rss_mb=("max_rss", "max"),
        )
        .sort_values("cpu_s", ascending=False)
        .reset_index()
    )
    tab["cpu_share"] = tab["cpu_s"] / tab["cpu_s"].sum()
    return tab


def read_benchmarks(workdir: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((workdir / "benchmarks").rglob("*.tsv")):
        rule = path.relative_to(workdir / "benchmarks").parts[0]
        row = pd.read_csv(path, sep="\t").iloc[-1]
        rows.append(
            {
                "rule": rule,
                "job": path.stem,
                "s": row["s"],
                "max_rss": row["max_rss"],
                "cpu_time": row["cpu_time"],
            }
        )
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--modes", nargs="+", choices=["local", "slurm"], default=["local", "slurm"])
    ap.add_argument("--fragments", type=int, default=25000, help="read pairs per sample")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="local --cores")
    ap.add_argument("--work-dir", type=Path, default=Path("/tmp/resistcall_scale"))
    ap.add_argument("--slurm-conf", help="use this running cluster instead of starting one")
    ap.add_argument("--poll", default="10", help="--slurm-init-seconds-before-status-checks")
    args = ap.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)

    cluster = None
    env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    node_cpus = os.cpu_count() or 1
    if "slurm" in args.modes:
        harness = load_harness()
        if args.slurm_conf:
            env["SLURM_CONF"] = args.slurm_conf
            shim = Path(args.slurm_conf).parent / "bin"
            env["PATH"] = f"{shim}:{env['PATH']}"
        else:
            reason = harness.ensure_slurm()
            if reason:
                sys.exit(f"cannot run SLURM mode: {reason}")
            root = args.work_dir / "cluster"
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            root.chmod(0o711)
            cluster = harness.LocalSlurm(root)
            cluster.start()
            node_cpus = cluster.cpus
            env = cluster.env
    rows, stages = [], []
    try:
        for pairs in args.pairs:
            for mode in args.modes:
                wd = make_workdir(args.work_dir / f"{mode}_{pairs}", pairs, args.fragments)
                simulate(wd, env)
                if mode == "local":
                    cmd = [
                        str(BIN / "snakemake"),
                        "--cores",
                        str(args.cores),
                        "--workflow-profile",
                        "profiles/default",
                    ]
                else:
                    cmd = [
                        str(BIN / "snakemake"),
                        "--workflow-profile",
                        "profiles/slurm",
                        "--cores",
                        str(node_cpus),
                        "--slurm-init-seconds-before-status-checks",
                        args.poll,
                    ]
                wall, rss = timed(cmd, wd, env, wd / "run.log")
                bench = read_benchmarks(wd)
                row = {
                    "mode": mode,
                    "pairs": pairs,
                    "samples": 2 * pairs,
                    "fragments_per_sample": args.fragments,
                    "wall_s": round(wall, 1),
                    "controller_rss_mb": round(rss, 1),
                    "max_job_rss_mb": round(bench["max_rss"].max(), 1),
                    "jobs": len(bench),
                    "cpu_s": round(bench["cpu_time"].sum(), 1),
                    "load1": round(os.getloadavg()[0], 1),
                }
                rows.append(row)
                print("\t".join(f"{k}={v}" for k, v in row.items()), flush=True)
                stage = per_rule(bench)
                stage.insert(0, "pairs", pairs)
                stage.insert(0, "mode", mode)
                stage.insert(2, "fragments_per_sample", args.fragments)
                stages.append(stage)
                pd.DataFrame(rows).to_csv(args.work_dir / "scale.tsv", sep="\t", index=False)
                pd.concat(stages).to_csv(args.work_dir / "stages.tsv", sep="\t", index=False)
    finally:
        if cluster is not None:
            cluster.stop()
    print()
    print(pd.DataFrame(rows).to_string(index=False))
    print()
    print(pd.concat(stages).round(2).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
