#!/usr/bin/env bash
# Named-allele hotspot spikes: SNVs at 1/2/5% with the alleles that make the protein changes the
# known-resistance table names (L1196M, G1202R, ...; resistcall.hotspots.named_alleles), one per
# position >= 25 bp apart, into half B of every split of OUT (made by run_bench.sh).
# Usage: bench/snv/named_spikes.sh [OUT]   (default bench/snv/out; run_bench.sh calls it)
# Writes OUT/<split>.Bnamed.bam and OUT/<split>.namedtruth.tsv (evaluated by accuracy.py).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-${OUT:-$ROOT/bench/snv/out}}
PY=$ROOT/.venv/bin/python
cd "$OUT"
REF=ref/panel.fa
$PY - "$ROOT" <<'PYEOF' > named_sites.tsv
import sys
from resistcall.hotspots import sites_from_known
root = sys.argv[1]
s = sites_from_known(f"{root}/resources/known_resistance.tsv",
                     f"{root}/resources/reference/panel_GRCh38.gtf",
                     f"{root}/resources/reference/panel_GRCh38.fa")
s = s[(s.gene == "ALK") & s.verified]
print("pos\talt")
for p, a in sorted({x for alleles in s.alleles for x in alleles}):
    print(f"{p}\t{a}")
PYEOF
while read -r L SEED P; do
  [ -e $P.Bnamed.bam ] && continue
  $PY "$ROOT/bench/snv/spike.py" $L.byname.bam $L.panel.bam $REF alk_cds.bed $P.named $SEED \
    --sites named_sites.tsv --vafs 0.01,0.02,0.05
  bwa mem -t 2 -R "@RG\tID:${L}_Bnamed\tSM:${L}_Bnamed" $REF $P.named.B_1.fq $P.named.B_2.fq \
    2>/dev/null | samtools sort -o $P.Bnamed.bam - && samtools index $P.Bnamed.bam
  cp $P.named.truth.tsv $P.namedtruth.tsv
  rm -f $P.named.*_?.fq
done < cases.tsv
