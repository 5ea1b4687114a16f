# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""``decode --format jsonl`` straight from the walked records: one bytes buffer per call.

The records' items are formatted from their bytes by programs that gateway/render.py compiles
from the category definitions (this file knows no item of any category), to the very text
the reference codec + ``json.dumps`` give: the same keys in the same order, ints as ints,
floats as ``repr`` prints them, strings escaped as ``json.dumps`` (ensure_ascii) escapes them.
No Python object is made per record.  Every read is checked against the end of its item
(which the walker has already bounds-checked): a program that does not fit its item is
reported as an error value, never read past.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy
from libc.math cimport isinf, isnan, signbit
from cpython.buffer cimport PyBuffer_FillInfo
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free


cdef extern from "Python.h":
    char* PyOS_double_to_string(double val, char format_code, int precision, int flags,
                                int* ptype) except NULL
    int Py_DTSF_ADD_DOT_0


cdef extern from *:
    """
    #include <math.h>
    #include <stdint.h>
    #include <string.h>

    /* repr(v) of a finite, non-zero double when its exact decimal value is also its shortest
       round-trip form (true of quantities that are small integers times a power-of-two LSB,
       most of what ASTERIX carries); -1 when that cannot be shown, for the caller to fall
       back on CPython's own repr.  See jsonl_fast_repr_doc in ext/jsonl.pyx. */
    static const uint64_t JSONL_POW5[28] = {
        1ULL, 5ULL, 25ULL, 125ULL, 625ULL, 3125ULL, 15625ULL, 78125ULL, 390625ULL,
        1953125ULL, 9765625ULL, 48828125ULL, 244140625ULL, 1220703125ULL, 6103515625ULL,
        30517578125ULL, 152587890625ULL, 762939453125ULL, 3814697265625ULL,
        19073486328125ULL, 95367431640625ULL, 476837158203125ULL, 2384185791015625ULL,
        11920928955078125ULL, 59604644775390625ULL, 298023223876953125ULL,
        1490116119384765625ULL, 7450580596923828125ULL};
    #define JSONL_MAX_N 100000000000000000ULL  /* 10^17: more digits are never shortest */

    static int jsonl_fast_repr(double v, char* out) {
        char digits[24];
        char* o = out;
        int e2, k, nd, decpt, i, p, x;
        uint64_t M, N;
        double m;
        if (v < 0) { *o++ = '-'; v = -v; }
        m = frexp(v, &e2);                  /* v = m * 2^e2, 0.5 <= m < 1 */
        if (e2 < -1000 || e2 > 1000) return -1;
        M = (uint64_t)ldexp(m, 53);         /* v = M * 2^(e2-53), exactly */
        {
            int E = e2 - 53, tz = __builtin_ctzll(M);
            M >>= tz;
            E += tz;
            if (E >= 0) {
                if (E > 56 || M > (JSONL_MAX_N >> E)) return -1;
                N = M << E;
                k = 0;
            } else {
                k = -E;
                if (k > 27 || M > JSONL_MAX_N / JSONL_POW5[k]) return -1;
                N = M * JSONL_POW5[k];      /* v = N * 10^-k, exactly */
            }
        }
        while (N % 10 == 0) { N /= 10; k--; }
        /* Shortest iff every string of fewer digits (a multiple of 10^(p+1), p = -k, at
           least 10^p away) lies outside the half-ulp interval: 10^p > 2^(e2-54). */
        p = -k;
        if (!((double)p * 3.321928094887362 > (double)(e2 - 54) + 1e-6)) return -1;
        nd = 0;
        while (N) { digits[nd++] = (char)('0' + N % 10); N /= 10; }
        for (i = 0; i < nd / 2; i++) {
            char t = digits[i]; digits[i] = digits[nd - 1 - i]; digits[nd - 1 - i] = t;
        }
        decpt = nd - k;                     /* v = 0.d1d2... * 10^decpt */
        if (decpt <= -4 || decpt > 16) {    /* repr's exponent form: d[.ddd]e[+-]XX */
            *o++ = digits[0];
            if (nd > 1) { *o++ = '.'; memcpy(o, digits + 1, nd - 1); o += nd - 1; }
            x = decpt - 1;
            *o++ = 'e';
            *o++ = x < 0 ? '-' : '+';
            if (x < 0) x = -x;
            if (x >= 100) { *o++ = (char)('0' + x / 100); x %= 100; }
            *o++ = (char)('0' + x / 10);
            *o++ = (char)('0' + x % 10);
        } else if (decpt <= 0) {
            *o++ = '0'; *o++ = '.';
            for (i = 0; i < -decpt; i++) *o++ = '0';
            memcpy(o, digits, nd); o += nd;
        } else if (decpt >= nd) {
            memcpy(o, digits, nd); o += nd;
            for (i = 0; i < decpt - nd; i++) *o++ = '0';
            *o++ = '.'; *o++ = '0';
        } else {
            memcpy(o, digits, decpt); o += decpt;
            *o++ = '.';
            memcpy(o, digits + decpt, nd - decpt); o += nd - decpt;
        }
        return (int)(o - out);
    }
    """
    int jsonl_fast_repr(double v, char* out) noexcept nogil


