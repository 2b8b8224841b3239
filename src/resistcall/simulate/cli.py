"""`resistcall simulate`: one library from arguments, or the demo from config.yaml."""

from __future__ import annotations

from pathlib import Path

from resistcall.errors import UserError
from resistcall.simulate.model import EML4_ALK_V1, GCBias, RunPlan, SamplePlan, Variant
from resistcall.simulate.plan import plan_from_config, run_plan


def plan_from_args(args) -> RunPlan:
    """One sample from explicit arguments (benchmarks, users' own panels)."""
    if not args.reference or not args.targets:
        raise UserError("without --config, --reference and --targets are required")
    assay = args.assay or "capture"
    if assay == "amplicon" and not args.primers:
        raise UserError("--assay amplicon needs --primers (and --targets = amplicon inserts BED)")
    variants, vafs = [], {}
    for k, text in enumerate(args.variant or []):
        try:
            chrom, pos, r, a, vaf = text.rsplit(":", 4)
            variants.append(Variant(chrom, int(pos), r, a))
            vafs[k] = float(vaf)
        except ValueError:
            raise UserError(f"--variant {text!r}: expected CONTIG:POS:REF:ALT:VAF") from None
    cns = {}
    for text in args.copy_number or []:
        try:
            g, c = text.split("=")
            cns[g] = float(c)
        except ValueError:
            raise UserError(f"--copy-number {text!r}: expected GENE=COPIES") from None
    out_dir = Path(args.out_dir or ".")
    sample = args.sample or "sim"
    sp = SamplePlan(
        sample=sample,
        units=[("lane1", out_dir / f"{sample}_R1.fastq.gz", out_dir / f"{sample}_R2.fastq.gz")],
        copy_numbers=cns,
        vafs=vafs,
        fusion_fraction=args.fusion_fraction or 0.0,
        gc_bias=GCBias(*args.gc_bias) if args.gc_bias else GCBias(),
    )
    params = {"n_fragments": args.fragments or 100_000}
    for key in ("read_length", "duplicate_rate", "off_target"):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    if args.efficiency_spread is not None:
        params["efficiency"] = args.efficiency_spread
    return RunPlan(
        reference=Path(args.reference),
        known_bed=Path(args.known_bed) if args.known_bed else None,
        targets=Path(args.targets),
        primers=Path(args.primers) if args.primers else None,
        assay=assay,
        out_dir=out_dir,
        seed=args.seed if args.seed is not None else 1,
        samples=[sp],
        variants=variants,
        fusion=EML4_ALK_V1 if sp.fusion_fraction > 0 else None,
        params=params,
    )


def _cmd_simulate(args) -> None:
    if args.config:
        overrides = {
            k: getattr(args, k)
            for k in (
                "assay",
                "targets",
                "primers",
                "out_dir",
                "seed",
                "fragments",
                "reference",
                "known_bed",
            )
        }
        plan = plan_from_config(args.config, overrides)
    else:
        plan = plan_from_args(args)
    run_plan(plan, force=args.force)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="simulate paired-end panel FASTQs with a truth file (the demo data)",
        description="With --config: simulate every sample of the sample sheet into the fq1/fq2 "
        "paths of the units sheet, using the simulate: section (seed, fragments, per-sample "
        "truth); writes <out_dir>/truth.tsv and truth.vcf.gz. Without --config: one library "
        "from explicit arguments. Skips work when outputs exist for the same inputs.",
    )
    p.add_argument("--config", help="config.yaml (demo: config/config.yaml)")
    p.add_argument(
        "--out-dir",
        help="truth/manifest folder; with --config also moves the "
        "FASTQs there (file names from the units sheet)",
    )
    p.add_argument("--assay", choices=["capture", "amplicon"], help="default: panel.assay")
    p.add_argument("--targets", help="targets BED (capture) or amplicon-insert BED (amplicon)")
    p.add_argument("--primers", help="primer BED (amplicon)")
    p.add_argument("--reference", help="reference FASTA")
    p.add_argument("--known-bed", help="real-base blocks (default: <fasta>.known_sequence.bed)")
    p.add_argument("--seed", type=int)
    p.add_argument("--fragments", type=int, help="read pairs per sample")
    p.add_argument("--sample", help="sample name (without --config)")
    p.add_argument("--variant", action="append", metavar="CONTIG:POS:REF:ALT:VAF")
    p.add_argument("--copy-number", action="append", metavar="GENE=COPIES")
    p.add_argument("--fusion-fraction", type=float, help="EML4-ALK v1 fraction (0 = none)")
    p.add_argument("--gc-bias", type=float, nargs=2, metavar=("SLOPE", "CURVATURE"))
    p.add_argument("--read-length", type=int)
    p.add_argument("--duplicate-rate", type=float)
    p.add_argument("--off-target", type=float)
    p.add_argument("--efficiency-spread", type=float)
    p.add_argument("--force", action="store_true", help="simulate even if up to date")
    p.set_defaults(func=_cmd_simulate)
