"""Counting speed and memory at ~1k, ~5k and ~16k depth: resistcall snv/cnv vs peers.

For every depth level one amplicon line (parental + resistant, demo panel amplicons, the demo's
H3122_P / H3122_CR1 truth) is simulated with ``resistcall simulate`` at the level's read pairs
per sample and aligned by the workflow's own rules (bwa mem, samtools ampliconclip: the BAMs the
snv/cnv rules read). Then, on the same two BAMs, back to back and interleaved over --repeats
rounds (the machine is shared, so each round sees similar load):

* ``resistcall snv`` as the workflow runs it (amplicon, hotspots, regions = panel.snv_regions)
* ``bcftools mpileup -B -d 1000000 -a AD,DP -R regions.bed`` (both BAMs, BCF to /dev/null)
* ``samtools view -c`` of both BAMs (BAM decoding alone)
* ``resistcall cnv`` as the workflow runs it (targets = the amplicon inserts)
* ``mosdepth -n -b targets.bed`` on each BAM (Debian package, one thread)
* ``samtools bedcov targets.bed`` (both BAMs)

Wall time and peak RSS from ``/usr/bin/time -v``; the 1-minute load average before each run.
Writes <work-dir>/runs.tsv (every run; --reuse adds rounds to it) and prints the summary table
(median wall and CPU, max RSS). --before SRC adds the same resistcall runs with older code (its
``src`` with its built kernel on PYTHONPATH) to every round, so before and after share rounds.

    .venv/bin/python bench/speed/run_speed.py                        # 1k, 5k, 16k; 3 rounds
    .venv/bin/python bench/speed/run_speed.py --levels 1k=90000 --repeats 1 --work-dir /tmp/s
"""

from __future__ import annotations

import argparse
import copy
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
sys.path.insert(0, str(REPO / "tests"))  # the workflow-copy helper

from conftest import copy_workflow  # noqa: E402

BIN = Path(sys.executable).parent
PARENTAL, RESISTANT = "H3122_P", "H3122_CR1"
#: read pairs per sample for each level (measured depths are in the output)
LEVELS = {"1k": 90_000, "5k": 450_000, "16k": 1_500_000}


def make_workdir(dest: Path, levels: dict[str, int]) -> Path:
    """Workflow copy with one amplicon line per level (parental + resistant)."""
    if dest.exists():
        shutil.rmtree(dest)
    copy_workflow(dest)
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["panel"].update(assay="amplicon", targets="resources/panel/demo_amplicons.bed")
    sim = cfg["simulate"]
    samples, units, per_sample, rename = [], [], {}, {}
    for level, pairs in levels.items():
        line = f"L{level}"
        for name, src, cond in (
            (f"{line}_P", PARENTAL, "parental"),
            (f"{line}_R", RESISTANT, "resistant"),
        ):
            drug = "crizotinib" if cond == "resistant" else ""
            samples.append((name, line, cond, drug, ""))
            fq = [f"bench_data/{name}_R{i}.fastq.gz" for i in (1, 2)]
            units.append((name, "lane1", *fq, ""))
            per_sample[name] = {**copy.deepcopy(sim["samples"][src]), "fragments": pairs}
            rename.setdefault(src, []).append(name)
    variants = []
    for v in sim.get("variants") or []:
        vaf = {new: f for old, f in (v.get("vaf") or {}).items() for new in rename.get(old, [])}
        if vaf:
            variants.append({**v, "vaf": vaf})
    cols_s = ["sample", "line", "condition", "drug", "notes"]
    cols_u = ["sample", "unit", "fq1", "fq2", "bam"]
    pd.DataFrame(samples, columns=cols_s).to_csv(dest / "config/samples.tsv", sep="\t", index=False)
    pd.DataFrame(units, columns=cols_u).to_csv(dest / "config/units.tsv", sep="\t", index=False)
    sim.update(out_dir="bench_data", samples=per_sample, variants=variants)
    (dest / "config/config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return dest


#: thread-count variables Snakemake sets to a job's threads (snakemake/shell.py)
JOB_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def timed(cmd: str, cwd: Path, env: dict) -> dict:
    """Run a shell command under /usr/bin/time -v: wall s, CPU s (user + system, children
    included), peak RSS MB, 1-minute load average before the run."""
    load = os.getloadavg()[0]
    t0 = time.monotonic()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", "bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True
    )
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed:\n{proc.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    cpu = sum(
        float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr)
    )
    return {"wall_s": wall, "cpu_s": cpu, "rss_mb": int(rss.group(1)) / 1024, "load1": load}