# Node kinds, element kinds and table widths: the numbers of gateway/render.py.
cdef enum:
    N_FIXED = 0      # a: bytes, b: first op, c: op count, d: 1 = a bare element value
    N_EXTENDED = 1   # a: first part, b: part count
    N_REPFX = 2      # a: bytes a copy (FX last), b: first op, c: op count, d: bare
    N_REP = 3        # a: the fixed node of one copy
    N_COMPOUND = 4   # a: first slot, b: slot count
    N_EXPLICIT = 5
    NODE_WIDTH = 5

cdef enum:
    E_INT = 0        # raw integer (signed: two's complement)
    E_FLOAT = 1      # raw * scale as a float
    E_INTMUL = 2     # raw * an integer scale
    E_HEX = 3
    E_OCTAL = 4
    E_ICAO = 5
    E_ASCII = 6
    E_CASE = 7       # the scale chosen by an earlier sibling element's value
    E_OPEN = 8       # a named group: key and "{"
    E_CLOSE = 9
    OP_WIDTH = 8     # kind, bit, bits, key, signed, scale (E_CASE: choice count), aux1, aux2
    PART_WIDTH = 3   # bytes, first op, op count
    SLOT_WIDTH = 2   # key, node (-1: unused slot)
    CHOICE_WIDTH = 3 # selector value, scale, 1 = integer scale

cdef char ICAO_CHARS[64]
cdef const char* HEXDIGITS = b"0123456789ABCDEF"
cdef const char* ESCHEX = b"0123456789abcdef"


def set_icao_chars(bytes table):
    """Install the ICAO 6-bit character table (gateway.asterix.codec.ICAO_CHARS)."""
    if len(table) != 64:
        raise ValueError("the ICAO character table has 64 entries")
    memcpy(ICAO_CHARS, <const char*>table, 64)


cdef struct Out:
    char* p
    Py_ssize_t n
    Py_ssize_t cap


cdef int grow(Out* o, Py_ssize_t need) except -1:
    cdef Py_ssize_t cap = o.cap * 2 if o.cap else 1 << 16
    cdef char* p
    while cap < o.n + need:
        cap *= 2
    p = <char*>realloc(o.p, cap)
    if p == NULL:
        raise MemoryError()
    o.p = p
    o.cap = cap
    return 0


cdef inline int reserve(Out* o, Py_ssize_t need) except -1:
    if o.n + need > o.cap:
        return grow(o, need)
    return 0


cdef inline int put(Out* o, const char* s, Py_ssize_t n) except -1:
    reserve(o, n)
    memcpy(o.p + o.n, s, n)
    o.n += n
    return 0


cdef inline int put_int(Out* o, int64_t v) except -1:
    cdef char tmp[24]
    cdef int i = 24
    cdef uint64_t u = <uint64_t>(-v) if v < 0 else <uint64_t>v
    while True:
        i -= 1
        tmp[i] = <char>(48 + u % 10)
        u //= 10
        if u == 0:
            break
    if v < 0:
        i -= 1
        tmp[i] = b'-'
    return put(o, tmp + i, 24 - i)


