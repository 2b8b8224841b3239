"""config.yaml (simulate:, panel, sheets) -> run plan; running a plan (no-op when unchanged)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from resistcall import __version__
from resistcall.errors import UserError
from resistcall.inputs.files import resolve_bundled, source_checkout
from resistcall.simulate.fastq import replace_if_changed
from resistcall.simulate.genome import load_reference, load_targets
from resistcall.simulate.library import normalize_variant, sample_seed, simulate_library
from resistcall.simulate.model import Fusion, GCBias, RunPlan, SamplePlan, Variant
from resistcall.simulate.truth import truth_table, write_truth_vcf

log = logging.getLogger(__name__)

_LIB_KEYS = {  # config key -> simulate_library argument
    "read_length": "read_length",
    "fragment_mean": "fragment_mean",
    "fragment_sd": "fragment_sd",
    "duplicate_rate": "duplicate_rate",
    "off_target": "off_target",
    "ploidy": "ploidy",
    "purity": "purity",
    "efficiency_spread": "efficiency",
    "efficiency_jitter": "efficiency_jitter",
}


_SIM_KEYS = {
    "out_dir",
    "seed",
    "fragments",
    "assay",
    "targets",
    "primers",
    "known_bed",
    "fusion",
    "samples",
    "variants",
}
_SAMPLE_KEYS = {"copy_number", "fusion_fraction", "gc_bias", "fragments"}
_VARIANT_KEYS = {"gene", "hgvs_c", "hgvs_p", "chrom", "pos", "ref", "alt", "vaf"}


def _check_keys(section: Mapping, allowed: set[str], where: str) -> None:
    """A misspelt option must not silently fall back to its default."""
    if not isinstance(section, Mapping):
        raise UserError(f"{where}: expected a mapping, got {type(section).__name__}")
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise UserError(
            f"{where}: unknown key(s) {', '.join(map(str, unknown))} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )


def _parse_junction_side(text: str, what: str) -> tuple[str, int, str]:
    try:
        chrom, pos, keep = str(text).rsplit(":", 2)
        if keep not in ("left", "right"):
            raise ValueError
        return chrom, int(pos), keep
    except ValueError:
        raise UserError(
            f"simulate.fusion.{what}: expected CONTIG:POS:left|right, got {text!r}"
        ) from None


def _read_sheet(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise UserError(f"sample sheet not found: {path}")
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment=None)


def plan_from_config(config_path: str | Path, overrides: dict) -> RunPlan:
    """Read config.yaml (``simulate:`` section, panel, reference) and the sample/unit sheets."""
    import yaml

    config_path = Path(config_path)
    if not config_path.exists():
        raise UserError(f"config file not found: {config_path}")
    cfg = yaml.safe_load(config_path.read_text()) or {}
    resolve_bundled(cfg, Path("."), source_checkout())
    sim = dict(cfg.get("simulate") or {})
    panel = cfg.get("panel") or {}
    where = f"{config_path}: simulate"
    _check_keys(sim, _SIM_KEYS | set(_LIB_KEYS), where)
    for name, opts in (sim.get("samples") or {}).items():
        _check_keys(opts or {}, _SAMPLE_KEYS | set(_LIB_KEYS), f"{where}.samples.{name}")
    for k, v in enumerate(sim.get("variants") or []):
        _check_keys(v or {}, _VARIANT_KEYS, f"{where}.variants[{k}]")
    assay = overrides.get("assay") or sim.get("assay") or panel.get("assay", "capture")
    targets = overrides.get("targets") or sim.get("targets")
    if targets is None and (assay == "capture" or panel.get("assay") == "amplicon"):
        targets = panel.get("targets")  # the configured panel's own targets / inserts
    primers = overrides.get("primers") or sim.get("primers") or panel.get("primers")
    if targets is None and assay == "capture":
        raise UserError(f"{config_path}: panel.targets is not set")
    if assay == "amplicon" and not primers:
        raise UserError(f"{config_path}: amplicon simulation needs panel.primers")
    samples = _read_sheet(Path(cfg.get("samples", "config/samples.tsv")))
    units = _read_sheet(Path(cfg.get("units", "config/units.tsv")))
    out_dir = Path(overrides.get("out_dir") or sim.get("out_dir", "demo_data"))
    relocate = overrides.get("out_dir") is not None
    per_sample = sim.get("samples") or {}
    unknown = sorted(set(per_sample) - set(samples["sample"]))
    if unknown:
        raise UserError(f"{where}.samples: {', '.join(unknown)} not in the sample sheet")
    variants: list[Variant] = []
    vafs: dict[str, dict[int, float]] = {s: {} for s in samples["sample"]}
    for k, v in enumerate(sim.get("variants") or []):
        try:
            variants.append(
                Variant(
                    str(v["chrom"]),
                    int(v["pos"]),
                    str(v["ref"]),
                    str(v["alt"]),
                    0.0,
                    str(v.get("gene", "")),
                    str(v.get("hgvs_c", "")),
                    str(v.get("hgvs_p", "")),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{where}.variants[{k}]: needs chrom, pos, ref, alt ({exc})") from None
        for s, f in (v.get("vaf") or {}).items():
            if s not in vafs:
                raise UserError(f"{where}.variants[{k}].vaf: sample {s} not in the sample sheet")
            vafs[s][k] = float(f)
    fusion = None
    if sim.get("fusion"):
        fz = sim["fusion"]
        a = _parse_junction_side(fz.get("a", ""), "a")
        b = _parse_junction_side(fz.get("b", ""), "b")
        fusion = Fusion(*a, *b, name=str(fz.get("name", "fusion")))
    plans = []
    for row in samples.itertuples(index=False):
        name = row.sample
        opts = per_sample.get(name) or {}
        urows = units[units["sample"] == name]
        if urows.empty:
            raise UserError(f"{cfg.get('units')}: sample {name} has no unit row")
        ulist = []
        for u in urows.itertuples(index=False):
            fq1, fq2 = getattr(u, "fq1", ""), getattr(u, "fq2", "")
            if not fq1 or not fq2:
                raise UserError(
                    f"{cfg.get('units')}: sample {name} unit {u.unit}: simulation writes FASTQ "
                    "pairs, so fq1 and fq2 must both be named"
                )
            p1, p2 = Path(fq1), Path(fq2)
            if relocate:
                p1, p2 = out_dir / p1.name, out_dir / p2.name
            ulist.append((u.unit, p1, p2))
        gc = opts.get("gc_bias", [0.0, 0.0])
        plans.append(
            SamplePlan(
                sample=name,
                line=getattr(row, "line", ""),
                condition=getattr(row, "condition", ""),
                units=ulist,
                copy_numbers={str(g): float(c) for g, c in (opts.get("copy_number") or {}).items()},
                vafs=vafs[name],
                fusion_fraction=float(opts.get("fusion_fraction", 0.0)),
                gc_bias=GCBias(float(gc[0]), float(gc[1])),
                params={_LIB_KEYS[k]: opts[k] for k in _LIB_KEYS if k in opts}
                | ({"n_fragments": int(opts["fragments"])} if "fragments" in opts else {}),
            )
        )
    params = {_LIB_KEYS[k]: sim[k] for k in _LIB_KEYS if k in sim}
    if assay != (sim.get("assay") or panel.get("assay", "capture")):
        # the configured library shape belongs to the other assay: use this assay's defaults
        for key in ("duplicate_rate", "off_target", "efficiency"):
            params.pop(key, None)
    if overrides.get("fragments"):
        sim["fragments"] = overrides["fragments"]
    params["n_fragments"] = int(sim.get("fragments", 100_000))
    ref_cfg = cfg.get("reference") or {}
    fasta = Path(
        overrides.get("reference") or ref_cfg.get("fasta", "resources/reference/panel_GRCh38.fa")
    )
    known = overrides.get("known_bed") or sim.get("known_bed")
    return RunPlan(
        reference=fasta,
        known_bed=Path(known) if known else None,
        targets=Path(targets) if targets else None,
        primers=Path(primers) if primers and assay == "amplicon" else None,
        assay=assay,
        out_dir=out_dir,
        seed=int(overrides.get("seed") or sim.get("seed", 1)),
        samples=plans,
        variants=variants,
        fusion=fusion,
        params=params,
    )


def _file_digest(path: Path | None) -> str:
    if path is None:
        return ""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def plan_digest(plan: RunPlan) -> str:
    """Hash of everything that determines the output bytes (inputs, parameters, code)."""
    # every module of the package: a change anywhere in the simulation invalidates the outputs
    code = b"".join(p.read_bytes() for p in sorted(Path(__file__).parent.glob("*.py")))
    payload = {
        "version": __version__,
        "code": hashlib.sha256(code).hexdigest(),
        "reference": _file_digest(plan.reference),
        "known_bed": _file_digest(plan.known_bed),
        "targets": _file_digest(plan.targets),
        "primers": _file_digest(plan.primers),
        "plan": repr(
            (
                plan.assay,
                plan.seed,
                sorted(plan.params.items()),
                plan.variants,
                plan.fusion,
                plan.samples,
            )
        ),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def run_plan(plan: RunPlan, force: bool = False) -> pd.DataFrame:
    """Simulate every unit of every sample, write truth.tsv/truth.vcf.gz and a manifest.

    Skips all work when the manifest's hash matches and every output exists.
    """
    outputs = [p for s in plan.samples for _, p1, p2 in s.units for p in (p1, p2)]
    truth_tsv = plan.out_dir / "truth.tsv"
    truth_vcf = plan.out_dir / "truth.vcf.gz"
    manifest = plan.out_dir / ".simulate_manifest.json"
    digest = plan_digest(plan)
    everything = [*outputs, truth_tsv]
    if not force and manifest.exists() and all(p.exists() for p in everything):
        try:
            if json.loads(manifest.read_text()).get("digest") == digest:
                log.info("outputs are up to date (%s); nothing to do", manifest)
                return pd.read_csv(truth_tsv, sep="\t", dtype=str, keep_default_na=False)
        except (OSError, ValueError):
            pass
    ref = load_reference(plan.reference, plan.known_bed)
    variants = [normalize_variant(ref, v) for v in plan.variants]
    targets = load_targets(plan)
    for sp in plan.samples:
        fusion = None
        if plan.fusion is not None and sp.fusion_fraction > 0:
            fusion = plan.fusion.with_fraction(sp.fusion_fraction)
        sample_variants = [
            Variant(v.chrom, v.pos, v.ref, v.alt, sp.vafs.get(k, 0.0), v.gene, v.hgvs_c, v.hgvs_p)
            for k, v in enumerate(variants)
            if sp.vafs.get(k, 0.0) > 0
        ]
        n_units = len(sp.units)
        for unit, fq1, fq2 in sp.units:
            params = dict(plan.params) | sp.params
            params["n_fragments"] = int(round(params.get("n_fragments", 100_000) / n_units))
            log.info("simulating %s/%s -> %s %s", sp.sample, unit, fq1, fq2)
            lib = simulate_library(
                ref,
                targets,
                assay=plan.assay,
                copy_numbers=sp.copy_numbers,
                variants=sample_variants,
                fusion=fusion,
                gc_bias=sp.gc_bias,
                efficiency_seed=plan.seed,
                seed=sample_seed(plan.seed, sp.sample, unit),
                read_prefix=f"{sp.sample}.{unit}",
                out_r1=fq1,
                out_r2=fq2,
                **params,
            )
            log.info(
                "%s/%s: %d pairs, %.1f%% duplicates, %.1f%% on target, %d fusion fragments",
                sp.sample,
                unit,
                lib.n,
                100 * lib.duplicate.mean(),
                100 * lib.on_target.mean(),
                int(lib.fusion.sum()),
            )
    truth = truth_table(plan, variants)
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    tmp = truth_tsv.with_name(truth_tsv.name + ".tmp")
    truth.to_csv(tmp, sep="\t", index=False, lineterminator="\n")
    replace_if_changed(tmp, truth_tsv)
    write_truth_vcf(plan, variants, ref, truth_vcf)
    manifest.write_text(
        json.dumps({"digest": digest, "outputs": [str(p) for p in everything]}, indent=1) + "\n"
    )
    return truth
