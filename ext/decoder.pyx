# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The hot path: walk datablocks and records, and extract columns, from integer tables.

Everything here is driven by tables that gateway/asterix/layout.py derives from the category
definitions; this file knows no item of any category.  Every read is checked against the end
of its block before it is made: hostile input can only produce counted problems.
"""

from libc.math cimport NAN
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint64_t
from libc.string cimport memcpy, memset


cdef extern from *:
    """
    #define bswap64(x) __builtin_bswap64(x)
    """
    uint64_t bswap64(uint64_t x) noexcept nogil

import numpy as np

# Node kinds, extraction kinds: the numbers of gateway/asterix/layout.py.
cdef enum:
    K_FIXED = 0
    K_EXTENDED = 1    # also FX-chained repetitions: parts of n[1] octets, then of n[2]
    K_REP = 2
    K_COMPOUND = 3
    K_EXPLICIT = 4
    NODE_WIDTH = 5
    MAX_COLUMNS = 256
    SPEC_WIDTH = 8

cdef enum:
    X_UINT = 0
    X_INT = 1
    X_UQ = 2
    X_SQ = 3
    X_ICAO = 4
    X_ASCII = 5

# Problem kinds, in the order of PROBLEMS.
cdef enum:
    P_BLOCK_TRUNCATED = 0
    P_BLOCK_LENGTH = 1
    P_UNKNOWN_CATEGORY = 2
    P_FSPEC_OVERRUN = 3
    P_UNDEFINED_ITEM = 4
    P_ITEM_OVERRUN = 5
    P_EXPLICIT_LENGTH = 6
    P_EMPTY_RECORD = 7
    P_UNDEFINED_SUBFIELD = 8
    P_COUNT = 9

PROBLEMS = (
    "block-truncated",      # block header or LEN runs past the end of the datagram
    "block-length",         # LEN below 3
    "unknown-category",     # a category this decoder has no definition for (block skipped)
    "fspec-overrun",        # an FSPEC whose FX chain runs past the block
    "undefined-item",       # FSPEC marks an FRN the UAP leaves undefined
    "item-overrun",         # an item (or repetition, or subfield) runs past the block
    "explicit-length",      # an SP/RE length octet of 0
    "empty-record",         # an FSPEC marking no item at all
    "undefined-subfield",   # a compound sub-FSPEC marks an unused slot
)

cdef char ICAO_CHARS[64]  # set from gateway.asterix.codec.ICAO_CHARS: one definition


def set_icao_chars(bytes table):
    """Install the ICAO 6-bit character table (64 characters) the extractor uses."""
    if len(table) != 64:
        raise ValueError("the ICAO character table has 64 entries")
    memcpy(ICAO_CHARS, <const char*>table, 64)


cdef inline Py_ssize_t fspec_length(const uint8_t* p, Py_ssize_t avail) noexcept nogil:
    """Octets of the FSPEC at p (FX-chained), or -1 when the chain runs past ``avail``."""
    cdef Py_ssize_t n = 0
    while True:
        if n >= avail:
            return -1
        n += 1
        if not (p[n - 1] & 1):
            return n


cdef Py_ssize_t item_length(const uint8_t* p, Py_ssize_t avail, const int32_t* nodes,
                            const int32_t* children, int32_t node, int* problem) noexcept nogil:
    """Length of the item at p, or -1 with *problem set when it cannot be whole."""
    cdef const int32_t* n = nodes + node * NODE_WIDTH
    cdef Py_ssize_t pos, size, fspec_end, i
    cdef int b
    cdef int32_t child
    cdef int kind = n[0]
    if kind == K_FIXED:
        size = n[1]
        if size > avail:
            problem[0] = P_ITEM_OVERRUN
            return -1
        return size
    if kind == K_EXTENDED:
        pos = n[1]
        if pos > avail:
            problem[0] = P_ITEM_OVERRUN
            return -1
        while p[pos - 1] & 1:
            pos += n[2]
            if pos > avail:
                problem[0] = P_ITEM_OVERRUN
                return -1
        return pos
    if kind == K_REP:
        if avail < 1:
            problem[0] = P_ITEM_OVERRUN
            return -1
        size = 1 + <Py_ssize_t>p[0] * n[1]
        if size > avail:
            problem[0] = P_ITEM_OVERRUN
            return -1
        return size
    if kind == K_EXPLICIT:
        if avail < 1:
            problem[0] = P_ITEM_OVERRUN
            return -1
        size = p[0]
        if size == 0:
            problem[0] = P_EXPLICIT_LENGTH
            return -1
        if size > avail:
            problem[0] = P_ITEM_OVERRUN
            return -1
        return size
    # K_COMPOUND: sub-FSPEC, then the subitems it marks
    fspec_end = fspec_length(p, avail)
    if fspec_end < 0:
        problem[0] = P_ITEM_OVERRUN
        return -1
    pos = fspec_end
    for i in range(fspec_end):
        if not (p[i] & 0xFE):
            continue
        for b in range(7):
            if p[i] & (0x80 >> b):
                if i * 7 + b >= n[4]:
                    problem[0] = P_UNDEFINED_SUBFIELD
                    return -1
                child = children[n[3] + i * 7 + b]
                if child < 0:
                    problem[0] = P_UNDEFINED_SUBFIELD
                    return -1
                size = item_length(p + pos, avail - pos, nodes, children, child, problem)
                if size < 0:
                    return -1
                pos += size
    return pos


cdef Py_ssize_t subfield_offset(const uint8_t* p, Py_ssize_t length, const int32_t* nodes,
                                const int32_t* children, int32_t node, int slot,
                                Py_ssize_t* sublen) noexcept nogil:
    """Offset of compound subitem ``slot`` inside a (whole, already checked) compound item."""
    cdef const int32_t* n = nodes + node * NODE_WIDTH
    cdef Py_ssize_t fspec_end = fspec_length(p, length), pos, size, i
    cdef int b, problem = 0
    if fspec_end < 0 or slot // 7 >= fspec_end or not (p[slot // 7] & (0x80 >> (slot % 7))):
        return -1
    pos = fspec_end
    for i in range(fspec_end):
        for b in range(7):
            if p[i] & (0x80 >> b):
                size = item_length(p + pos, length - pos, nodes, children,
                                   children[n[3] + i * 7 + b], &problem)
                if size < 0:
                    return -1
                if i * 7 + b == slot:
                    sublen[0] = size
                    return pos
                pos += size
    return -1


cdef struct Table:
    const int32_t* uap
    Py_ssize_t nuap
    const int32_t* nodes
    const int32_t* children
    const int32_t* spec     # per column: frn slot byte bit bits kind destination need
    const double* scales
    Py_ssize_t ncols
    Py_ssize_t kind_end[6]  # columns are sorted by kind: kind k ends at kind_end[k]


cdef class _Rows:
    """Growing per-category output of the walk: rows of item offsets and of column values."""
    cdef public object rec_offset, rec_length, datagram, item_start, item_length
    cdef public object ints, floats, chars, present
    cdef int64_t[::1] r_off
    cdef int32_t[::1] r_len
    cdef int32_t[::1] r_dg
    cdef uint16_t[:, ::1] i_off
    cdef uint16_t[:, ::1] i_len
    cdef int32_t[:, ::1] v_int
    cdef double[:, ::1] v_float
    cdef uint8_t[:, ::1] v_char
    cdef uint8_t[:, ::1] v_present
    cdef public Py_ssize_t n
    cdef Py_ssize_t cap, first_cap, nfrn, nint, nfloat, nchar, ncol

    def __init__(self, Py_ssize_t nfrn, Py_ssize_t nint, Py_ssize_t nfloat, Py_ssize_t nchar,
                 Py_ssize_t ncol, Py_ssize_t cap):
        # Nothing is allocated until the first record: a live decode call is one datagram,
        # mostly of one category, and nine arrays for each category it does not hold were
        # a third of the call (issue 16).  A category without records keeps None arrays
        # (n == 0: the caller skips it).
        self.nfrn, self.nint, self.nfloat, self.nchar, self.ncol = nfrn, nint, nfloat, nchar, ncol
        self.n = 0
        self.cap = 0
        self.first_cap = max(cap, 16)

    cdef _alloc(self, Py_ssize_t cap):
        # Rows are fully written by the walk, so fresh memory needs no initialising.
        def grow(a, shape, dtype):
            b = np.empty(shape, dtype=dtype)
            if a is not None:
                b[:self.n] = a[:self.n]
            return b
        self.rec_offset = grow(self.rec_offset, (cap,), np.int64)
        self.rec_length = grow(self.rec_length, (cap,), np.int32)
        self.datagram = grow(self.datagram, (cap,), np.int32)
        self.item_start = grow(self.item_start, (cap, self.nfrn), np.uint16)
        self.item_length = grow(self.item_length, (cap, self.nfrn), np.uint16)
        self.ints = grow(self.ints, (cap, max(self.nint, 1)), np.int32)
        self.floats = grow(self.floats, (cap, max(self.nfloat, 1)), np.float64)
        self.chars = grow(self.chars, (cap, max(self.nchar, 1)), np.uint8)
        self.present = grow(self.present, (cap, max(self.ncol, 1)), np.uint8)
        self.r_off = self.rec_offset
        self.r_len = self.rec_length
        self.r_dg = self.datagram
        self.i_off = self.item_start
        self.i_len = self.item_length
        self.v_int = self.ints
        self.v_float = self.floats
        self.v_char = self.chars
        self.v_present = self.present
        self.cap = cap


cdef inline uint64_t read_bits(const uint8_t* p, const uint8_t* limit, int bit,
                               int bits) noexcept nogil:
    """``bits`` bits from bit ``bit`` of p (big-endian); never reads at or past ``limit``."""
    cdef int nbytes, i
    cdef uint64_t v = 0
    if bit + bits <= 64 and p + 8 <= limit:
        memcpy(&v, p, 8)  # one unaligned load where eight bytes are known to be there
        v = bswap64(v) >> (64 - bit - bits)
    else:
        nbytes = (bit + bits + 7) >> 3
        for i in range(nbytes):
            v = (v << 8) | p[i]
        v >>= (nbytes * 8 - bit - bits)
    if bits < 64:
        v &= ((<uint64_t>1) << bits) - 1
    return v


cdef inline int64_t signed(uint64_t raw, int bits) noexcept nogil:
    """Two's complement of a ``bits``-wide field."""
    return <int64_t>raw - ((<int64_t>(raw >> (bits - 1))) << bits)


