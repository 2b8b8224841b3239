#!/usr/bin/env bash
# Real-read spike-in benchmark for `resistcall snv` against bcftools mpileup and freebayes.
# Usage: bench/snv/run_bench.sh   (from the repo root; outputs in bench/snv/out/, gitignored)
# Needs ../shared/realdata/DNAfusion/{H3122,HCC827}_EML4.bam, bwa, samtools, bcftools, freebayes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$ROOT/bench/snv/out}  # HELD-OUT seeds: OUT=bench/snv/out_heldout SEEDS="41 53 67"
PY=$ROOT/.venv/bin/python
RC="$PY $ROOT/bench/snv/rc_snv.py"  # `resistcall snv` alone, see rc_snv.py
REAL=${REAL:-$ROOT/../shared/realdata/DNAfusion}
mkdir -p "$OUT/ref"
OUT=$(cd "$OUT" && pwd)  # absolute: the steps below run inside it and pass it on
cd "$OUT"
[ -e ref/panel.fa ] || ln -sf "$ROOT/resources/reference/panel_GRCh38.fa" ref/panel.fa
[ -e ref/panel.fa.fai ] || samtools faidx ref/panel.fa
[ -e ref/panel.fa.bwt ] || bwa index ref/panel.fa 2>/dev/null
REF=ref/panel.fa
# ALK coding exons 19-28 from the bundled GTF, padded by 10 bp = the calling regions
awk '$3=="CDS" && /gene_name "ALK"/' "$ROOT/resources/reference/panel_GRCh38.gtf" \
  | awk -v OFS='\t' '{print $1,$4-1,$5,"ALK"}' | sort -k2,2n > alk_cds.bed
awk -v OFS='\t' '{print $1,$2-10,$3+10,$4}' alk_cds.bed > regions.bed

align() {  # fq prefix, sample name, out bam
  bwa mem -t 2 -R "@RG\tID:$2\tSM:$2" $REF "$1_1.fq" "$1_2.fq" 2>/dev/null \
    | samtools sort -o "$3" - && samtools index "$3"
}

SEEDS=${SEEDS:-"11 23 37"}
for L in H3122 HCC827; do
  if [ ! -e $L.panel.bam ]; then  # real reads realigned to the panel reference
    samtools collate -Ou "$REAL/${L}_EML4.bam" "$OUT/col_$L" | samtools view -u -F 0x900 - \
      | samtools fastq -1 ${L}_1.fq -2 ${L}_2.fq -0 /dev/null -s /dev/null -n - 2>/dev/null
    align $L $L $L.panel.bam
  fi
  samtools sort -n -o $L.byname.bam $L.panel.bam
done

# peers + resistcall, timed; case = parental resistant
run_case() {  # name parental resistant [extra resistcall options]
  local n=$1 p=$2 r=$3
  shift 3
  /usr/bin/time -f "%e %M" -o $n.rc.time $RC snv --reference $REF --regions regions.bed \
    --parental $p --resistant $r --out $n.rc.vcf.gz "$@" 2> $n.rc.log
  /usr/bin/time -f "%e %M" -o $n.bcf.time bash -c "bcftools mpileup -f $REF -R regions.bed \
    -a AD,ADF,ADR,DP -d 1000000 -q 20 -Q 20 -Ou $p $r 2>/dev/null \
    | bcftools norm -m -any -f $REF -Oz -o $n.bcf.vcf.gz 2>/dev/null"
  /usr/bin/time -f "%e %M" -o $n.fb.time bash -c "freebayes -f $REF -t regions.bed \
    --pooled-continuous -F 0.01 -C 2 --min-base-quality 20 --min-mapping-quality 20 \
    -X -u $p $r 2>/dev/null | bcftools norm -m -any -f $REF -Oz \
    -o $n.fb.vcf.gz 2>/dev/null"
}

: > cases.tsv
for L in H3122 HCC827; do
  for SEED in $SEEDS; do
    P=$L.s$SEED
    # split + spike (half B) and the same split unspiked (negative control)
    $PY "$ROOT/bench/snv/spike.py" $L.byname.bam $L.panel.bam $REF alk_cds.bed $P.spk $SEED
    $PY "$ROOT/bench/snv/spike.py" $L.byname.bam $L.panel.bam $REF alk_cds.bed $P.neg $SEED --no-spike
    align $P.spk.A ${L}_A $P.A.bam
    align $P.spk.B ${L}_Bspiked $P.Bspk.bam
    align $P.neg.B ${L}_B $P.B.bam
    cp $P.spk.truth.tsv $P.truth.tsv
    run_case $P.spiked $P.A.bam $P.Bspk.bam
    run_case $P.neg $P.A.bam $P.B.bam
    printf "%s\t%s\t%s\n" $L $SEED $P >> cases.tsv
    rm -f $P.spk.*_?.fq $P.neg.*_?.fq
  done
done
# Hotspot scenario: SNVs at 1/2/5% on known-resistance codon bases of the same splits; the
# caller gets --hotspots (as the workflow does), peers are run as before.
$PY - "$ROOT" <<'PYEOF' > hot_sites.tsv
import sys
from resistcall.hotspots import sites_from_known
root = sys.argv[1]
s = sites_from_known(f"{root}/resources/known_resistance.tsv",
                     f"{root}/resources/reference/panel_GRCh38.gtf")
s = s[s.gene == "ALK"].explode("positions")
print("pos")
for p in sorted(set(s.positions)):
    print(p)
PYEOF
: > hot_cases.tsv
while read -r L SEED P; do
  $PY "$ROOT/bench/snv/spike.py" $L.byname.bam $L.panel.bam $REF alk_cds.bed $P.hot $SEED \
    --sites hot_sites.tsv --vafs 0.01,0.02,0.05
  align $P.hot.B ${L}_Bhot $P.Bhot.bam
  cp $P.hot.truth.tsv $P.hottruth.tsv
  run_case $P.hot $P.A.bam $P.Bhot.bam --hotspots "$ROOT/resources/known_resistance.tsv" \
    --gtf "$ROOT/resources/reference/panel_GRCh38.gtf"
  printf "%s\t%s\t%s\n" $L $SEED $P >> hot_cases.tsv
  rm -f $P.hot.*_?.fq
done < cases.tsv
# Named-allele hotspot scenario (the alleles that make the table's protein changes), for
# accuracy.py
"$ROOT/bench/snv/named_spikes.sh" "$OUT"
$PY "$ROOT/bench/snv/evaluate.py" "$OUT"
