# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled per-read counting over htslib records (the system htslib, declared here).

Why compiled: deep amplicon data (10^4-10^5x) makes any per-read or per-column Python code the
bottleneck. Here each read of a region is decoded once by htslib (its region iterator, no Python
object per read) and its CIGAR walked once in C. Why the system htslib and not pysam's: pysam's
wheels bundle an htslib that inflates BGZF blocks with zlib, about twice the CPU of a libdeflate
htslib (Debian's ``libhts-dev``, conda's ``htslib``), and decoding is most of counting's cost.
The Python-facing API is :class:`Reader` (one open BAM/CRAM with its index and block cache) and
:func:`count_region` (allele counts, used by ``resistcall.pileup``) and :func:`fragment_spans`
(fragment starts/ends, used by ``resistcall.coverage``); what they count is documented there and
in docs/snv.md ("Counting").
"""

from libc.stdint cimport (
    INT64_MAX, int8_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t,
)
from libc.stdlib cimport calloc, free, llabs, malloc, realloc
from libc.string cimport memcpy, strcmp

import os

import numpy as np


cdef extern from "htslib/sam.h" nogil:
    ctypedef int64_t hts_pos_t
    ctypedef struct htsFile:
        pass
    ctypedef struct sam_hdr_t:
        pass
    ctypedef struct hts_idx_t:
        pass
    ctypedef struct hts_itr_t:
        pass
    ctypedef struct bam1_core_t:
        hts_pos_t pos
        int32_t tid
        uint8_t qual
        uint16_t flag
        uint32_t n_cigar
        int32_t l_qseq
        int32_t mtid
        hts_pos_t mpos
        hts_pos_t isize
    ctypedef struct bam1_t:
        bam1_core_t core
        uint8_t *data
        int l_data
        uint32_t m_data
    htsFile *hts_open(const char *fn, const char *mode)
    int hts_close(htsFile *fp)
    int hts_set_fai_filename(htsFile *fp, const char *fn_aux)
    sam_hdr_t *sam_hdr_read(htsFile *fp)
    void sam_hdr_destroy(sam_hdr_t *h)
    int sam_hdr_nref(const sam_hdr_t *h)
    const char *sam_hdr_tid2name(const sam_hdr_t *h, int tid)
    int sam_hdr_name2tid(sam_hdr_t *h, const char *ref)
    hts_idx_t *sam_index_load(htsFile *fp, const char *fn)
    void hts_idx_destroy(hts_idx_t *idx)
    hts_itr_t *sam_itr_queryi(const hts_idx_t *idx, int tid, hts_pos_t beg, hts_pos_t end)
    ctypedef struct hts_pair_pos_t:
        hts_pos_t beg
        hts_pos_t end
    ctypedef struct hts_reglist_t:
        const char *reg
        hts_pair_pos_t *intervals
        int tid
        uint32_t count
        hts_pos_t min_beg
        hts_pos_t max_end
    hts_itr_t *sam_itr_regions(const hts_idx_t *idx, sam_hdr_t *hdr, hts_reglist_t *reglist,
                               unsigned int regcount)
    int sam_itr_next(htsFile *fp, hts_itr_t *itr, bam1_t *b)
    void hts_itr_destroy(hts_itr_t *itr)
    bam1_t *bam_init1()
    void bam_destroy1(bam1_t *b)
    uint32_t *bam_get_cigar(bam1_t *b)
    char *bam_get_qname(bam1_t *b)
    uint8_t *bam_get_seq(bam1_t *b)
    uint8_t *bam_get_qual(bam1_t *b)
    hts_pos_t bam_endpos(const bam1_t *b)
    bam1_t *bam_copy1(bam1_t *bdst, const bam1_t *bsrc)
    uint8_t bam_seqi(uint8_t *s, int64_t i)


cdef extern from *:
    """
    #include "htslib/hts.h"
    #include "htslib/bgzf.h"
    /* the BGZF stream of a BAM (NULL for CRAM, which has its own block handling) */
    static BGZF *rc_bgzf(htsFile *fp) { return fp->is_bgzf ? fp->fp.bgzf : NULL; }
    static int rc_is_cram(htsFile *fp) { return fp->is_cram; }
    """
    ctypedef struct BGZF:
        pass
    BGZF *rc_bgzf(htsFile *fp)
    int rc_is_cram(htsFile *fp)
    void bgzf_set_cache_size(BGZF *fp, int size)


cdef extern from "_overlap.h" nogil:
    uint64_t rc_name_hash(const char *s)
    uint64_t rc_fragment_id(const char *s)
    int rc_tweak_overlap_quality(bam1_t *a, bam1_t *b)


cdef enum:
    # CIGAR operations
    M = 0
    I = 1
    D = 2
    N = 3
    S = 4
    H = 5
    P = 6
    EQ = 7
    X = 8
    # SAM flags
    F_PAIRED = 0x1
    F_PROPER = 0x2
    F_MUNMAP = 0x8
    F_REVERSE = 0x10
    F_READ2 = 0x80
    F_DUP = 0x400


#: seq_nt16 code -> allele index (A C G T N *): A=1 C=2 G=4 T=8, anything else N.
cdef int8_t NT16_ALLELE[16]
for _k in range(16):
    NT16_ALLELE[_k] = 4
NT16_ALLELE[1] = 0
NT16_ALLELE[2] = 1
NT16_ALLELE[4] = 2
NT16_ALLELE[8] = 3
cdef const char *NT16_STR = b"=ACMGRSVTWYHKDBN"


#: bytes of decompressed BGZF blocks kept between the region queries of one open BAM
BLOCK_CACHE = 64 << 20


cdef class Reader:
    """One BAM or CRAM opened with the system htslib: header, index and block cache loaded once
    and reused by every region query (:func:`count_region`, :func:`fragment_spans`).

    ``reference``: the FASTA a CRAM is decoded with (ignored for BAM). The index is found next
    to the file as htslib (and pysam) find it (``.bai``/``.csi``, ``.crai``). ``block_cache``:
    bytes of decompressed BGZF blocks kept for later queries. Why: htslib starts each region
    query at its index bin's offset, so neighbouring regions (and deep amplicons' piles)
    decompress the same blocks again; without the cache that is about half of counting at
    ~16,000x. Use one Reader per thread: the counting functions release the GIL while they
    read, so threads counting different BAMs run in parallel.
    """

    cdef htsFile *fp
    cdef sam_hdr_t *hdr
    cdef hts_idx_t *idx
    cdef readonly str path
    cdef readonly tuple references
    cdef readonly bint is_cram

    def __cinit__(self, path, reference=None, int block_cache=BLOCK_CACHE):
        self.fp = NULL
        self.hdr = NULL
        self.idx = NULL
        self.path = os.fspath(path)
        cdef bytes fn = os.fsencode(self.path)
        self.fp = hts_open(fn, b"r")
        if self.fp == NULL:
            raise OSError(f"cannot open {self.path} (missing, unreadable or not BAM/CRAM)")
        self.is_cram = rc_is_cram(self.fp)
        if self.is_cram and reference is not None:
            if hts_set_fai_filename(self.fp, os.fsencode(os.fspath(reference))) < 0:
                raise OSError(f"cannot use {reference} to decode the CRAM {self.path}")
        self.hdr = sam_hdr_read(self.fp)
        if self.hdr == NULL:
            raise OSError(f"cannot read the header of {self.path}")
        self.idx = sam_index_load(self.fp, fn)
        if self.idx == NULL:
            raise OSError(f"no index (.bai/.csi/.crai) found for {self.path}")
        if rc_bgzf(self.fp) != NULL:
            bgzf_set_cache_size(rc_bgzf(self.fp), block_cache)
        self.references = tuple(
            sam_hdr_tid2name(self.hdr, t).decode() for t in range(sam_hdr_nref(self.hdr))
        )

    def __dealloc__(self):
        self._close()

    cdef void _close(self) noexcept:
        if self.idx != NULL:
            hts_idx_destroy(self.idx)
            self.idx = NULL
        if self.hdr != NULL:
            sam_hdr_destroy(self.hdr)
            self.hdr = NULL
        if self.fp != NULL:
            hts_close(self.fp)
            self.fp = NULL

    def close(self):
        self._close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._close()

    cdef hts_itr_t *query(self, str contig, int64_t start, int64_t end) except NULL:
        """Iterator over the reads overlapping ``[start, end)`` of ``contig``."""
        cdef int tid
        cdef hts_itr_t *itr
        if self.fp == NULL:
            raise ValueError(f"{self.path} is closed")
        tid = sam_hdr_name2tid(self.hdr, contig.encode())
        if tid < 0:
            raise ValueError(f"contig {contig!r} is not in the header of {self.path}")
        itr = sam_itr_queryi(self.idx, tid, start, end)
        if itr == NULL:
            raise OSError(f"cannot query {contig}:{start}-{end} of {self.path}")
        return itr

    cdef hts_itr_t *query_many(self, bytes contig, const int64_t[::1] starts,
                               const int64_t[::1] ends) except NULL:
        """One pass over the reads overlapping any of the intervals of ``contig`` (each read
        once, in file order; every BGZF block read once, htslib's multi-region iterator)."""
        cdef Py_ssize_t i, n = starts.shape[0]
        cdef hts_reglist_t *reg
        cdef hts_itr_t *itr
        if self.fp == NULL:
            raise ValueError(f"{self.path} is closed")
        if sam_hdr_name2tid(self.hdr, contig) < 0:
            raise ValueError(f"contig {contig.decode()!r} is not in the header of {self.path}")
        # owned by the iterator from here on (hts_itr_destroy frees both)
        reg = <hts_reglist_t *> malloc(sizeof(hts_reglist_t))
        if reg == NULL:
            raise MemoryError()
        reg.intervals = <hts_pair_pos_t *> malloc(max(n, 1) * sizeof(hts_pair_pos_t))
        if reg.intervals == NULL:
            free(reg)
            raise MemoryError()
        reg.reg = contig
        reg.tid = -1
        reg.count = <uint32_t> n
        for i in range(n):
            reg.intervals[i].beg = starts[i]
            reg.intervals[i].end = ends[i]
        reg.min_beg = starts[0] if n else 0
        reg.max_end = ends[n - 1] if n else 0
        itr = sam_itr_regions(self.idx, self.hdr, reg, 1)
        if itr == NULL:
            raise OSError(f"cannot query {n} intervals of {contig.decode()} in {self.path}")
        return itr


cdef int check_end(Reader reads, int ret) except -1:
    """After the last ``sam_itr_next``: -1 is the end of the region, below that corrupt data."""
    if ret < -1:
        raise OSError(f"truncated or corrupt BAM/CRAM {reads.path} (htslib status {ret})")
    return 0


# ---------------------------------------------------------------------------------------------
# growable observation buffers (C arrays; copied to numpy once per region)
# ---------------------------------------------------------------------------------------------

cdef struct Obs:
    int64_t n
    int64_t cap
    int64_t *pos       # reference position (0-based); the anchor for indels
    int32_t *kind      # allele index (bases) or signed indel length (+ins, -del)
    int8_t *strand     # 0 forward, 1 reverse
    int32_t *dist      # distance of the base to the nearest aligned read end
    int32_t *cycle     # position in the read from its 5' end (sequencing cycle, 0-based)
    uint8_t *qual      # base quality after the overlapping-mate adjustment
    uint64_t *frag     # fragment id (hash of the read name)
    int64_t *boff      # insertions: offset of the inserted bases in `bases`
    char *bases
    int64_t nb
    int64_t capb


cdef int obs_grow(Obs *o) noexcept nogil:
    cdef int64_t cap = o.cap * 2 if o.cap else 4096
    o.pos = <int64_t *> realloc(o.pos, cap * sizeof(int64_t))
    o.kind = <int32_t *> realloc(o.kind, cap * sizeof(int32_t))
    o.strand = <int8_t *> realloc(o.strand, cap * sizeof(int8_t))
    o.dist = <int32_t *> realloc(o.dist, cap * sizeof(int32_t))
    o.cycle = <int32_t *> realloc(o.cycle, cap * sizeof(int32_t))
    o.qual = <uint8_t *> realloc(o.qual, cap * sizeof(uint8_t))
    o.frag = <uint64_t *> realloc(o.frag, cap * sizeof(uint64_t))
    o.boff = <int64_t *> realloc(o.boff, cap * sizeof(int64_t))
    if (o.pos == NULL or o.kind == NULL or o.strand == NULL or o.dist == NULL
            or o.cycle == NULL or o.qual == NULL or o.frag == NULL or o.boff == NULL):
        return -1
    o.cap = cap
    return 0


cdef void obs_free(Obs *o) noexcept nogil:
    free(o.pos)
    free(o.kind)
    free(o.strand)
    free(o.dist)
    free(o.cycle)
    free(o.qual)
    free(o.frag)
    free(o.boff)
    free(o.bases)


cdef dict obs_arrays(Obs *o):
    """Copy the first n observations into numpy arrays."""
    cdef int64_t n = o.n
    out = {
        "pos": np.empty(n, dtype=np.int64),
        "kind": np.empty(n, dtype=np.int32),
        "strand": np.empty(n, dtype=np.int8),
        "dist": np.empty(n, dtype=np.int32),
        "cycle": np.empty(n, dtype=np.int32),
        "qual": np.empty(n, dtype=np.uint8),
        "frag": np.empty(n, dtype=np.uint64),
    }
    if n:
        _copy(out["pos"], o.pos, n * sizeof(int64_t))
        _copy(out["kind"], o.kind, n * sizeof(int32_t))
        _copy(out["strand"], o.strand, n * sizeof(int8_t))
        _copy(out["dist"], o.dist, n * sizeof(int32_t))
        _copy(out["cycle"], o.cycle, n * sizeof(int32_t))
        _copy(out["qual"], o.qual, n * sizeof(uint8_t))
        _copy(out["frag"], o.frag, n * sizeof(uint64_t))
    return out


cdef void _copy(object arr, void *src, size_t nbytes):
    cdef uint8_t[::1] view = arr.view(np.uint8)
    memcpy(&view[0], src, nbytes)


# ---------------------------------------------------------------------------------------------
# allele counting
# ---------------------------------------------------------------------------------------------

cdef struct Region:
    int64_t start
    int64_t end
    int min_bq
    const uint8_t *ref        # allele index of the reference base per region position
    int32_t *counts           # (n, 6, 2)
    int64_t *qual_sum         # (n, 6), added to the caller's float64 array at the end: the
                              # sums are integers (exact in a double below 2^53), and an
                              # integer add per base is cheaper than int->double + float add
    double *err_sum           # (n,)
    const double *err         # 10^(-q/10) for q in 0..255
    Obs snv                   # non-reference A/C/G/T bases
    Obs indel                 # insertion / deletion events at their anchor
    int failed


cdef inline int _is_match(int op) noexcept nogil:
    return op == M or op == EQ or op == X


cdef void add_obs(Obs *o, int64_t pos, int32_t kind, int8_t strand, int32_t dist, int32_t cycle,
                  uint8_t q, uint64_t frag, Region *r) noexcept nogil:
    if o.n == o.cap and obs_grow(o) < 0:
        r.failed = 1
        return
    o.pos[o.n] = pos
    o.kind[o.n] = kind
    o.strand[o.n] = strand
    o.dist[o.n] = dist
    o.cycle[o.n] = cycle
    o.qual[o.n] = q
    o.frag[o.n] = frag
    o.boff[o.n] = o.nb
    o.n += 1


cdef void add_inserted(Obs *o, uint8_t *seq, int64_t from_q, int64_t n, Region *r) noexcept nogil:
    """Inserted bases of the last indel observation (as letters)."""
    cdef int64_t j
    cdef int64_t cap
    if o.nb + n > o.capb:
        cap = max(o.capb * 2, o.nb + n, 4096)
        o.bases = <char *> realloc(o.bases, cap)
        if o.bases == NULL:
            r.failed = 1
            return
        o.capb = cap
    for j in range(n):
        o.bases[o.nb + j] = NT16_STR[bam_seqi(seq, from_q + j)]
    o.nb += n


cdef int64_t peek_indel(uint32_t *cigar, int k, int n_cigar, int op) noexcept nogil:
    """htslib's ``bam_pileup1_t.indel`` at the last reference base of op ``k``: +inserted
    or -deleted length of the indel that follows (consecutive I or D merged), else 0."""
    cdef int op2, kk
    cdef int64_t l2, l3
    if k + 1 >= n_cigar:
        return 0
    op2 = cigar[k + 1] & 0xf
    l2 = cigar[k + 1] >> 4
    if op2 == D and op != D:
        kk = k + 2
        while kk < n_cigar and (cigar[kk] & 0xf) == D:
            l2 += cigar[kk] >> 4
            kk += 1
        return -l2
    if op2 == I:
        kk = k + 2
        while kk < n_cigar:
            op2 = cigar[kk] & 0xf
            if op2 == I:
                l2 += cigar[kk] >> 4
            elif op2 != P:
                break
            kk += 1
        return l2
    if op2 == P and k + 2 < n_cigar:
        l3 = 0
        kk = k + 2
        while kk < n_cigar:
            op2 = cigar[kk] & 0xf
            if op2 == I:
                l3 += cigar[kk] >> 4
            elif op2 == D or _is_match(op2) or op2 == N:
                break
            kk += 1
        return l3
    return 0


cdef void count_read(bam1_t *b, Region *r, const uint8_t *dq, int64_t dq_before) noexcept nogil:
    """Add one read's bases, deletion-spanning positions and indels inside the region.

    A deletion-spanning position d is gated on the quality of the read's next base, taken from
    ``dq`` (the qualities before the overlapping-mate adjustment) when ``d < dq_before``: htslib
    emits column d before it has read the mate that adjusts that base (see count_region).
    """
    cdef uint32_t *cigar = bam_get_cigar(b)
    cdef uint8_t *seq = bam_get_seq(b)
    cdef uint8_t *qual = bam_get_qual(b)
    cdef int n_cigar = b.core.n_cigar
    cdef int64_t lq = b.core.l_qseq
    cdef int8_t strand = 1 if b.core.flag & F_REVERSE else 0
    # the region's arrays and bounds in locals: Python compiles extensions with
    # -fno-strict-aliasing, so read through `r` every pointer is reloaded after each store
    cdef int64_t start = r.start
    cdef int64_t end = r.end
    cdef int min_bq = r.min_bq
    cdef const uint8_t *ref = r.ref
    cdef int32_t *counts = r.counts + strand  # counts[(i * 6 + a) * 2] is this strand's
    cdef int64_t *qual_sum = r.qual_sum
    cdef double *err_sum = r.err_sum
    cdef const double *err = r.err
    cdef int64_t x = b.core.pos
    cdef int64_t y = 0
    cdef int64_t qstart = 0
    cdef int64_t qend = lq
    cdef int k, op, a
    cdef int64_t l, j, j0, j1, jq, rp, qp, ind, i
    cdef uint8_t q
    cdef uint64_t frag = 0
    cdef bint have_frag = False
    cdef int32_t dist, cycle
    # aligned query range (pysam query_alignment_start/end): soft clips at either end
    for k in range(n_cigar):
        op = cigar[k] & 0xf
        if op == S:
            qstart += cigar[k] >> 4
        elif op != H:
            break
    for k in range(n_cigar - 1, -1, -1):
        op = cigar[k] & 0xf
        if op == S:
            qend -= cigar[k] >> 4
        elif op != H:
            break
    for k in range(n_cigar):
        op = cigar[k] & 0xf
        l = cigar[k] >> 4
        if _is_match(op):
            j0 = start - x if start > x else 0
            j1 = end - x if end - x < l else l
            # bases with a quality (a record shorter than its CIGAR has none past lq): the hot
            # loop then needs no per-base bounds check
            jq = lq - y if lq - y < j1 else j1
            for j in range(j0, jq):
                qp = y + j
                q = qual[qp]
                if q < min_bq:
                    continue
                i = x + j - start
                a = NT16_ALLELE[bam_seqi(seq, qp)]
                counts[(i * 6 + a) * 2] += 1
                qual_sum[i * 6 + a] += q
                err_sum[i] += err[q]
                if a < 4 and a != ref[i]:
                    if not have_frag:
                        frag = rc_fragment_id(bam_get_qname(b))
                        have_frag = True
                    dist = <int32_t> min(qp - qstart, qend - 1 - qp)
                    cycle = <int32_t> (lq - 1 - qp if strand else qp)
                    add_obs(&r.snv, x + j, a, strand, dist, cycle, q, frag, r)
            if min_bq <= 0:  # past the sequence: quality 0, base N (counted only at -Q 0)
                for j in range(jq if jq > j0 else j0, j1):
                    i = x + j - start
                    counts[(i * 6 + 4) * 2] += 1
                    err_sum[i] += err[0]
            # the indel that follows this op, seen at its last base (if inside the region and
            # counted: htslib reports it with that base)
            if j0 < j1 and j1 == l:
                qp = y + l - 1
                q = qual[qp] if qp < lq else 0
                if q >= min_bq:
                    ind = peek_indel(cigar, k, n_cigar, op)
                    if ind != 0:
                        if not have_frag:
                            frag = rc_fragment_id(bam_get_qname(b))
                            have_frag = True
                        dist = <int32_t> min(qp - qstart, qend - 1 - qp)
                        cycle = <int32_t> (lq - 1 - qp if strand else qp)
                        add_obs(&r.indel, x + l - 1, <int32_t> ind, strand, dist, cycle, q,
                                frag, r)
                        if ind > 0:
                            add_inserted(&r.indel, seq, qp + 1, ind, r)
            x += l
            y += l
        elif op == D:
            # a read spanning a deletion counts as '*' where its next base passes the quality
            # threshold (htslib's qpos for a deletion is the query base after it)
            j0 = start - x if start > x else 0
            j1 = end - x if end - x < l else l
            for j in range(j0, j1):
                rp = x + j
                q = (dq[y] if rp < dq_before else qual[y]) if y < lq else 0
                if q < min_bq:
                    continue
                i = rp - start
                counts[(i * 6 + 5) * 2] += 1
                qual_sum[i * 6 + 5] += q
                err_sum[i] += err[q]
                if j == l - 1:
                    ind = peek_indel(cigar, k, n_cigar, op)
                    if ind > 0:  # an insertion right after the deletion, anchored on it
                        if not have_frag:
                            frag = rc_fragment_id(bam_get_qname(b))
                            have_frag = True
                        dist = <int32_t> min(y - qstart, qend - 1 - y)
                        cycle = <int32_t> (lq - 1 - y if strand else y)
                        add_obs(&r.indel, rp, <int32_t> ind, strand, dist, cycle, q, frag, r)
                        add_inserted(&r.indel, seq, y, ind, r)
            x += l
        elif op == N:
            x += l  # spliced: not a base, not depth
        elif op == I or op == S:
            y += l


cdef int64_t ref_end(bam1_t *b) noexcept nogil:
    """Reference end (exclusive) from the CIGAR, as htslib's bam_cigar2rlen."""
    cdef uint32_t *cigar = bam_get_cigar(b)
    cdef int64_t rlen = 0
    cdef int k, op
    for k in range(b.core.n_cigar):
        op = cigar[k] & 0xf
        if _is_match(op) or op == D or op == N:
            rlen += cigar[k] >> 4
    return b.core.pos + rlen


# ---------------------------------------------------------------------------------------------
# overlapping mates: reads waiting for their mate
# ---------------------------------------------------------------------------------------------

cdef struct Waiting:
    bam1_t *b           # the read's record, taken from the reader (not copied); NULL: gone
    int64_t end         # its reference end
    uint32_t key        # rc_name_hash of its name (low 32 bits)


cdef struct Slot:
    # one entry of the name table. Why key and record here and not only the id: a lookup or
    # a deletion then touches the table and the waiting record, not also `w` (at ~16,000x some
    # 50,000 reads wait at once and each extra random access is a cache miss)
    uint32_t key
    int32_t id          # index into Mates.w; -1: empty
    bam1_t *b


cdef struct Mates:
    # Why not a khash of read names to copied records (the former code): at ~16,000x nearly
    # every amplicon read waits for its mate, and hashing + strcmp of the name at each get, put
    # and delete, re-inserting every waiting name at each sweep, and a malloc + copy of each
    # waiting record cost about as much as counting the bases.
    Waiting *w          # by id; an id is reused only after a sweep took it out of `order`
    int32_t *order      # ids in arrival order (paired ones too, until the next sweep): a sweep
                        # counts the reads it releases in this order, as the former code did
    int32_t *free_ids   # ids to reuse
    int n               # entries in `order`
    int live            # reads waiting
    int nfree
    int nid             # ids handed out so far
    int cap             # capacity of w, order and free_ids
    # read names: open addressing on `key`, linear probing, at most half full; a key match is
    # confirmed with strcmp (names are compared exactly, as before)
    Slot *table
    uint32_t mask
    Records *pool       # where the records of released reads go


cdef struct Records:
    # records to read into, shared by the regions of a pass: a read that waits keeps its record
    # and the reader gets a spare one (no copy, no allocation once there are as many records as
    # reads waiting at once)
    bam1_t **spare
    int nspare
    int nrec            # records allocated
    int capspare        # capacity of `spare` (>= nrec: give_record cannot fail)


cdef int table_alloc(Mates *m, uint32_t size) noexcept nogil:
    cdef uint32_t s
    m.table = <Slot *> malloc(size * sizeof(Slot))
    if m.table == NULL:
        return -1
    m.mask = size - 1
    for s in range(size):
        m.table[s].id = -1
    return 0


cdef int mates_init(Mates *m, Records *pool) noexcept nogil:
    m.w = NULL
    m.order = NULL
    m.free_ids = NULL
    m.n = m.live = m.nfree = m.nid = m.cap = 0
    m.pool = pool
    return table_alloc(m, 4096)


cdef void mates_free(Mates *m) noexcept nogil:
    cdef int i
    for i in range(m.nid):
        if m.w[i].b != NULL:
            bam_destroy1(m.w[i].b)
    free(m.w)
    free(m.order)
    free(m.free_ids)
    free(m.table)
    m.w = NULL
    m.order = NULL
    m.free_ids = NULL
    m.table = NULL
    m.nid = 0


cdef int table_find(Mates *m, uint32_t key, const char *name) noexcept nogil:
    """Table slot of the waiting read called ``name``, or -1."""
    cdef uint32_t s = key & m.mask
    while m.table[s].id >= 0:
        if m.table[s].key == key and strcmp(bam_get_qname(m.table[s].b), name) == 0:
            return <int> s
        s = (s + 1) & m.mask
    return -1


cdef int table_slot(Mates *m, int32_t i) noexcept nogil:
    """Table slot of waiting id ``i`` (which is in the table)."""
    cdef uint32_t s = m.w[i].key & m.mask
    while m.table[s].id != i:
        s = (s + 1) & m.mask
    return <int> s


cdef void table_remove(Mates *m, uint32_t s) noexcept nogil:
    """Empty slot ``s``, moving later entries of its probe run back (no tombstones)."""
    cdef uint32_t j = s, home
    while True:
        j = (j + 1) & m.mask
        if m.table[j].id < 0:
            break
        home = m.table[j].key & m.mask
        if ((j - home) & m.mask) >= ((j - s) & m.mask):  # s lies on j's probe path
            m.table[s] = m.table[j]
            s = j
    m.table[s].id = -1


cdef void table_put(Mates *m, uint32_t key, int32_t i, bam1_t *b) noexcept nogil:
    cdef uint32_t s = key & m.mask
    while m.table[s].id >= 0:
        s = (s + 1) & m.mask
    m.table[s].key = key
    m.table[s].id = i
    m.table[s].b = b


cdef int table_grow(Mates *m) noexcept nogil:
    """Double the table (keys are stored: nothing is hashed again)."""
    cdef Slot *old = m.table
    cdef uint32_t s, size = m.mask + 1
    if table_alloc(m, 2 * size) < 0:
        m.table = old
        return -1
    for s in range(size):
        if old[s].id >= 0:
            table_put(m, old[s].key, old[s].id, old[s].b)
    free(old)
    return 0


cdef int wait_for_mate(Mates *m, bam1_t *b, int64_t end, uint32_t key) noexcept nogil:
    """Keep ``b`` (its record, now owned here) until its mate comes or a sweep releases it."""
    cdef int32_t i
    cdef int cap
    cdef Waiting *w
    cdef int32_t *order
    cdef int32_t *free_ids
    if 2 * <uint32_t> (m.live + 1) > m.mask + 1 and table_grow(m) < 0:
        return -1
    if m.nfree:
        m.nfree -= 1
        i = m.free_ids[m.nfree]
    else:
        if m.nid == m.cap:
            cap = m.cap * 2 if m.cap else 1024
            w = <Waiting *> realloc(m.w, cap * sizeof(Waiting))
            if w == NULL:
                return -1
            m.w = w
            order = <int32_t *> realloc(m.order, cap * sizeof(int32_t))
            if order == NULL:
                return -1
            m.order = order
            free_ids = <int32_t *> realloc(m.free_ids, cap * sizeof(int32_t))
            if free_ids == NULL:
                return -1
            m.free_ids = free_ids
            m.cap = cap
        i = m.nid
        m.nid += 1
    m.w[i].b = b
    m.w[i].end = end
    m.w[i].key = key
    m.order[m.n] = i
    m.n += 1
    m.live += 1
    table_put(m, key, i, b)
    return 0


cdef bam1_t *take_record(Records *p) noexcept nogil:
    """A record to read into: a spare one, else a new one (NULL when out of memory)."""
    cdef bam1_t **spare
    cdef bam1_t *b
    cdef int cap
    if p.nspare:
        p.nspare -= 1
        return p.spare[p.nspare]
    if p.nrec == p.capspare:  # room to give every record back
        cap = p.capspare * 2 if p.capspare else 1024
        spare = <bam1_t **> realloc(p.spare, cap * sizeof(bam1_t *))
        if spare == NULL:
            return NULL
        p.spare = spare
        p.capspare = cap
    b = bam_init1()
    if b != NULL:
        p.nrec += 1
    return b


cdef inline void give_record(Records *p, bam1_t *b) noexcept nogil:
    p.spare[p.nspare] = b
    p.nspare += 1


cdef void records_free(Records *p) noexcept nogil:
    cdef int i
    for i in range(p.nspare):
        bam_destroy1(p.spare[i])
    free(p.spare)


cdef void sweep(Mates *m, int64_t before, Region *r) noexcept nogil:
    """Count and release waiting reads that end at or before ``before`` (their mate, if it
    comes, cannot overlap them any more, so htslib would not change their qualities)."""
    cdef int k, kept = 0
    cdef int32_t i
    for k in range(m.n):
        i = m.order[k]
        if m.w[i].b != NULL and m.w[i].end > before:
            m.order[kept] = i
            kept += 1
            continue
        if m.w[i].b != NULL:
            table_remove(m, table_slot(m, i))
            count_read(m.w[i].b, r, NULL, -1)
            give_record(m.pool, m.w[i].b)
            m.w[i].b = NULL
            m.live -= 1
        m.free_ids[m.nfree] = i
        m.nfree += 1
    m.n = kept


cdef int pair_read(bam1_t *b, Mates *m, Region *r, int64_t prev_pos,
                   uint8_t **orig, int64_t *orig_cap) noexcept nogil:
    """htslib's overlap_push for one passing read ``b``: count it now, or keep it waiting for its
    mate, or adjust both mates' qualities and count both. ``prev_pos``: start of the previous
    passing read. Returns 1 when ``b`` was kept (its record is the region's now), 0 when not,
    -1 when out of memory."""
    cdef bam1_t *a
    cdef int s
    cdef int32_t i
    cdef int flag = b.core.flag
    cdef int64_t b_end = ref_end(b)
    cdef int64_t seen
    cdef uint32_t key
    cdef const char *name
    # only proper pairs on one contig that can overlap
    if (flag & F_MUNMAP or not flag & F_PROPER
            or (b.core.mtid >= 0 and b.core.tid != b.core.mtid)
            or (llabs(b.core.isize) >= 2 * b.core.l_qseq and b.core.mpos >= b_end)):
        count_read(b, r, NULL, -1)
        return 0
    name = bam_get_qname(b)
    key = <uint32_t> rc_name_hash(name)
    s = table_find(m, key, name)
    if s >= 0:
        i = m.table[s].id
        a = m.table[s].b
        table_remove(m, s)
        m.w[i].b = NULL  # its id is freed by the next sweep
        m.live -= 1
        # htslib adjusts both mates when it reads b, and emits pileup column d right after
        # reading the first read that starts beyond d: a deletion column d of a emitted before
        # b was read saw a's unadjusted next base (d < seen).
        seen = prev_pos if b.core.pos != prev_pos else b.core.pos
        if a.core.l_qseq > orig_cap[0]:
            orig_cap[0] = a.core.l_qseq
            orig[0] = <uint8_t *> realloc(orig[0], orig_cap[0])
            if orig[0] == NULL:
                return -1
        memcpy(orig[0], bam_get_qual(a), a.core.l_qseq)
        rc_tweak_overlap_quality(a, b)
        count_read(a, r, orig[0], seen)
        count_read(b, r, NULL, -1)
        give_record(m.pool, a)
        return 0
    if not (b.core.mpos >= b.core.pos or (flag & F_PAIRED and b.core.mpos == -1)):
        count_read(b, r, NULL, -1)
        return 0
    # the mate is still to come: wait for it
    return -1 if wait_for_mate(m, b, b_end, key) < 0 else 1


cdef struct RegionPass:
    # one region's counting while the reads of its contig stream past
    Region r
    Mates m             # its reads waiting for their mate (ignore_overlaps)
    int64_t next_sweep
    int64_t prev_pos    # start of its previous passing read
    int state           # 0 no read yet, 1 counting, 2 finished (no later read can reach it)


cdef int count_in(RegionPass *p, bam1_t *b, bint overlaps, Records *pool, uint8_t **orig,
                  int64_t *orig_cap) noexcept nogil:
    """One passing read of the region: as pair_read (1: the region kept ``b``)."""
    cdef int64_t pos = b.core.pos
    cdef int kept = 0
    if not overlaps:
        count_read(b, &p.r, NULL, -1)
    else:
        if p.state == 0:
            if mates_init(&p.m, pool) < 0:
                return -1
            p.state = 1
        if p.m.n > p.next_sweep:
            sweep(&p.m, pos, &p.r)
            p.next_sweep = max(1024, 2 * p.m.live)
        kept = pair_read(b, &p.m, &p.r, p.prev_pos, orig, orig_cap)
    p.prev_pos = pos
    return kept


cdef void finish(RegionPass *p) noexcept nogil:
    """No later read reaches the region: count the reads whose mate never came."""
    if p.state == 1:
        sweep(&p.m, INT64_MAX, &p.r)
        mates_free(&p.m)
    p.state = 2


def count_regions(
    Reader reads,
    str contig,
    const int64_t[::1] starts,
    const int64_t[::1] ends,
    list ref_alleles,
    list counts,
    list qual_sum,
    list err_sum,
    const double[::1] err_table,
    int flag_filter,
    int min_mapq,
    int min_bq,
    bint ignore_overlaps,
    bint ignore_orphans,
):
    """Count the reads of ``reads`` over the regions ``[starts[k], ends[k])`` of ``contig``
    (sorted, disjoint) into the arrays of each region (``ref_alleles[k]``, ``counts[k]``, ...).

    One pass over the contig's reads (htslib's multi-region iterator: each BGZF block
    decompressed and each record decoded once; one query per region re-read the reads and
    blocks neighbouring regions share: ~15% of counting CPU at ~14,000x). A CRAM is counted
    one region per call (one query each). Each region still
    sees exactly the reads a query of its own returns (those overlapping it, in file order),
    with its own mate pairing: a read overlapping several regions is counted in each, from its
    own copy. Returns, per region, ``(snv_obs, indel_obs, inserted)``: dicts of numpy arrays
    (pos, kind, strand, dist, cycle, qual, frag) for every counted non-reference A/C/G/T base
    and every indel event, and the inserted bases of insertion events as one bytes object
    (``boff`` offsets in ``indel_obs``; ``kind`` is the signed length).
    """
    cdef Py_ssize_t k, nreg = starts.shape[0]
    cdef Py_ssize_t first = 0, last
    cdef RegionPass *passes = NULL
    cdef RegionPass *p
    cdef Records pool
    cdef hts_itr_t *itr = NULL
    cdef bam1_t *b = NULL
    cdef bam1_t *c
    cdef int flag, kept, ret = -1, oom = 0
    cdef htsFile *fp = reads.fp
    cdef int64_t beg, rend, i, n
    cdef uint8_t *orig = NULL
    cdef int64_t orig_cap = 0
    cdef const uint8_t[::1] ref_k
    cdef int32_t[:, :, ::1] counts_k
    cdef double[:, ::1] qual_k
    cdef double[::1] err_k
    cdef double *qs
    cdef bytes cname = contig.encode()  # the iterator points at it while it lives
    if ends.shape[0] != nreg or not (len(ref_alleles) == len(counts) == len(qual_sum)
                                     == len(err_sum) == nreg):
        raise ValueError("one start, end and set of arrays per region")
    for k in range(nreg):
        if ends[k] <= starts[k] or (k and starts[k] < ends[k - 1]):
            raise ValueError("regions must be non-empty, sorted and disjoint")
    if err_table.shape[0] != 256:
        raise ValueError("err_table must have 256 entries")
    if reads.is_cram and nreg > 1:
        # htslib 1.16's multi-region iterator skipped most reads of a region of a CRAM here
        # (the 16k resistant BAM as CRAM: 74 bases counted instead of 2.8 M); one query each
        raise ValueError("a CRAM is counted one region per call")
    if nreg <= 0:
        return []
    pool.spare = NULL
    pool.nspare = pool.nrec = pool.capspare = 0
    passes = <RegionPass *> calloc(<size_t> nreg, sizeof(RegionPass))
    if passes == NULL:
        raise MemoryError()
    try:
        for k in range(nreg):
            n = ends[k] - starts[k]
            ref_k = ref_alleles[k]
            counts_k = counts[k]
            qual_k = qual_sum[k]
            err_k = err_sum[k]
            if (ref_k.shape[0] != n or counts_k.shape[0] != n or qual_k.shape[0] != n
                    or err_k.shape[0] != n):
                raise ValueError(f"array shapes do not match region {k}")
            p = &passes[k]
            p.r.start = starts[k]
            p.r.end = ends[k]
            p.r.min_bq = min_bq
            p.r.ref = &ref_k[0]  # the arrays live in the caller's lists
            p.r.counts = &counts_k[0, 0, 0]
            p.r.qual_sum = <int64_t *> calloc(n * 6, sizeof(int64_t))
            if p.r.qual_sum == NULL:
                raise MemoryError()
            p.r.err_sum = &err_k[0]
            p.r.err = &err_table[0]
            p.next_sweep = 1024
            p.prev_pos = -1
        if nreg == 1:
            itr = reads.query(contig, starts[0], ends[0])
        else:
            itr = reads.query_many(cname, starts, ends)
        b = bam_init1()
        if b == NULL:
            raise MemoryError()
        with nogil:  # other threads count other BAMs meanwhile
            while True:
                ret = sam_itr_next(fp, itr, b)
                if ret < 0:
                    break
                beg = b.core.pos
                while first < nreg and ends[first] <= beg:  # reads sorted: no later read
                    finish(&passes[first])                  # reaches this region
                    first += 1
                flag = b.core.flag
                if flag & flag_filter or b.core.tid < 0 or b.core.qual < min_mapq:
                    continue
                if ignore_orphans and flag & F_PAIRED and not flag & F_PROPER:
                    continue
                # the regions a query of their own returns b for: htslib's overlap test on
                # [pos, bam_endpos) (ends[k] > beg holds for every k >= first)
                rend = bam_endpos(b)
                last = first
                while last < nreg and starts[last] < rend:
                    last += 1
                for k in range(first, last - 1):  # in several regions: a copy for each but
                    c = take_record(&pool)         # the last (a region may keep or adjust it)
                    if c == NULL or bam_copy1(c, b) == NULL:
                        if c != NULL:
                            give_record(&pool, c)
                        oom = 1
                        break
                    kept = count_in(&passes[k], c, ignore_overlaps, &pool, &orig, &orig_cap)
                    if kept == 0:
                        give_record(&pool, c)
                    elif kept < 0:
                        give_record(&pool, c)
                        oom = 1
                        break
                if oom:
                    break
                if last > first:
                    kept = count_in(&passes[last - 1], b, ignore_overlaps, &pool, &orig,
                                    &orig_cap)
                    if kept == 1:  # the region keeps b: read on into another record
                        b = take_record(&pool)
                    if kept < 0 or b == NULL:
                        oom = 1
                        break
            if ret == -1 and not oom:
                for k in range(first, nreg):
                    finish(&passes[k])
        check_end(reads, ret if not oom else -1)
        if oom:
            raise MemoryError()
        out = []
        for k in range(nreg):
            p = &passes[k]
            if p.r.failed:
                raise MemoryError()
            qual_k = qual_sum[k]
            qs = &qual_k[0, 0]
            for i in range((ends[k] - starts[k]) * 6):
                qs[i] += p.r.qual_sum[i]
            snv = obs_arrays(&p.r.snv)
            indel = obs_arrays(&p.r.indel)
            indel["boff"] = np.empty(p.r.indel.n, dtype=np.int64)
            if p.r.indel.n:
                _copy(indel["boff"], p.r.indel.boff, p.r.indel.n * sizeof(int64_t))
            inserted = p.r.indel.bases[:p.r.indel.nb] if p.r.indel.nb else b""
            out.append((snv, indel, inserted))
        return out
    finally:
        bam_destroy1(b)
        if itr != NULL:
            hts_itr_destroy(itr)
        for k in range(nreg):
            p = &passes[k]
            if p.state == 1:
                mates_free(&p.m)
            free(p.r.qual_sum)
            obs_free(&p.r.snv)
            obs_free(&p.r.indel)
        free(passes)
        records_free(&pool)
        free(orig)


# ---------------------------------------------------------------------------------------------
# fragment spans (copy number)
# ---------------------------------------------------------------------------------------------

def fragment_spans(
    Reader reads,
    str contig,
    const int64_t[::1] win_start,
    const int64_t[::1] win_end,
    int skip,
    int min_mapq,
    int64_t max_fragment,
):
    """Starts, ends and duplicate flags of the fragments counted from reads starting in one of
    the windows ``[win_start[i], win_end[i])`` of ``contig`` (sorted, disjoint), in one pass.

    The rules are ``resistcall.coverage.fragment_spans``'s (read there why): a proper pair is
    counted once from its leftmost mate as ``[pos, pos + |TLEN|)``; other reads their own span.
    A read overlapping a window but starting before it is not counted from it. The flag is the
    counted read's duplicate bit (always 0 when ``skip`` leaves duplicates out).
    """
    cdef hts_itr_t *itr = NULL
    cdef bam1_t *b = NULL
    cdef int flag, ret = -1, oom = 0
    cdef htsFile *fp = reads.fp
    cdef Py_ssize_t w = 0, nw = win_start.shape[0]
    cdef int64_t pos, tlen, mpos, n = 0, cap = 4096
    cdef int64_t *starts = <int64_t *> malloc(cap * sizeof(int64_t))
    cdef int64_t *ends = <int64_t *> malloc(cap * sizeof(int64_t))
    cdef uint8_t *dups = <uint8_t *> malloc(cap * sizeof(uint8_t))
    cdef int64_t span_end
    cdef bint keep
    cdef bytes cname = contig.encode()  # the iterator points at it while it lives
    if win_end.shape[0] != nw:
        raise ValueError("window starts and ends differ in length")
    for w in range(nw):
        if win_end[w] <= win_start[w] or (w and win_start[w] < win_end[w - 1]):
            raise ValueError("windows must be non-empty, sorted and disjoint")
    if reads.is_cram and nw > 1:
        # htslib 1.16's multi-region iterator skips reads of a CRAM (count_regions); one query each
        raise ValueError("a CRAM is read one window per call")
    w = 0
    try:
        if starts == NULL or ends == NULL or dups == NULL:
            raise MemoryError()
        if nw == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0, np.bool_)
        if nw == 1:  # as count_regions: a CRAM is read one window per call, with a plain query
            itr = reads.query(contig, win_start[0], win_end[0])
        else:
            itr = reads.query_many(cname, win_start, win_end)
        b = bam_init1()
        if b == NULL:
            raise MemoryError()
        with nogil:  # other threads count other BAMs meanwhile
            while True:
                ret = sam_itr_next(fp, itr, b)
                if ret < 0:
                    break
                flag = b.core.flag
                if flag & skip:
                    continue
                pos = b.core.pos
                while w < nw and win_end[w] <= pos:
                    w += 1
                if w == nw or pos < win_start[w]:  # starts before its window: too long to count
                    continue
                keep = False
                span_end = -1
                if flag & F_PAIRED and not flag & F_MUNMAP:
                    tlen = llabs(b.core.isize)
                    if 0 < tlen <= max_fragment and b.core.mtid == b.core.tid:
                        mpos = b.core.mpos
                        if mpos < pos or (mpos == pos and flag & F_READ2):
                            continue  # the other mate stands for this fragment
                        if b.core.qual >= min_mapq:
                            span_end = pos + tlen
                        keep = True
                    elif flag & F_READ2:
                        continue
                if not keep and b.core.qual >= min_mapq:
                    span_end = ref_end(b)
                    if span_end == pos:
                        span_end = pos + 1  # pysam reference_end of a read without ref span
                if span_end < 0:
                    continue
                if n == cap:
                    cap *= 2
                    starts = <int64_t *> realloc(starts, cap * sizeof(int64_t))
                    ends = <int64_t *> realloc(ends, cap * sizeof(int64_t))
                    dups = <uint8_t *> realloc(dups, cap * sizeof(uint8_t))
                    if starts == NULL or ends == NULL or dups == NULL:
                        oom = 1
                        break
                starts[n] = pos
                ends[n] = span_end
                dups[n] = (flag & F_DUP) != 0
                n += 1
        if oom:
            raise MemoryError()
        check_end(reads, ret)
        out_s = np.empty(n, dtype=np.int64)
        out_e = np.empty(n, dtype=np.int64)
        out_d = np.empty(n, dtype=np.bool_)
        if n:
            _copy(out_s, starts, n * sizeof(int64_t))
            _copy(out_e, ends, n * sizeof(int64_t))
            _copy(out_d, dups, n * sizeof(uint8_t))
        return out_s, out_e, out_d
    finally:
        bam_destroy1(b)
        if itr != NULL:
            hts_itr_destroy(itr)
        free(starts)
        free(ends)
        free(dups)


