#!/usr/bin/env bash
# Speed and memory at >= 5,000x: resistcall snv vs bcftools mpileup on the same BAMs and regions.
# Deep BAMs are the real HCC827 / H3122 panel alignments (from run_bench.sh) stacked COPIES
# times with renamed reads (not duplicates), so depth scales while the data stay real.
# Usage: bench/snv/speed.sh [COPIES...]   (default "2 6 12"); prints a markdown table.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/bench/snv/out
PY=$ROOT/.venv/bin/python
cd "$OUT"
[ -e H3122.panel.bam ] || { echo "run bench/snv/run_bench.sh first" >&2; exit 1; }
stack() {  # line copies out sample
  (samtools view -H $1.panel.bam | sed "s/SM:$1/SM:$4/;s/ID:$1/ID:$4/"
   for i in $(seq 1 $2); do
     samtools view $1.panel.bam | awk -v i=$i -v rg=$4 'BEGIN{OFS="\t"}
       {$1=$1"_"i; for(f=12;f<=NF;f++) if($f ~ /^RG:Z:/) $f="RG:Z:"rg; print}'
   done) | samtools sort -o $3 - 2>/dev/null && samtools index $3
}
echo "| copies | mean depth (regions) | tool | wall s | peak RSS MB |"
echo "|---|---|---|---|---|"
for C in ${@:-2 6 12}; do
  stack H3122 $C deepP.$C.bam deepP
  stack HCC827 $C deepR.$C.bam deepR
  D=$(samtools depth -a -b regions.bed deepR.$C.bam | awk '{s+=$3;n++} END{printf "%.0f", s/n}')
  /usr/bin/time -f "%e %M" -o t.rc $PY "$ROOT/bench/snv/rc_snv.py" snv --reference ref/panel.fa \
    --regions regions.bed --parental deepP.$C.bam --resistant deepR.$C.bam \
    --out deep.$C.vcf.gz 2>/dev/null
  /usr/bin/time -f "%e %M" -o t.bcf bash -c "bcftools mpileup -f ref/panel.fa -R regions.bed \
    -a AD,ADF,ADR,DP -d 1000000 -q 20 -Q 25 -Ou deepP.$C.bam deepR.$C.bam 2>/dev/null \
    > /dev/null"
  read -r s kb < t.rc; echo "| $C | $D | resistcall snv | $s | $((kb / 1024)) |"
  read -r s kb < t.bcf; echo "| $C | $D | bcftools mpileup | $s | $((kb / 1024)) |"
  rm -f deepP.$C.bam* deepR.$C.bam*
done