cdef int put_float(Out* o, double v) except -1:
    """What ``json.dumps`` writes for a float: its repr (NaN and Infinity as json spells them)."""
    cdef int n
    cdef char* s
    reserve(o, 32)
    if isnan(v):
        return put(o, b"NaN", 3)
    if isinf(v):
        return put(o, b"-Infinity", 9) if v < 0 else put(o, b"Infinity", 8)
    if v == 0:
        return put(o, b"-0.0", 4) if signbit(v) else put(o, b"0.0", 3)
    n = jsonl_fast_repr(v, o.p + o.n)
    if n >= 0:
        o.n += n
        return 0
    s = PyOS_double_to_string(v, b'r', 0, Py_DTSF_ADD_DOT_0, NULL)
    try:
        n = 0
        while s[n]:
            n += 1
        put(o, s, n)
    finally:
        PyMem_Free(s)
    return 0


# The buffer of the last Lines freed, for the next render to write into: a decode writes
# chunk after chunk of about the same size, and fresh pages of that size cost more to fault
# in and zero than the formatting itself.
cdef char* spare_p = NULL
cdef Py_ssize_t spare_cap = 0


cdef class Lines:
    """The JSON lines of one render: a read-only bytes-like buffer (write it, or bytes())."""
    cdef Out o

    def __dealloc__(self):
        global spare_p, spare_cap
        if self.o.p != NULL:
            if spare_p == NULL:
                spare_p, spare_cap = self.o.p, self.o.cap
            else:
                free(self.o.p)
            self.o.p = NULL

    def __getbuffer__(self, Py_buffer* view, int flags):
        PyBuffer_FillInfo(view, self, self.o.p, self.o.n, 1, flags)

    def __releasebuffer__(self, Py_buffer* view):
        pass

    def __len__(self):
        return self.o.n


def format_float(double v):
    """The text ``put_float`` writes, for the tests to hold against ``repr``."""
    cdef Out o
    o.p = NULL
    o.n = o.cap = 0
    try:
        put_float(&o, v)
        return PyBytes_FromStringAndSize(o.p, o.n)
    finally:
        free(o.p)


cdef int put_string(Out* o, const uint8_t* s, Py_ssize_t n) except -1:
    """A JSON string as ``json.dumps`` (ensure_ascii) writes a latin-1 text."""
    cdef Py_ssize_t i
    cdef uint8_t c
    reserve(o, 2 + 6 * n)
    o.p[o.n] = b'"'
    o.n += 1
    for i in range(n):
        c = s[i]
        if c >= 32 and c <= 126 and c != 34 and c != 92:
            o.p[o.n] = <char>c
            o.n += 1
        elif c == 34 or c == 92:
            o.p[o.n] = b'\\'
            o.p[o.n + 1] = <char>c
            o.n += 2
        elif c == 10 or c == 13 or c == 9 or c == 8 or c == 12:
            o.p[o.n] = b'\\'
            o.p[o.n + 1] = b'n' if c == 10 else b'r' if c == 13 else b't' if c == 9 else (
                b'b' if c == 8 else b'f')
            o.n += 2
        else:
            memcpy(o.p + o.n, b"\\u00", 4)
            o.p[o.n + 4] = ESCHEX[c >> 4]
            o.p[o.n + 5] = ESCHEX[c & 15]
            o.n += 6
    o.p[o.n] = b'"'
    o.n += 1
    return 0


cdef inline uint64_t bits_at(const uint8_t* p, int bit, int bits) noexcept nogil:
    """``bits`` bits from bit ``bit`` of p, big-endian (the compiler keeps bit%8+bits <= 64)."""
    cdef uint64_t v = 0
    cdef int i, start = bit >> 3, nbytes = ((bit & 7) + bits + 7) >> 3
    for i in range(nbytes):
        v = (v << 8) | p[start + i]
    v >>= nbytes * 8 - (bit & 7) - bits
    if bits < 64:
        v &= ((<uint64_t>1) << bits) - 1
    return v


cdef inline int64_t as_signed(uint64_t raw, int bits) noexcept nogil:
    if bits >= 64 or not (raw >> (bits - 1)) & 1:
        return <int64_t>raw
    return <int64_t>raw - ((<int64_t>1) << bits)