def resistcall_runs(p: str, r: str, out: str, before: str | None = None) -> dict[str, str]:
    """``resistcall snv``/``cnv`` commands; with ``before`` (a ``src`` folder of another
    resistcall with its built kernel) the same run with that code, outputs suffixed _before."""
    ref = "resources/reference/panel_GRCh38.fa"
    regions = f"{out}/regions.bed"
    targets = "resources/panel/demo_amplicons.bed"
    rc = f"env PYTHONPATH={before} {BIN / 'resistcall'}" if before else BIN / "resistcall"
    tag, label = ("_before", " (before)") if before else ("", "")
    return {
        f"resistcall snv{label}": f"{rc} snv --reference {ref} --regions {regions}"
        f" --parental {p} --resistant {r} --assay amplicon --out {out}/snv{tag}.vcf.gz"
        " --hotspots resources/known_resistance.tsv --gtf resources/reference/panel_GRCh38.gtf"
        f" --hotspots-out {out}/hotspots{tag}.tsv",
        # the same without hotspot verdicts (their detection limits are a fixed cost per codon)
        f"resistcall snv (no hotspots){label}": f"{rc} snv --reference {ref} --regions {regions}"
        f" --parental {p} --resistant {r} --assay amplicon --out {out}/snv_nohot{tag}.vcf.gz",
        f"resistcall cnv{label}": f"{rc} cnv --targets {targets} --reference {ref} --parental {p}"
        f" --resistant {r} --assay amplicon --out {out}/cnv{tag}.tsv"
        f" --targets-out {out}/cnv_targets{tag}.tsv",
    }


def tools(p: str, r: str, out: str, before: str | None = None) -> dict[str, str]:
    """Shell command per tool on the parental/resistant BAM pair (run from the work dir)."""
    ref = "resources/reference/panel_GRCh38.fa"
    regions = f"{out}/regions.bed"
    targets = "resources/panel/demo_amplicons.bed"
    return {
        **resistcall_runs(p, r, out),
        **(resistcall_runs(p, r, out, before) if before else {}),
        "bcftools mpileup -B": f"bcftools mpileup -f {ref} -B -d 1000000 -a AD,DP -R {regions}"
        f" -Ou -o /dev/null {p} {r}",
        "samtools view -c": f"samtools view -c {p} && samtools view -c {r}",
        "mosdepth -n -b": f"mosdepth -n -b {targets} {out}/mdP {p}"
        f" && mosdepth -n -b {targets} {out}/mdR {r}",
        "samtools bedcov": f"samtools bedcov {targets} {p} {r} > /dev/null",
    }