cdef void extract_row(const uint8_t* rec, const uint8_t* limit, const uint16_t* start_row,
                      const uint16_t* len_row, const Table* t, int32_t* ints, double* floats,
                      uint8_t* chars, uint8_t* present) noexcept nogil:
    """Fill one row's column values from its record's (already bounds-checked) items.

    First where each column's bytes are (or that they are absent), then one tight loop per
    kind of column: no per-column dispatch for the branch predictor to miss.
    """
    cdef Py_ssize_t c, length, sublen = 0, k, first
    cdef const int32_t* s
    cdef int width
    cdef const uint8_t* p
    cdef const uint8_t* at[MAX_COLUMNS]
    cdef uint64_t raw
    cdef uint8_t* out
    for c in range(t.ncols):
        s = t.spec + c * SPEC_WIDTH
        at[c] = NULL
        if start_row[s[0]]:
            p = rec + start_row[s[0]]
            length = len_row[s[0]]
            if s[1] >= 0:
                k = subfield_offset(p, length, t.nodes, t.children, t.uap[s[0]], s[1], &sublen)
                if k >= 0:
                    p += k
                    length = sublen
                else:
                    length = -1
            if s[7] <= length:
                at[c] = p + s[2]
        present[c] = at[c] != NULL
    for c in range(0, t.kind_end[X_UINT]):
        s = t.spec + c * SPEC_WIDTH
        ints[s[6]] = <int32_t>read_bits(at[c], limit, s[3], s[4]) if at[c] else 0
    for c in range(t.kind_end[X_UINT], t.kind_end[X_INT]):
        s = t.spec + c * SPEC_WIDTH
        if at[c]:
            ints[s[6]] = <int32_t>signed(read_bits(at[c], limit, s[3], s[4]), s[4])
        else:
            ints[s[6]] = 0
    for c in range(t.kind_end[X_INT], t.kind_end[X_UQ]):
        s = t.spec + c * SPEC_WIDTH
        floats[s[6]] = read_bits(at[c], limit, s[3], s[4]) * t.scales[c] if at[c] else NAN
    for c in range(t.kind_end[X_UQ], t.kind_end[X_SQ]):
        s = t.spec + c * SPEC_WIDTH
        if at[c]:
            floats[s[6]] = signed(read_bits(at[c], limit, s[3], s[4]), s[4]) * t.scales[c]
        else:
            floats[s[6]] = NAN
    for c in range(t.kind_end[X_SQ], t.kind_end[X_ICAO]):
        s = t.spec + c * SPEC_WIDTH
        width = s[4] // 6
        out = chars + s[6]
        if not at[c]:
            memset(out, 0, width)
            continue
        raw = read_bits(at[c], limit, s[3], s[4])
        for k in range(width):
            out[k] = ICAO_CHARS[(raw >> (6 * (width - 1 - k))) & 0x3F]
        k = width
        while k > 0 and out[k - 1] == 32:
            out[k - 1] = 0
            k -= 1
    for c in range(t.kind_end[X_ICAO], t.kind_end[X_ASCII]):
        s = t.spec + c * SPEC_WIDTH
        width = s[4] // 8
        out = chars + s[6]
        if not at[c]:
            memset(out, 0, width)
            continue
        memcpy(out, at[c], width)
        k = width
        while k > 0 and (out[k - 1] == 32 or out[k - 1] == 0):
            out[k - 1] = 0
            k -= 1