cdef class Program:
    """One category's formatting tables (see gateway/render.py ``json_program``)."""
    cdef object keep
    cdef const int32_t* frn_node
    cdef const int32_t* item_key
    cdef Py_ssize_t nuap
    cdef const int32_t* nodes
    cdef const int32_t* ops
    cdef const int32_t* parts
    cdef const int32_t* slots
    cdef const int32_t* choices
    cdef const double* scales
    cdef const int32_t* lit_off
    cdef const char* lits
    cdef public int category

    def __init__(self, int category, tuple tables, bytes lits):
        """``tables``: per FRN its node and item key, then nodes, ops, parts, slots and
        choices (int32, flattened), scales (float64) and literal offsets (int32)."""
        cdef const int32_t[::1] frn_node, item_key, nodes, ops, parts, slots, choices, lit_off
        cdef const double[::1] scales
        frn_node, item_key, nodes, ops, parts, slots, choices, scales, lit_off = tables
        if lit_off.shape[0] < 1 or lit_off[lit_off.shape[0] - 1] != len(lits):
            raise ValueError("literal offsets do not match the literals")
        if frn_node.shape[0] != item_key.shape[0]:
            raise ValueError("one item key per FRN")
        self.keep = (frn_node, item_key, nodes, ops, parts, slots, choices, scales, lit_off,
                     lits)
        self.category = category
        self.nuap = frn_node.shape[0]
        self.frn_node = &frn_node[0] if frn_node.shape[0] else NULL
        self.item_key = &item_key[0] if item_key.shape[0] else NULL
        self.nodes = &nodes[0] if nodes.shape[0] else NULL
        self.ops = &ops[0] if ops.shape[0] else NULL
        self.parts = &parts[0] if parts.shape[0] else NULL
        self.slots = &slots[0] if slots.shape[0] else NULL
        self.choices = &choices[0] if choices.shape[0] else NULL
        self.scales = &scales[0] if scales.shape[0] else NULL
        self.lit_off = &lit_off[0]
        self.lits = lits

    cdef inline int lit(self, Out* o, int32_t i) except -1:
        return put(o, self.lits + self.lit_off[i], self.lit_off[i + 1] - self.lit_off[i])

    cdef int element(self, Out* o, const int32_t* op, const uint8_t* p,
                     const int32_t* scope) except -1:
        """One element's value (its key already written); ``scope`` is its field list."""
        cdef int kind = op[0], bits = op[2], i, n, width
        cdef uint64_t raw = bits_at(p, op[1], bits)
        cdef int64_t value
        cdef uint64_t selector
        cdef const int32_t* sel
        cdef const int32_t* ch
        cdef char tmp[32]
        cdef uint8_t text[16]
        if kind == E_INT:
            return put_int(o, as_signed(raw, bits) if op[4] else <int64_t>raw)
        value = as_signed(raw, bits) if op[4] else <int64_t>raw
        if kind == E_FLOAT:
            return put_float(o, <double>value * self.scales[op[5]])
        if kind == E_INTMUL:
            return put_int(o, value * <int64_t>self.scales[op[5]])
        if kind == E_CASE:
            if op[6] >= 0:
                sel = scope + op[6] * OP_WIDTH
                selector = bits_at(p, sel[1], sel[2])
                for i in range(op[5]):
                    ch = self.choices + (op[7] + i) * CHOICE_WIDTH
                    if <uint64_t>ch[0] == selector:
                        if ch[2]:
                            return put_int(o, value * <int64_t>self.scales[ch[1]])
                        return put_float(o, <double>value * self.scales[ch[1]])
            return put_int(o, value)
        if kind == E_HEX:
            width = (bits + 3) // 4
            reserve(o, width + 2)
            o.p[o.n] = b'"'
            for i in range(width):
                o.p[o.n + 1 + i] = HEXDIGITS[(raw >> (4 * (width - 1 - i))) & 15]
            o.p[o.n + 1 + width] = b'"'
            o.n += width + 2
            return 0
        if kind == E_OCTAL:
            n = 0
            width = bits // 3 if bits >= 3 else 1
            while raw or n < width:
                tmp[31 - n] = <char>(48 + (raw & 7))
                raw >>= 3
                n += 1
            reserve(o, n + 2)
            o.p[o.n] = b'"'
            memcpy(o.p + o.n + 1, tmp + 32 - n, n)
            o.p[o.n + 1 + n] = b'"'
            o.n += n + 2
            return 0
        if kind == E_ICAO:
            width = bits // 6
            for i in range(width):
                text[i] = ICAO_CHARS[(raw >> (6 * (width - 1 - i))) & 0x3F]
            while width > 0 and text[width - 1] == 32:
                width -= 1
            return put_string(o, text, width)
        # E_ASCII: latin-1 bytes, trailing spaces and NULs removed
        width = bits // 8
        for i in range(width):
            text[i] = <uint8_t>((raw >> (8 * (width - 1 - i))) & 0xFF)
        while width > 0 and (text[width - 1] == 32 or text[width - 1] == 0):
            width -= 1
        return put_string(o, text, width)

    cdef int fields(self, Out* o, const int32_t* first, int32_t count,
                    const uint8_t* p) except -1:
        """A field list's keys and values (group braces included), keys carrying their
        separators: which are first in their dict is known when the tables are compiled."""
        cdef int32_t i
        cdef const int32_t* op
        cdef const int32_t* scope = first
        cdef const int32_t* stack[16]
        cdef int depth = 0
        for i in range(count):
            op = first + i * OP_WIDTH
            if op[0] == E_OPEN:
                self.lit(o, op[3])
                stack[depth] = scope
                depth += 1
                scope = op + OP_WIDTH
            elif op[0] == E_CLOSE:
                put(o, b"}", 1)
                depth -= 1
                scope = stack[depth]
            else:
                self.lit(o, op[3])
                self.element(o, op, p, scope)
        return 0

    cdef Py_ssize_t body(self, Out* o, int32_t node, const uint8_t* p,
                         Py_ssize_t avail) except -2:
        """Write one item (or subitem) body at p; return the bytes it took, or -1 when its
        layout runs past ``avail`` (then nothing sensible was written)."""
        cdef const int32_t* n = self.nodes + node * NODE_WIDTH
        cdef const int32_t* part
        cdef const int32_t* slot
        cdef Py_ssize_t pos, size, fspec_end, i, count
        cdef int b, first
        cdef int kind = n[0]
        if kind == N_FIXED:
            if n[1] > avail:
                return -1
            if n[4]:
                self.element(o, self.ops + n[2] * OP_WIDTH, p, self.ops + n[2] * OP_WIDTH)
            else:
                put(o, b"{", 1)
                self.fields(o, self.ops + n[2] * OP_WIDTH, n[3], p)
                put(o, b"}", 1)
            return n[1]
        if kind == N_EXTENDED:
            put(o, b"{", 1)
            pos = 0
            i = 0
            while True:
                if i < n[2]:
                    part = self.parts + (n[1] + i) * PART_WIDTH
                    size = part[0]
                    if pos + size > avail:
                        return -1
                    self.fields(o, self.ops + part[1] * OP_WIDTH, part[2], p + pos)
                else:
                    size = 1  # an extension this edition does not define: skipped
                    if pos + size > avail:
                        return -1
                pos += size
                i += 1
                if not (p[pos - 1] & 1):
                    break
            put(o, b"}", 1)
            return pos
        if kind == N_REPFX:
            put(o, b"[", 1)
            pos = 0
            while True:
                if pos + n[1] > avail:
                    return -1
                if pos:
                    put(o, b", ", 2)
                if n[4]:
                    self.element(o, self.ops + n[2] * OP_WIDTH, p + pos,
                                 self.ops + n[2] * OP_WIDTH)
                else:
                    put(o, b"{", 1)
                    self.fields(o, self.ops + n[2] * OP_WIDTH, n[3], p + pos)
                    put(o, b"}", 1)
                pos += n[1]
                if not (p[pos - 1] & 1):
                    break
            put(o, b"]", 1)
            return pos
        if kind == N_REP:
            if avail < 1:
                return -1
            count = p[0]
            pos = 1
            put(o, b"[", 1)
            for i in range(count):
                if i:
                    put(o, b", ", 2)
                size = self.body(o, n[1], p + pos, avail - pos)
                if size < 0:
                    return -1
                pos += size
            put(o, b"]", 1)
            return pos
        if kind == N_EXPLICIT:
            if avail < 1 or p[0] < 1 or p[0] > avail:
                return -1
            size = p[0]
            reserve(o, 2 * size + 2)
            o.p[o.n] = b'"'
            o.n += 1
            for i in range(1, size):
                o.p[o.n] = HEXDIGITS[p[i] >> 4]
                o.p[o.n + 1] = HEXDIGITS[p[i] & 15]
                o.n += 2
            o.p[o.n] = b'"'
            o.n += 1
            return size
        # N_COMPOUND: a sub-FSPEC, then the subitems it marks
        fspec_end = 0
        while True:
            if fspec_end >= avail:
                return -1
            fspec_end += 1
            if not (p[fspec_end - 1] & 1):
                break
        pos = fspec_end
        first = 1
        put(o, b"{", 1)
        for i in range(fspec_end):
            for b in range(7):
                if p[i] & (0x80 >> b):
                    if i * 7 + b >= n[2]:
                        return -1
                    slot = self.slots + (n[1] + i * 7 + b) * SLOT_WIDTH
                    if slot[1] < 0:
                        return -1
                    if not first:
                        put(o, b", ", 2)
                    first = 0
                    self.lit(o, slot[0])
                    size = self.body(o, slot[1], p + pos, avail - pos)
                    if size < 0:
                        return -1
                    pos += size
        put(o, b"}", 1)
        return pos