def mean_depth(bam: Path, regions: Path, cwd: Path) -> tuple[float, float]:
    """(read depth, fragment depth) means over the regions: samtools depth without and with
    overlapping mates counted once (-s), no quality filters."""
    out = []
    for extra in ([], ["-s"]):
        proc = subprocess.run(
            ["samtools", "depth", "-a", *extra, "-b", str(regions), str(bam)],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        )
        d = pd.read_csv(
            pd.io.common.StringIO(proc.stdout), sep="\t", header=None, names=["c", "p", "d"]
        )
        out.append(float(d["d"].mean()))
    return out[0], out[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--levels",
        nargs="+",
        default=[f"{k}={v}" for k, v in LEVELS.items()],
        help="name=read pairs per sample",
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work-dir", type=Path, default=Path("/tmp/resistcall_speed"))
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--reuse", action="store_true", help="keep an existing work dir's BAMs and runs.tsv"
    )
    ap.add_argument(
        "--before",
        type=Path,
        help="src folder of an older resistcall with its built kernel: its snv/cnv runs join"
        " every round, labelled '(before)'",
    )
    ap.add_argument("--runs", default="runs.tsv", help="file name of the runs table")
    args = ap.parse_args(argv)
    levels = {k: int(v) for k, v in (x.split("=") for x in args.levels)}
    env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    wd = args.work_dir
    bams = {
        lv: (wd / f"results/L{lv}/L{lv}_P.bam", wd / f"results/L{lv}/L{lv}_R.bam") for lv in levels
    }
    if not (args.reuse and all(b.exists() for pair in bams.values() for b in pair)):
        make_workdir(wd, levels)
        subprocess.run(
            [str(BIN / "resistcall"), "simulate", "--config", "config/config.yaml"],
            cwd=wd,
            env=env,
            check=True,
        )
        targets = [str(b.relative_to(wd)) for pair in bams.values() for b in pair]
        subprocess.run(
            [
                str(BIN / "snakemake"),
                "--cores",
                str(args.cores),
                "--workflow-profile",
                "profiles/default",
                *targets,
                *[f"{t}.bai" for t in targets],
            ],
            cwd=wd,
            env=env,
            check=True,
        )
    cfg = yaml.safe_load((wd / "config/config.yaml").read_text())
    # timed runs get what Snakemake gives a 1-thread job (snakemake.shell): math libraries at
    # 1 thread; without it numpy's OpenBLAS spins a thread per core (~0.5 s CPU of snv at 16k)
    timed_env = dict(env, **dict.fromkeys(JOB_THREAD_VARS, "1"))
    rows, depth = [], {}
    for lv, (_, r) in bams.items():
        out = wd / f"speed_{lv}"
        out.mkdir(exist_ok=True)
        # regions as the snv rule reads them, as a .bed for bcftools -R (0-based)
        shutil.copy(wd / cfg["panel"]["snv_regions"], out / "regions.bed")
        depth[lv] = mean_depth(r, out / "regions.bed", wd)
    for rep in range(args.repeats):
        for lv, (p, r) in bams.items():
            out = f"speed_{lv}"
            before = str(args.before.resolve()) if args.before else None
            pair = str(p.relative_to(wd)), str(r.relative_to(wd))
            for tool, cmd in tools(*pair, out, before).items():
                res = timed(cmd, wd, timed_env)
                rows.append({"level": lv, "tool": tool, "round": rep + 1, **res})
                print(
                    f"{lv}\t{tool}\t{rep + 1}\t{res['wall_s']:.2f} s\t{res['cpu_s']:.2f} cpu s"
                    f"\t{res['rss_mb']:.0f} MB\tload {res['load1']:.1f}",
                    flush=True,
                )
    runs = pd.DataFrame(rows)
    if args.reuse and (wd / args.runs).exists():  # more rounds on the same BAMs
        runs = pd.concat([pd.read_csv(wd / args.runs, sep="\t"), runs], ignore_index=True)
    runs.to_csv(wd / args.runs, sep="\t", index=False)
    print(summary(runs, depth, levels))
    return 0


def summary(runs: pd.DataFrame, depth: dict, levels: dict) -> str:
    """Markdown table: median wall, max RSS, load range per level x tool, with the ratios."""
    g = runs.groupby(["level", "tool"], sort=False)
    tab = g.agg(
        wall=("wall_s", "median"),
        wall_min=("wall_s", "min"),
        wall_max=("wall_s", "max"),
        cpu=("cpu_s", "median"),
        rss=("rss_mb", "max"),
        load_lo=("load1", "min"),
        load_hi=("load1", "max"),
    ).reset_index()
    lines = [
        "| level | read pairs / sample | mean depth reads (fragments) | tool | wall s median"
        " (min-max) | CPU s median | peak RSS MB | load1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in tab.itertuples(index=False):
        d_reads, d_frag = depth[row.level]
        lines.append(
            f"| {row.level} | {levels[row.level]:,} | {d_reads:,.0f} ({d_frag:,.0f}) | {row.tool}"
            f" | {row.wall:.2f} ({row.wall_min:.2f}-{row.wall_max:.2f}) | {row.cpu:.2f}"
            f" | {row.rss:.0f} | {row.load_lo:.1f}-{row.load_hi:.1f} |"
        )
    t = tab.set_index(["level", "tool"])
    lines += [
        "",
        "| level | snv / bcftools mpileup (wall; CPU) | snv / samtools view -c (wall; CPU)"
        " | snv without hotspots / samtools view -c | cnv / mosdepth (wall; CPU) |",
        "|---|---|---|---|---|",
    ]
    pairs = (
        ("resistcall snv", "bcftools mpileup -B"),
        ("resistcall snv", "samtools view -c"),
        ("resistcall snv (no hotspots)", "samtools view -c"),
        ("resistcall cnv", "mosdepth -n -b"),
    )
    tags = [""] + [" (before)"] * ("resistcall snv (before)" in set(runs["tool"]))
    for tag, lv in ((tag, lv) for tag in tags for lv in levels):
        cells = [
            f"{t.loc[(lv, a + tag), 'wall'] / t.loc[(lv, b), 'wall']:.2f};"
            f" {t.loc[(lv, a + tag), 'cpu'] / max(t.loc[(lv, b), 'cpu'], 0.01):.2f}"
            for a, b in pairs
        ]
        lines.append(f"| {lv}{tag} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