cdef Py_ssize_t walk_record(const uint8_t* base, Py_ssize_t start, Py_ssize_t end,
                            const Table* t, uint16_t* off_row, uint16_t* len_row,
                            int* problem) noexcept nogil:
    """Walk one record at base[start:end]; fill its item table row; return its length.

    Item starts are relative to the record (0 = absent: the FSPEC is always at 0); a
    record lies in one datablock, so they fit 16 bits.
    """
    cdef const uint8_t* p = base + start
    cdef Py_ssize_t avail = end - start, fspec_end = 0, pos, size, i, frn
    cdef int b, found = 0
    cdef int32_t node
    cdef uint8_t octet
    memset(off_row, 0, t.nuap * sizeof(uint16_t))
    fspec_end = fspec_length(p, avail)
    if fspec_end < 0:
        problem[0] = P_FSPEC_OVERRUN
        return -1
    pos = fspec_end
    for i in range(fspec_end):
        octet = p[i]
        if not (octet & 0xFE):
            continue
        for b in range(7):
            if octet & (0x80 >> b):
                frn = i * 7 + b
                if frn >= t.nuap or t.uap[frn] < 0:
                    problem[0] = P_UNDEFINED_ITEM
                    return -1
                node = t.uap[frn]
                if t.nodes[node * NODE_WIDTH] == K_FIXED:
                    size = t.nodes[node * NODE_WIDTH + 1]
                    if size > avail - pos:
                        problem[0] = P_ITEM_OVERRUN
                        return -1
                else:
                    size = item_length(p + pos, avail - pos, t.nodes, t.children, node, problem)
                    if size < 0:
                        return -1
                off_row[frn] = <uint16_t>pos
                len_row[frn] = <uint16_t>size
                pos += size
                found = 1
    if not found:
        problem[0] = P_EMPTY_RECORD
        return -1
    return pos