cdef struct Rows:
    void* prog  # the batch's Program, kept alive by the caller's list
    Py_ssize_t n
    const int64_t* rec_offset
    const int32_t* rec_length
    const double* t_capture
    const uint16_t* item_start
    const uint16_t* item_length
    Py_ssize_t nfrn
    const int32_t* sac
    Py_ssize_t sac_stride
    const uint8_t* sac_present
    Py_ssize_t sacp_stride
    const int32_t* sic
    Py_ssize_t sic_stride
    const uint8_t* sic_present
    Py_ssize_t sicp_stride


cdef inline int put_optional(Out* o, const int32_t* values, Py_ssize_t vstride,
                             const uint8_t* present, Py_ssize_t pstride,
                             Py_ssize_t row) except -1:
    if present[row * pstride]:
        return put_int(o, values[row * vstride])
    return put(o, b"null", 4)


def render(const uint8_t[::1] data, list batches, const int32_t[::1] which,
           const int64_t[::1] rows):
    """JSON lines of records ``rows[i]`` of ``batches[which[i]]``, in that order (Lines).

    Each batch is (Program, rec_offset, rec_length, t_capture, item_start, item_length,
    sac, sac_present, sic, sic_present), its arrays those of a gateway.decoder.Batch
    (presence as uint8).  Raises ValueError if an item does not fit its program, which the
    walker's checks rule out (they are derived from the same definitions).
    """
    cdef Py_ssize_t nb = len(batches), i, f, row, size, length, nrec = which.shape[0]
    cdef Py_ssize_t start, item_len, item_start
    cdef Lines lines = Lines()
    cdef Out* op = &lines.o
    cdef Rows* rs
    cdef Program prog
    cdef list progs = []
    cdef list keep = []
    cdef const int64_t[::1] a_off
    cdef const int32_t[::1] a_len
    cdef const double[::1] a_t
    cdef const uint16_t[:, ::1] a_start, a_ilen
    cdef const int32_t[:] a_sac, a_sic
    cdef const uint8_t[:] a_sacp, a_sicp
    cdef const uint8_t* base = &data[0] if data.shape[0] else NULL
    cdef double last_t = 0, t
    cdef Py_ssize_t last_t_at = -1, last_t_len = 0, b
    cdef int first
    cdef char head[16]
    if rows.shape[0] != nrec:
        raise ValueError("which and rows differ in length")
    global spare_p, spare_cap
    rs = <Rows*>malloc(max(nb, 1) * sizeof(Rows))
    if rs == NULL:
        raise MemoryError()
    op.p, op.cap, op.n = spare_p, spare_cap, 0
    spare_p, spare_cap = NULL, 0
    try:
        reserve(op, 1)
        for b in range(nb):
            (prog, a_off, a_len, a_t, a_start, a_ilen, a_sac, a_sacp, a_sic,
             a_sicp) = batches[b]
            keep.append((a_off, a_len, a_t, a_start, a_ilen, a_sac, a_sacp, a_sic, a_sicp))
            progs.append(prog)
            size = a_off.shape[0]
            rs[b].prog = <void*>prog
            rs[b].n = size
            if (a_len.shape[0] != size or a_t.shape[0] != size or a_start.shape[0] != size
                    or a_ilen.shape[0] != size or a_sac.shape[0] != size
                    or a_sacp.shape[0] != size or a_sic.shape[0] != size
                    or a_sicp.shape[0] != size or a_start.shape[1] != prog.nuap
                    or a_ilen.shape[1] != prog.nuap):
                raise ValueError("batch arrays differ in length")
            rs[b].rec_offset = &a_off[0] if size else NULL
            rs[b].rec_length = &a_len[0] if size else NULL
            rs[b].t_capture = &a_t[0] if size else NULL
            rs[b].item_start = &a_start[0, 0] if size and prog.nuap else NULL
            rs[b].item_length = &a_ilen[0, 0] if size and prog.nuap else NULL
            rs[b].nfrn = prog.nuap
            rs[b].sac = &a_sac[0] if size else NULL
            rs[b].sac_stride = a_sac.strides[0] // sizeof(int32_t)
            rs[b].sac_present = &a_sacp[0] if size else NULL
            rs[b].sacp_stride = a_sacp.strides[0]
            rs[b].sic = &a_sic[0] if size else NULL
            rs[b].sic_stride = a_sic.strides[0] // sizeof(int32_t)
            rs[b].sic_present = &a_sicp[0] if size else NULL
            rs[b].sicp_stride = a_sicp.strides[0]
            if a_sac.strides[0] % sizeof(int32_t) or a_sic.strides[0] % sizeof(int32_t):
                raise ValueError("misaligned SAC/SIC columns")
        for i in range(nrec):
            b = which[i]
            row = rows[i]
            if b < 0 or b >= nb or row < 0 or row >= rs[b].n:
                raise ValueError("record index outside its batch")
            prog = <Program>rs[b].prog
            start = rs[b].rec_offset[row]
            length = rs[b].rec_length[row]
            if start < 0 or length < 0 or start + length > data.shape[0]:
                raise ValueError("record outside the data")
            put(op, b'{"cat": ', 8)
            put_int(op, prog.category)
            put(op, b', "sac": ', 9)
            put_optional(op, rs[b].sac, rs[b].sac_stride, rs[b].sac_present,
                         rs[b].sacp_stride, row)
            put(op, b', "sic": ', 9)
            put_optional(op, rs[b].sic, rs[b].sic_stride, rs[b].sic_present,
                         rs[b].sicp_stride, row)
            put(op, b', "t_capture": ', 15)
            t = rs[b].t_capture[row]
            if isnan(t):
                put(op, b"null", 4)
            elif last_t_at >= 0 and t == last_t:
                # records of one datagram share its time: copy its text from the last line
                reserve(op, last_t_len)
                memcpy(op.p + op.n, op.p + last_t_at, last_t_len)
                last_t_at = op.n
                op.n += last_t_len
            else:
                last_t_at = op.n
                put_float(op, t)
                last_t_len = op.n - last_t_at
                last_t = t
            put(op, b', "len": ', 9)
            put_int(op, length)
            put(op, b', "items": {', 12)
            first = 1
            for f in range(prog.nuap):
                item_start = rs[b].item_start[row * rs[b].nfrn + f]
                if not item_start:
                    continue
                if prog.frn_node[f] < 0:
                    raise ValueError(f"FRN {f + 1} has no item")
                item_len = rs[b].item_length[row * rs[b].nfrn + f]
                if item_start + item_len > length:
                    raise ValueError("item outside its record")
                if not first:
                    put(op, b", ", 2)
                first = 0
                prog.lit(op, prog.item_key[f])
                size = prog.body(op, prog.frn_node[f], base + start + item_start, item_len)
                if size != item_len:
                    raise ValueError(f"CAT{prog.category:03d} FRN {f + 1}: {item_len} bytes "
                                     f"walked, {size} formatted")
            put(op, b"}}\n", 3)
        return lines
    finally:
        free(rs)
