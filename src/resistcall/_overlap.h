/* Overlapping mates of one fragment, exactly as htslib's pileup engine treats them.
 *
 * cigar_iref2iseq_set/next and tweak_overlap_quality are copied from htslib 1.24 sam.c
 * (MIT/Expat licence, Copyright (C) 2008-2024 Genome Research Ltd.), renamed and with
 * hts_log_error dropped, so that resistcall's per-read counting gives the same counts as
 * `samtools mpileup` / pysam pileup with overlap detection: where the mates agree one of
 * them keeps the summed quality (max 200) and the other gets 0; where they disagree the
 * higher-quality base keeps 0.8 x its quality and the other gets 0. Which mate keeps an
 * agreeing base is chosen from a hash of the read name (htslib >= 1.13).
 *
 * Also: the hash of a read name that finds the mate waiting for it (_kernel.pyx, Mates), and a
 * 64-bit FNV-1a hash of the read name used as fragment id.
 */
#ifndef RESISTCALL_OVERLAP_H
#define RESISTCALL_OVERLAP_H

#include <stdint.h>
#include <string.h>
#include "htslib/sam.h"
#include "htslib/khash.h"

/* Hash of a read name for the table of reads waiting for their mate, 8 bytes at a time:
 * the former byte-wise khash string hash (X31) ran three to four times per read pair. Equal
 * names hash equal (only the bytes before the NUL count); a match is confirmed by strcmp. */
static inline uint64_t rc_name_hash(const char *s)
{
    size_t n = strlen(s);
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
    for (; n >= 8; n -= 8, s += 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 29;
    }
    if (n) {
        w = 0;
        memcpy(&w, s, n);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
    }
    h ^= h >> 33;  /* murmur3's finaliser: the table indexes by the low bits */
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static inline uint64_t rc_fragment_id(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; ++s) { h ^= (uint8_t)*s; h *= 1099511628211ULL; }
    return h;
}

static inline int rc_cigar_iref2iseq_set(const uint32_t **cigar, const uint32_t *cigar_max,
                                         hts_pos_t *icig, hts_pos_t *iseq, hts_pos_t *iref)
{
    hts_pos_t pos = *iref;
    if ( pos < 0 ) return -1;
    *icig = 0;
    *iseq = 0;
    *iref = 0;
    while ( *cigar<cigar_max )
    {
        int cig  = (**cigar) & BAM_CIGAR_MASK;
        int ncig = (**cigar) >> BAM_CIGAR_SHIFT;

        if ( cig==BAM_CSOFT_CLIP ) { (*cigar)++; *iseq += ncig; *icig = 0; continue; }
        if ( cig==BAM_CHARD_CLIP || cig==BAM_CPAD ) { (*cigar)++; *icig = 0; continue; }
        if ( cig==BAM_CMATCH || cig==BAM_CEQUAL || cig==BAM_CDIFF )
        {
            pos -= ncig;
            if ( pos < 0 ) { *icig = ncig + pos; *iseq += *icig; *iref += *icig; return BAM_CMATCH; }
            (*cigar)++; *iseq += ncig; *icig = 0; *iref += ncig;
            continue;
        }
        if ( cig==BAM_CINS ) { (*cigar)++; *iseq += ncig; *icig = 0; continue; }
        if ( cig==BAM_CDEL || cig==BAM_CREF_SKIP )
        {
            pos -= ncig;
            if ( pos<0 ) pos = 0;
            (*cigar)++; *icig = 0; *iref += ncig;
            continue;
        }
        return -2;
    }
    *iseq = -1;
    return -1;
}

static inline int rc_cigar_iref2iseq_next(const uint32_t **cigar, const uint32_t *cigar_max,
                                          hts_pos_t *icig, hts_pos_t *iseq, hts_pos_t *iref)
{
    while ( *cigar < cigar_max )
    {
        int cig  = (**cigar) & BAM_CIGAR_MASK;
        int ncig = (**cigar) >> BAM_CIGAR_SHIFT;

        if ( cig==BAM_CMATCH || cig==BAM_CEQUAL || cig==BAM_CDIFF )
        {
            if ( *icig >= ncig - 1 ) { *icig = -1;  (*cigar)++; continue; }
            (*iseq)++; (*icig)++; (*iref)++;
            return BAM_CMATCH;
        }
        if ( cig==BAM_CDEL || cig==BAM_CREF_SKIP ) { (*cigar)++; (*iref) += ncig; *icig = -1; continue; }
        if ( cig==BAM_CINS ) { (*cigar)++; *iseq += ncig; *icig = -1; continue; }
        if ( cig==BAM_CSOFT_CLIP ) { (*cigar)++; *iseq += ncig; *icig = -1; continue; }
        if ( cig==BAM_CHARD_CLIP || cig==BAM_CPAD ) { (*cigar)++; *icig = -1; continue; }
        return -2;
    }
    *iseq = -1;
    *iref = -1;
    return -1;
}

