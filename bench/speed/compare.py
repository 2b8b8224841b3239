"""Old vs new SNV counting on the same BAMs: the compiled kernel against htslib's column pileup.

Counts: for every BAM and every merged region of --regions, ``resistcall.pileup.count_region``
against ``tests/reference_counters.reference_counts`` (the former implementation: pysam pileup,
samtools stepper, ``get_query_sequences`` per column) with the assay's ``PileupParams``. Prints
per BAM the positions compared, positions whose allele x strand counts differ beyond the
documented '*' strand (docs/snv.md, "Counting"), quality-sum, error-sum and indel-table
differences, how many '*' counts moved to the reverse strand, and both wall times.

Calls (--calls P.bam R.bam [R2.bam ...]): ``resistcall snv`` with this checkout and with the
former code (``git archive --old-rev src`` unpacked into --work-dir, run with PYTHONPATH), same
arguments, then every VCF record compared (FILTER, INFO/STATUS, per-sample AD/DP/SB/AF/BQ, RPOS).

Kernel vs kernel (--kernel-vs SRC, a ``src`` folder holding another resistcall with its built
kernel, e.g. the pysam-htslib kernel of main a0cf6af): ``pileup.count_regions`` of every BAM
and, with --targets, ``coverage.fragment_spans`` (duplicates counted and not), each run once
with SRC on PYTHONPATH and once with this checkout, every output array and table compared
exactly (counts, quality and error sums, indel table, and the per-observation strand, read
position, cycle, quality and fragment id).

    .venv/bin/python bench/speed/compare.py --reference REF.fa --regions R.bed --assay capture \\
        A.bam B.bam [--calls A.bam B.bam --old-rev 7ab80b8 --work-dir /tmp/cmp] \\
        [--kernel-vs /tmp/old/src --targets T.bed]
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # the former implementation lives with the tests

from reference_counters import compare, reference_counts  # noqa: E402

from resistcall.pileup import PileupParams, Reader, count_region  # noqa: E402
from resistcall.snv import merged_regions  # noqa: E402


def compare_counts(bam: str, reference: str, regions, params: PileupParams) -> dict:
    positions = differ = star_rev = 0
    problems: list[str] = []
    t_new = t_old = 0.0
    with (
        Reader(bam, reference) as r,
        pysam.AlignmentFile(bam) as b,
        pysam.FastaFile(reference) as fa,
    ):
        for reg in regions.itertuples(index=False):
            t0 = time.perf_counter()
            new = count_region(r, fa, reg.chrom, int(reg.start), int(reg.end), params)
            t1 = time.perf_counter()
            old = reference_counts(b, fa, reg.chrom, int(reg.start), int(reg.end), params)
            t_old += time.perf_counter() - t1
            t_new += t1 - t0
            positions += len(new.positions)
            star_rev += int(new.counts[:, 5, 1].sum())
            p = compare(new, old)
            if p:
                differ += 1
                problems += [f"{reg.chrom}:{reg.start}-{reg.end}: {x}" for x in p]
    return {
        "bam": bam,
        "positions": positions,
        "regions_differing": differ,
        "star_reverse": star_rev,
        "new_s": round(t_new, 2),
        "old_s": round(t_old, 2),
        "problems": problems,
    }


def vcf_records(path: Path) -> dict:
    out = {}
    with pysam.VariantFile(str(path)) as v:
        for rec in v:
            key = (rec.chrom, rec.pos, rec.ref, rec.alts[0])
            per = tuple(
                (
                    tuple(s["AD"]),
                    s["DP"],
                    tuple(s["SB"]),
                    s["AF"][0],
                    s.get("BQ"),
                    s.get("STATUS"),
                    s["GT"],
                )
                for s in rec.samples.values()
            )
            out[key] = (
                tuple(rec.filter.keys()),
                rec.info.get("STATUS"),
                rec.info.get("RPOS"),
                per,
            )
    return out


def compare_calls(args, bams: list[str]) -> list[str]:
    work = Path(args.work_dir)
    old_src = work / "old"
    if not (old_src / "src" / "resistcall").is_dir():
        old_src.mkdir(parents=True, exist_ok=True)
        git = ["git", "-C", str(REPO), "archive", args.old_rev, "src"]
        archive = subprocess.run(git, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(old_src)], input=archive.stdout, check=True)
    cmd = ["snv", "--reference", args.reference, "--regions", args.regions]
    cmd += ["--parental", bams[0], "--resistant", *bams[1:], "--assay", args.assay]
    cmd += args.snv_args
    runner = "import sys; from resistcall.cli import main; sys.exit(main())"
    outs = {}
    for label, pythonpath in (("new", None), ("old", str(old_src / "src"))):
        env = dict(os.environ)
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        out = work / f"{label}.vcf.gz"
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", runner, *cmd, "--out", str(out)],
            env=env,
            check=True,
            capture_output=True,
        )
        print(f"resistcall snv ({label} code): {time.perf_counter() - t0:.1f} s", flush=True)
        outs[label] = vcf_records(out)
    new, old = outs["new"], outs["old"]
    lines = [f"records: new {len(new)}, old {len(old)}"]
    for key in sorted(set(new) | set(old)):
        if new.get(key) != old.get(key):
            lines.append(f"{key}: new {new.get(key)} | old {old.get(key)}")
    return lines


KERNEL_DUMP = """
import pickle, sys
import pandas as pd, pysam
from resistcall import coverage
from resistcall.pileup import PileupParams, count_regions
from resistcall.snv import merged_regions
bam, ref, regions, assay, targets, out = sys.argv[1:]
with pysam.FastaFile(ref) as fa:
    reg = merged_regions(regions, fa)