def walk(const uint8_t[::1] buf, const int64_t[::1] starts, const int32_t[::1] cat_index,
         list tables, int64_t[::1] problems):
    """Walk every datagram buf[starts[d]:starts[d+1]]; return per-category rows and counts.

    ``cat_index`` maps a category number to its position in ``tables`` (-1: unknown, a
    problem; -2: known but not wanted, skipped silently).  ``tables`` holds, per category,
    (uap, nodes, children, spec, scales, nint, nfloat, nchar) with int32 arrays from
    gateway/asterix/layout.py.  Problems add into ``problems``.
    Returns (list of _Rows per table, blocks walked).
    """
    cdef Py_ssize_t ndg = starts.shape[0] - 1, d, pos, end, rpos, bend, size, length
    cdef Py_ssize_t ntab = len(tables), i, c, k
    cdef int kind
    cdef int problem, ci
    cdef int64_t blocks = 0
    cdef const uint8_t* base = &buf[0] if buf.shape[0] else NULL
    cdef const int32_t[::1] a_uap, a_nodes, a_children, a_spec
    cdef const double[::1] a_scales
    cdef Table ctab[256]
    cdef _Rows rows
    cdef list out = [], keep = []
    if ntab > 256:
        raise ValueError("at most 256 categories")
    for i in range(ntab):
        a_uap, a_nodes, a_children, a_spec, a_scales, nint, nfloat, nchar = tables[i]
        keep.append((a_uap, a_nodes, a_children, a_spec, a_scales))
        ctab[i].uap = &a_uap[0]
        ctab[i].nuap = a_uap.shape[0]
        ctab[i].nodes = &a_nodes[0]
        ctab[i].children = &a_children[0]
        ctab[i].spec = &a_spec[0] if a_spec.shape[0] else NULL
        ctab[i].scales = &a_scales[0] if a_scales.shape[0] else NULL
        ctab[i].ncols = a_spec.shape[0] // SPEC_WIDTH
        if ctab[i].ncols > MAX_COLUMNS:
            raise ValueError(f"at most {MAX_COLUMNS} columns a category")
        for k in range(6):
            ctab[i].kind_end[k] = 0
        for c in range(ctab[i].ncols):
            kind = a_spec[c * SPEC_WIDTH + 5]
            if kind < 0 or kind > 5 or (c and kind < a_spec[(c - 1) * SPEC_WIDTH + 5]):
                raise ValueError("column specs must be sorted by kind")
            for k in range(kind, 6):
                ctab[i].kind_end[k] = c + 1
        out.append(_Rows(a_uap.shape[0], nint, nfloat, nchar, ctab[i].ncols,
                         buf.shape[0] // 16 + 16))
    for d in range(ndg):
        pos = starts[d]
        end = starts[d + 1]
        if pos < 0 or end > buf.shape[0] or pos > end:
            raise ValueError("datagram bounds outside the buffer")
        while pos < end:
            if end - pos < 3:
                problems[P_BLOCK_TRUNCATED] += 1
                break
            length = (<Py_ssize_t>base[pos + 1] << 8) | base[pos + 2]
            if length < 3:
                problems[P_BLOCK_LENGTH] += 1
                break
            if length > end - pos:
                problems[P_BLOCK_TRUNCATED] += 1
                break
            blocks += 1
            ci = cat_index[base[pos]]
            if ci < 0:
                if ci == -1:
                    problems[P_UNKNOWN_CATEGORY] += 1
                pos += length
                continue
            rows = out[ci]
            rpos = pos + 3
            bend = pos + length
            while rpos < bend:
                if rows.n == rows.cap:
                    rows._alloc(rows.cap * 2 if rows.cap else rows.first_cap)
                problem = 0
                size = walk_record(base, rpos, bend, &ctab[ci], &rows.i_off[rows.n, 0],
                                   &rows.i_len[rows.n, 0], &problem)
                if size < 0:
                    problems[problem] += 1
                    break
                extract_row(base + rpos, base + buf.shape[0], &rows.i_off[rows.n, 0], &rows.i_len[rows.n, 0], &ctab[ci],
                            &rows.v_int[rows.n, 0], &rows.v_float[rows.n, 0],
                            &rows.v_char[rows.n, 0], &rows.v_present[rows.n, 0])
                rows.r_off[rows.n] = rpos
                rows.r_len[rows.n] = <int32_t>size
                rows.r_dg[rows.n] = <int32_t>d
                rows.n += 1
                rpos += size
            pos = bend
    return out, blocks