/* One position covered by both mates (the body of htslib's tweak_overlap_quality loop). */
static inline void rc_tweak_base(const uint8_t *a_seq, uint8_t *a_qual, hts_pos_t a_iseq,
                                 const uint8_t *b_seq, uint8_t *b_qual, hts_pos_t b_iseq,
                                 uint8_t amul, uint8_t bmul)
{
    if ( bam_seqi(a_seq,a_iseq) == bam_seqi(b_seq,b_iseq) ) {
        int qual = a_qual[a_iseq] + b_qual[b_iseq];
        a_qual[a_iseq] = amul * (qual>200 ? 200 : qual);
        b_qual[b_iseq] = bmul * (qual>200 ? 200 : qual);
    } else {
        if ( a_qual[a_iseq] > b_qual[b_iseq] ) {
            a_qual[a_iseq] = 0.8 * a_qual[a_iseq];
            b_qual[b_iseq] = 0;
        } else if (a_qual[a_iseq] < b_qual[b_iseq] ) {
            b_qual[b_iseq] = 0.8 * b_qual[b_iseq];
            a_qual[a_iseq] = 0;
        } else {
            a_qual[a_iseq] = amul * 0.8 * a_qual[a_iseq];
            b_qual[b_iseq] = bmul * 0.8 * b_qual[b_iseq];
        }
    }
}

/* htslib's tweak_overlap_quality: 'a' is the left mate (arrived first), 'b' the right one.
 * Returns 0, or -1 on a bad CIGAR. */
static int rc_tweak_overlap_quality_walk(bam1_t *a, bam1_t *b)
{
    const uint32_t *a_cigar = bam_get_cigar(a),
        *a_cigar_max = a_cigar + a->core.n_cigar;
    const uint32_t *b_cigar = bam_get_cigar(b),
        *b_cigar_max = b_cigar + b->core.n_cigar;
    hts_pos_t a_icig = 0, a_iseq = 0;
    hts_pos_t b_icig = 0, b_iseq = 0;
    uint8_t *a_qual = bam_get_qual(a), *b_qual = bam_get_qual(b);
    uint8_t *a_seq  = bam_get_seq(a), *b_seq = bam_get_seq(b);

    hts_pos_t iref   = b->core.pos;
    hts_pos_t a_iref = iref - a->core.pos;
    hts_pos_t b_iref = iref - b->core.pos;

    int a_ret = rc_cigar_iref2iseq_set(&a_cigar, a_cigar_max, &a_icig, &a_iseq, &a_iref);
    if ( a_ret<0 )
        return a_ret<-1 ? -1:0;

    int b_ret = rc_cigar_iref2iseq_set(&b_cigar, b_cigar_max, &b_icig, &b_iseq, &b_iref);
    if ( b_ret<0 )
        return b_ret<-1 ? -1:0;

    uint8_t amul, bmul;
    if (__ac_Wang_hash(__ac_X31_hash_string(bam_get_qname(a))) & 1) {
        amul = 1;
        bmul = 0;
    } else {
        amul = 0;
        bmul = 1;
    }

    int err = 0;
    while ( 1 ) {
        while ( a_ret >= 0 && a_iref>=0 && a_iref < iref - a->core.pos )
            a_ret = rc_cigar_iref2iseq_next(&a_cigar, a_cigar_max, &a_icig, &a_iseq, &a_iref);
        if ( a_ret<0 ) {
            err = a_ret<-1?-1:0;
            break;
        }

        while ( b_ret >= 0 && b_iref>=0 && b_iref < iref - b->core.pos )
            b_ret = rc_cigar_iref2iseq_next(&b_cigar, b_cigar_max, &b_icig, &b_iseq, &b_iref);
        if ( b_ret<0 ) {
            err = b_ret<-1?-1:0;
            break;
        }

        if ( iref < a_iref + a->core.pos )
            iref = a_iref + a->core.pos;

        if ( iref < b_iref + b->core.pos )
            iref = b_iref + b->core.pos;

        iref++;

        if (a_iref+a->core.pos != b_iref+b->core.pos) {
            if (a_iref+a->core.pos < b_iref+b->core.pos
                && b_cigar > bam_get_cigar(b)
                && bam_cigar_op(b_cigar[-1]) == BAM_CDEL) {
                do {
                    a_qual[a_iseq] = amul
                        ? a_qual[a_iseq]*0.8
                        : 0;
                    a_ret = rc_cigar_iref2iseq_next(&a_cigar, a_cigar_max, &a_icig, &a_iseq, &a_iref);
                    if (a_ret < 0)
                        return -(a_ret<-1);
                } while (a_iref + a->core.pos < b_iref+b->core.pos);
            } else if (a_cigar > bam_get_cigar(a)
                       && bam_cigar_op(a_cigar[-1]) == BAM_CDEL) {
                do {
                    b_qual[b_iseq] = bmul
                        ? b_qual[b_iseq]*0.8
                        : 0;
                    b_ret = rc_cigar_iref2iseq_next(&b_cigar, b_cigar_max, &b_icig, &b_iseq, &b_iref);
                    if (b_ret < 0)
                        return -(b_ret<-1);
                } while (b_iref + b->core.pos < a_iref+a->core.pos);
            } else {
                continue;
            }
        }

        if (a_iseq > a->core.l_qseq || b_iseq > b->core.l_qseq)
            return -1;

        rc_tweak_base(a_seq, a_qual, a_iseq, b_seq, b_qual, b_iseq, amul, bmul);
    }

    return err;
}