# ---------------------------------------------------------------------------------------------
# base depth (QC target depth, exon scope, fusion breakpoint depth)
# ---------------------------------------------------------------------------------------------

def base_depth(Reader reads, str contig, int64_t start, int64_t end, int skip):
    """(depth, reads): reads with an A/C/G/T base aligned (CIGAR M/=/X) at each position of
    ``[start, end)``, and the number of reads the region's query returned that pass ``skip``.

    What pysam's ``count_coverage(..., quality_threshold=0)`` summed over the four bases gives,
    one pass over the reads in C: reads with a flag in ``skip`` are left out, every other read
    counts (overlapping mates twice, deletions and N bases not at all).
    """
    cdef int64_t n = end - start
    if n <= 0:
        raise ValueError("empty region")
    out = np.zeros(n, dtype=np.int32)
    cdef int32_t[::1] depth = out
    cdef hts_itr_t *itr = NULL
    cdef bam1_t *b = NULL
    cdef uint32_t *cigar
    cdef uint8_t *seq
    cdef int k, op, ret = -1
    cdef htsFile *fp = reads.fp
    cdef int64_t x, y, l, j, j0, j1, n_reads = 0
    try:
        itr = reads.query(contig, start, end)
        b = bam_init1()
        if b == NULL:
            raise MemoryError()
        with nogil:
            while True:
                ret = sam_itr_next(fp, itr, b)
                if ret < 0:
                    break
                if b.core.flag & skip:
                    continue
                n_reads += 1
                cigar = bam_get_cigar(b)
                seq = bam_get_seq(b)
                x = b.core.pos
                y = 0
                for k in range(b.core.n_cigar):
                    op = cigar[k] & 0xf
                    l = cigar[k] >> 4
                    if _is_match(op):
                        j0 = max(x, start)
                        j1 = min(x + l, end)
                        for j in range(j0, j1):
                            if NT16_ALLELE[bam_seqi(seq, y + j - x)] < 4:
                                depth[j - start] += 1
                        x += l
                        y += l
                    elif op == I or op == S:
                        y += l
                    elif op == D or op == N:
                        x += l
                    if x >= end:
                        break
        check_end(reads, ret)
        return out, n_reads
    finally:
        bam_destroy1(b)
        if itr != NULL:
            hts_itr_destroy(itr)