counts = count_regions(bam, ref, reg, PileupParams.for_assay(assay))
res = {"counts": [
    (c.counts, c.qual_sum, c.err_sum, c.indels, c.base_obs, c.indel_obs) for c in counts
]}
if targets:
    t = pd.read_csv(targets, sep="\\t", header=None, usecols=[0, 1, 2], comment="#")
    t.columns = ["chrom", "start", "end"]
    win = coverage.fetch_windows(t.astype({"chrom": str}))
    # starts and ends only: the duplicate flags are newer than some kernels compared
    res["spans"] = [
        {c: v[:2] for c, v in coverage.fragment_spans(bam, win, count_duplicates=d).items()}
        for d in (False, True)
    ]
with open(out, "wb") as fh:
    pickle.dump(res, fh)
"""


def _same(a, b) -> bool:
    if isinstance(a, pd.DataFrame):
        return a.shape == b.shape and bool(a.equals(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(np.array_equal(a, b))


def compare_kernels(args, bam: str) -> list[str]:
    """This checkout's counting vs --kernel-vs's on one BAM: what differs (empty: nothing)."""
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    res = {}
    for label, pythonpath in (("new", None), ("old", args.kernel_vs)):
        env = dict(os.environ)
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        out = work / f"kernel_{label}.pkl"
        cmd = [bam, args.reference, args.regions, args.assay, args.targets or "", str(out)]
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", KERNEL_DUMP, *cmd], env=env, check=True)
        print(f"  {label} counting: {time.perf_counter() - t0:.1f} s", flush=True)
        with open(out, "rb") as fh:
            res[label] = pickle.load(fh)
    new, old = res["new"], res["old"]
    problems = []
    names = ("counts", "qual_sum", "err_sum", "indels", "base_obs", "indel_obs")
    for i, (n, o) in enumerate(zip(new["counts"], old["counts"], strict=True)):
        problems += [
            f"region {i}: {k} differs"
            for k, a, b in zip(names, n, o, strict=True)
            if not _same(a, b)
        ]
    if "spans" in new and not _same(new["spans"], old["spans"]):
        problems.append("fragment spans differ")
    n_obs = sum(len(c[4]) + len(c[5]) for c in new["counts"])
    n_frag = sum(len(s) for s, *_ in new["spans"][0].values()) if "spans" in new else 0
    print(
        f"{Path(bam).name}: kernel vs {args.kernel_vs}: {len(new['counts'])} regions,"
        f" {int(sum(c[0].sum() for c in new['counts']))} counted bases, {n_obs} observations,"
        f" {n_frag} fragments (duplicates not counted): {len(problems)} differences",
        flush=True,
    )
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", required=True)
    ap.add_argument("--regions", required=True)
    ap.add_argument("--assay", choices=("capture", "amplicon"), default="capture")
    ap.add_argument("bams", nargs="*")
    ap.add_argument("--calls", nargs="+", help="parental then resistant BAM(s): compare VCFs")
    ap.add_argument("--snv-args", nargs=argparse.REMAINDER, default=[])
    ap.add_argument(
        "--old-rev", default="7ab80b8", help="main just before the kernel (former counting)"
    )
    ap.add_argument("--work-dir", default="/tmp/resistcall_compare")
    ap.add_argument("--kernel-vs", help="src folder of another resistcall (with its kernel)")
    ap.add_argument("--targets", help="with --kernel-vs: BED of cnv targets (fragment spans)")
    ap.add_argument("--skip-pileup", action="store_true", help="no kernel vs pysam pileup")
    args = ap.parse_args(argv)
    params = PileupParams.for_assay(args.assay)
    with pysam.FastaFile(args.reference) as fa:
        regions = merged_regions(args.regions, fa)
    bad = 0
    for bam in args.bams if args.kernel_vs else []:
        p = compare_kernels(args, bam)
        bad += len(p)
        for x in p[:20]:
            print("   ", x)
    for bam in [] if args.skip_pileup else args.bams:
        r = compare_counts(bam, args.reference, regions, params)
        bad += len(r["problems"])
        print(
            f"{Path(bam).name}: {r['positions']} positions in {len(regions)} regions,"
            f" {r['regions_differing']} regions differ; '*' on reverse strand (now split):"
            f" {r['star_reverse']}; kernel {r['new_s']} s, pysam pileup {r['old_s']} s",
            flush=True,
        )
        for p in r["problems"][:20]:
            print("   ", p)
    if args.calls:
        lines = compare_calls(args, args.calls)
        print("\n".join(lines))
        bad += len(lines) - 1
    return 1 if bad else 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