/* Query offset and length of the aligned block of a read whose CIGAR is a single M/=/X
 * operation between soft/hard clips (most amplicon reads), or 0 for any other CIGAR or a
 * CIGAR longer than the sequence. */
static inline int rc_one_block(const bam1_t *b, hts_pos_t *qoff, hts_pos_t *len)
{
    const uint32_t *cigar = bam_get_cigar(b);
    uint32_t k, blocks = 0;
    hts_pos_t q = 0;
    for (k = 0; k < b->core.n_cigar; k++) {
        int op = bam_cigar_op(cigar[k]);
        hts_pos_t l = bam_cigar_oplen(cigar[k]);
        if (op == BAM_CSOFT_CLIP) {
            if (!blocks) q += l;
        } else if (op == BAM_CMATCH || op == BAM_CEQUAL || op == BAM_CDIFF) {
            if (blocks++) return 0;
            *len = l;
        } else if (op != BAM_CHARD_CLIP) {
            return 0;
        }
    }
    if (blocks != 1 || *len == 0 || q + *len > b->core.l_qseq) return 0;
    *qoff = q;
    return 1;
}

/* 'a' is the left mate (arrived first), 'b' the right one. Returns 0, or -1 on a bad CIGAR. */
static int rc_tweak_overlap_quality(bam1_t *a, bam1_t *b)
{
    hts_pos_t a_off = 0, a_len = 0, b_off = 0, b_len = 0, iref, stop;
    /* Why a shortcut: for two single-block reads (a starting at or before b) htslib's CIGAR
     * walk below visits exactly the reference positions both cover, [b.pos, min(a.end, b.end)),
     * one query base of each per position; walking them directly is ~3x cheaper and gives the
     * same qualities (tests/test_pileup.py compares with htslib's pileup). */
    if (a->core.pos <= b->core.pos && rc_one_block(a, &a_off, &a_len)
        && rc_one_block(b, &b_off, &b_len)) {
        stop = a->core.pos + a_len < b->core.pos + b_len ? a->core.pos + a_len
                                                          : b->core.pos + b_len;
        if (stop <= b->core.pos) return 0;
        uint8_t amul = __ac_Wang_hash(__ac_X31_hash_string(bam_get_qname(a))) & 1;
        uint8_t *a_qual = bam_get_qual(a), *b_qual = bam_get_qual(b);
        const uint8_t *a_seq = bam_get_seq(a), *b_seq = bam_get_seq(b);
        for (iref = b->core.pos; iref < stop; iref++)
            rc_tweak_base(a_seq, a_qual, a_off + iref - a->core.pos, b_seq, b_qual,
                          b_off + iref - b->core.pos, amul, !amul);
        return 0;
    }
    return rc_tweak_overlap_quality_walk(a, b);
}

#endif
