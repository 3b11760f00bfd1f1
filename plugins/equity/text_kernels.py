"""Compiled loops over the bytes of Arrow text columns, for the row rules and the key hashes.

A fixed-width code, a national ID's check digit or a date is a handful of byte comparisons per row;
numpy spells each as a pass over a byte matrix with temporaries in between, which made the rules
the client's largest cost. These kernels (numba, compiled once per machine and cached beside this
file) read each value in place through the column's offsets in one pass, and release the GIL, so
psycopg's writer thread keeps sending while they run.

Every kernel takes a column as `(offsets, data, valid)` from `buffers()`: value i is
`data[offsets[i]:offsets[i + 1]]`, and `valid[i]` is false for a null.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if "NUMBA_CACHE_DIR" not in os.environ and not os.access(Path(__file__).parent, os.W_OK):
    # A read-only install (the compose file mounts plugins/ read-only): cache the compiled kernels
    # where this user can write, or every process would compile them again.
    os.environ["NUMBA_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / "equity-numba-cache")

import llvmlite.ir as ir  # noqa: E402
from numba import njit, types  # noqa: E402  (reads NUMBA_CACHE_DIR when first imported)
from numba.extending import intrinsic  # noqa: E402

_EMPTY = np.zeros(0, np.uint8)


def buffers(col) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A text column's (offsets, data, valid) as numpy views: no copy of the values."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    n = len(col)
    offsets = np.frombuffer(col.buffers()[1], np.int32)[col.offset:col.offset + n + 1] if n else np.zeros(1, np.int32)
    data = np.frombuffer(col.buffers()[2], np.uint8) if n and col.buffers()[2] is not None else _EMPTY
    valid = np.ones(n, bool) if col.null_count == 0 else pc.is_valid(col).to_numpy(zero_copy_only=False)
    return offsets, data, valid


_KERNEL = {"nogil": True, "cache": True}
# The checks a line pass makes on every field, inlined by numba itself where they are called: LLVM
# alone left some as calls, whose constant arguments (a date's layout, a width) then went unused.
_INLINED = {**_KERNEL, "inline": "always"}


# --- bytes eight at a time ---------------------------------------------------------------------------
# numba reads and writes an array byte by byte; these give the kernels what C has: little-endian
# 8-byte loads and stores at any byte position, the index of a word's lowest set byte and the count
# of its set bits. They are compiled code (not addresses), so the kernels that use them stay cached.

assert sys.byteorder == "little", "load8 and store8 read words as little-endian"


def _bytes_array(a) -> bool:
    return isinstance(a, types.Array) and a.dtype == types.uint8 and a.ndim == 1


@intrinsic
def load8(typingctx, data, at):
    """The 8 bytes data[at:at + 8] as one little-endian uint64 (the caller keeps them in bounds)."""
    if not (_bytes_array(data) and isinstance(at, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        word = builder.bitcast(builder.gep(array.data, [args[1]]), ir.IntType(64).as_pointer())
        return builder.load(word, align=1)
    return types.uint64(data, at), codegen


@intrinsic
def store8(typingctx, out, at, word):
    """out[at:at + 8] = the uint64 `word`'s bytes, little-endian (the caller keeps them in bounds)."""
    if not (_bytes_array(out) and word == types.uint64):
        return None

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        target = builder.bitcast(builder.gep(array.data, [args[1]]), ir.IntType(64).as_pointer())
        builder.store(args[2], target, align=1)
        return context.get_dummy_value()
    return types.void(out, at, word), codegen


@intrinsic
def lowest_byte(typingctx, word):
    """The index (0-7) of the lowest byte of a non-zero uint64 that has a bit set."""
    if word != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        zeros = builder.cttz(args[0], ir.Constant(ir.IntType(1), 1))
        return builder.lshr(zeros, ir.Constant(ir.IntType(64), 3))
    return types.int64(word), codegen


@intrinsic
def count_flagged(typingctx, word):
    """The number of bytes a bytes_equal result flags."""
    if word != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])
    return types.int64(word), codegen


_ONES = np.uint64(0x0101010101010101)
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_HIGH = np.uint64(0x8080808080808080)


@njit(**_KERNEL)
def bytes_equal(word, byte):
    """0x80 in each byte of `word` equal to `byte` (below 0x80), 0 elsewhere: exact, no carries between bytes."""
    x = word ^ (_ONES * np.uint64(byte))
    return ~(((x & _LOW7) + _LOW7) | x) & _HIGH


@njit(**_KERNEL)
def bytes_below(word, limit):
    """0x80 in each byte of `word` below `limit` (at most 0x80), 0 elsewhere."""
    return ~(((word & _LOW7) + _ONES * np.uint64(0x80 - limit)) | word) & _HIGH


@njit(**_INLINED)
def _is_digit(b) -> bool:
    return 48 <= b <= 57


# Each check is written once, for one value at data[start:start + length] (`..._at`); the column
# kernels below apply it to every value of an Arrow column, and equity.registry_lines to each field
# of a line.

@njit(**_INLINED)
def _all_within(data, start, count, low, high) -> bool:
    """The `count` bytes from `start` all lie in low..high."""
    for k in range(start, start + count):
        if data[k] < low or data[k] > high:
            return False
    return True


@njit(**_INLINED)
def blank_at(data, start, length) -> bool:
    """Only spaces, or nothing: `nullif(trim(value), '') is null`."""
    return _all_within(data, start, length, 32, 32)


@njit(**_INLINED)
def width_within_at(data, start, length, width, low, high) -> bool:
    """Exactly `width` bytes, each in low..high."""
    return length == width and _all_within(data, start, width, low, high)


@njit(**_INLINED)
def national_id_at(data, start, length) -> bool:
    """A 13-digit national ID, not starting with 9, whose check digit is right: digits 1..12
    weigh 13..2, and the 13th is (11 - sum mod 11) mod 10."""
    if length != 13 or data[start] == 57 or not _all_within(data, start, 13, 48, 57):
        return False
    total = 0
    for k in range(12):
        total += (data[start + k] - 48) * (13 - k)
    return (11 - total % 11) % 10 == data[start + 12] - 48


@njit(**_INLINED)
def _number(data, start, count):
    value = 0
    for k in range(count):
        value = value * 10 + (data[start + k] - 48)
    return value


@njit(**_INLINED)
def code_at(data, start, length, width, table) -> bool:
    """`width` digits, flagged in `table` (indexed by the digits read as a number)."""
    return width_within_at(data, start, length, width, 48, 57) and table[_number(data, start, width)]


# Date layouts: where the year, month and day digits sit, and the separators between them.
ISO, DMY, YMD = 0, 1, 2  # yyyy-mm-dd, dd/mm/yyyy, yyyymmdd


@njit(**_INLINED)
def date_at(data, s, length, layout, year_offset, unknown_parts):
    """(shape, exists, ymd): the value has the layout's digits and separators; those numbers make a
    date that exists (proleptic Gregorian, years 1-9999); that date as the integer yyyymmdd.

    `year_offset` is subtracted from the year (543 for the Buddhist Era). With `unknown_parts` a month
    00 reads as 1 July and a day 00 as the 15th. `ymd` is 0 where the shape fails."""
    width = 8 if layout == YMD else 10
    if length != width:
        return False, False, 0
    for k in range(width):
        b = data[s + k]
        if layout == ISO and (k == 4 or k == 7):
            if b != 45:
                return False, False, 0
        elif layout == DMY and (k == 2 or k == 5):
            if b != 47:
                return False, False, 0
        elif not _is_digit(b):
            return False, False, 0
    if layout == ISO:
        y, m, d = _number(data, s, 4), _number(data, s + 5, 2), _number(data, s + 8, 2)
    elif layout == DMY:
        y, m, d = _number(data, s + 6, 4), _number(data, s + 3, 2), _number(data, s, 2)
    else:
        y, m, d = _number(data, s, 4), _number(data, s + 4, 2), _number(data, s + 6, 2)
    y -= year_offset
    if unknown_parts:
        if m == 0:
            m, d = 7, 1
        elif d == 0:
            d = 15
    ymd = y * 10000 + m * 100 + d
    if y < 1 or y > 9999 or m < 1 or m > 12 or d < 1:
        return True, False, ymd
    if m == 2:
        leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
        last = 29 if leap else 28
    elif m == 4 or m == 6 or m == 9 or m == 11:
        last = 30
    else:
        last = 31
    return True, d <= last, ymd


@njit(**_INLINED)
def older_than(ymd, born, years) -> bool:
    """Age in whole years at yyyymmdd `ymd` of one born on yyyymmdd `born` is above `years`."""
    return ymd // 10000 - born // 10000 - (1 if ymd % 10000 < born % 10000 else 0) > years


_P = np.uint64(0x100000001B3)  # an odd multiplier (FNV's prime)
_MIX = np.uint64(0x9E3779B97F4A7C15)


@njit(**_INLINED)
def hash_at(data, s, length):
    """A 64-bit hash of one value (a null hashes as ''), folded eight bytes at a time, then its length;
    a key's hash is h = h * MIX ^ hash_at(...) over its columns, from h = 0."""
    v = np.uint64(0)
    k = 0
    while k + 8 <= length:
        v = (v ^ load8(data, s + k)) * _P
        k += 8
    if k < length:
        word = np.uint64(0)
        for j in range(length - k):
            word |= np.uint64(data[s + k + j]) << np.uint64(8 * j)
        v = (v ^ word) * _P
    return v ^ np.uint64(length)


# --- the checks over Arrow columns ---------------------------------------------------------------

@njit(**_KERNEL)
def fixed_width(offsets, data, valid, width, low, high):
    """Not null, exactly `width` bytes, each in low..high."""
    out = np.zeros(len(valid), np.bool_)
    for i in range(len(valid)):
        out[i] = valid[i] and width_within_at(data, offsets[i], offsets[i + 1] - offsets[i], width, low, high)
    return out


def digits(offsets, data, valid, width):
    """Not null, exactly `width` bytes, all ASCII digits."""
    return fixed_width(offsets, data, valid, width, 48, 57)


def capitals(offsets, data, valid, width):
    """Not null, exactly `width` bytes, all ASCII capitals."""
    return fixed_width(offsets, data, valid, width, 65, 90)


@njit(**_KERNEL)
def national_id(offsets, data, valid):
    """Not null and national_id_at."""
    out = np.zeros(len(valid), np.bool_)
    for i in range(len(valid)):
        out[i] = valid[i] and national_id_at(data, offsets[i], offsets[i + 1] - offsets[i])
    return out


@njit(**_KERNEL)
def gcode(offsets, data, valid):
    """`G` and twelve digits."""
    out = np.zeros(len(valid), np.bool_)
    for i in range(len(valid)):
        out[i] = (valid[i] and offsets[i + 1] - offsets[i] == 13 and data[offsets[i]] == 71
                  and _all_within(data, offsets[i] + 1, 12, 48, 57))
    return out


@njit(**_KERNEL)
def codes_in(offsets, data, valid, width, table):
    """Not null and code_at."""
    out = np.zeros(len(valid), np.bool_)
    for i in range(len(valid)):
        out[i] = valid[i] and code_at(data, offsets[i], offsets[i + 1] - offsets[i], width, table)
    return out


@njit(**_KERNEL)
def dates(offsets, data, valid, layout, year_offset, unknown_parts):
    """date_at over a column: arrays (shape, exists, ymd), all false / 0 for a null."""
    n = len(valid)
    shape = np.zeros(n, np.bool_)
    exists = np.zeros(n, np.bool_)
    ymd = np.zeros(n, np.int64)
    for i in range(n):
        if valid[i]:
            shape[i], exists[i], ymd[i] = date_at(data, offsets[i], offsets[i + 1] - offsets[i], layout,
                                                  year_offset, unknown_parts)
    return shape, exists, ymd


@njit(**_KERNEL)
def mix_hash(h, offsets, data, valid):
    """h = h * MIX ^ hash_at(value), in place (a null as '')."""
    for i in range(len(h)):
        v = hash_at(data, offsets[i], offsets[i + 1] - offsets[i]) if valid[i] else np.uint64(0)
        h[i] = (h[i] * _MIX) ^ v


# --- COPY's text format --------------------------------------------------------------------------
# A row is its fields with a tab between, \N for null, and a backslash before a backslash, tab,
# newline or carriage return (written \\, \t, \n, \r). Built column by column into one buffer:
# sizes first, then each column's values written at each row's cursor.

@njit(**_KERNEL)
def _escaped(b) -> int:
    """The letter after the backslash for a byte COPY must escape, or 0."""
    if b == 92:
        return 92
    if b == 9:
        return 116
    if b == 10:
        return 110
    if b == 13:
        return 114
    return 0


def needs_escapes(offsets, data) -> bool:
    """Whether any value of the column holds a byte COPY must escape (rare: a whole-buffer check)."""
    values = data[offsets[0]:offsets[-1]]
    return bool((values < 14).any() or (values == 92).any())


@njit(**_KERNEL)
def add_text_sizes(size, rows, offsets, data, valid, escapes):
    """size[j] += the bytes row rows[j]'s value takes, escaped, with the tab after it."""
    for j in range(len(rows)):
        i = rows[j]
        if not valid[i]:
            size[j] += 3
            continue
        length = offsets[i + 1] - offsets[i]
        if escapes:
            for k in range(offsets[i], offsets[i + 1]):
                if _escaped(data[k]):
                    length += 1
        size[j] += length + 1


@njit(**_KERNEL)
def put_text(out, cursor, rows, offsets, data, valid, escapes):
    """Write row rows[j]'s value (escaped, \\N for null) and a tab at cursor[j], advancing it."""
    for j in range(len(rows)):
        i, at = rows[j], cursor[j]
        if not valid[i]:
            out[at], out[at + 1], out[at + 2] = 92, 78, 9
            cursor[j] = at + 3
            continue
        if not escapes:
            length = offsets[i + 1] - offsets[i]
            out[at:at + length] = data[offsets[i]:offsets[i + 1]]
            out[at + length] = 9
            cursor[j] = at + length + 1
            continue
        at = put_escaped(out, at, data, offsets[i], offsets[i + 1] - offsets[i])
        out[at] = 9
        cursor[j] = at + 1


# A snapshot row's hash goes to the batch table as `_row_hash` after its line number: 63 bits as 19
# zero-padded digits (a fixed width, so a row's size is known before the hash is worked out).
ROW_HASH_WIDTH = 19
_FMIX1 = np.uint64(0xFF51AFD7ED558CCD)
_FMIX2 = np.uint64(0xC4CEB9FE1A85EC53)


@njit(**_KERNEL)
def put_row_hash(out, start, length, at) -> int:
    """The hash of out[start:start + length] (a row's values as COPY text, tabs included) at out[at], 63
    bits in ROW_HASH_WIDTH digits, then a newline; returns the position after. Rows with equal values
    get equal hashes whichever path wrote them (the line passes write the same text as copy_text)."""
    return put_hash_digits(out, at, hash_at(out, start, length))


@njit(**_KERNEL)
def put_hash_digits(out, at, v) -> int:
    """put_row_hash's digits and newline for hash_at's value `v`."""
    # hash_at's low bits depend on the words' low bits alone (a multiply carries upwards only): mix
    # every bit into every other (MurmurHash3's finaliser) before the top 63 are kept, so that all
    # 63 count against a collision and a table keyed on them spreads evenly.
    v = (v ^ (v >> np.uint64(33))) * _FMIX1
    v = (v ^ (v >> np.uint64(33))) * _FMIX2
    v = (v ^ (v >> np.uint64(33))) >> np.uint64(1)
    ten = np.uint64(10)  # uint64 throughout: with an int64 operand numba would compute in float64
    for k in range(ROW_HASH_WIDTH - 1, -1, -1):
        out[at + k] = np.uint64(48) + v % ten
        v //= ten
    out[at + ROW_HASH_WIDTH] = 10
    return at + ROW_HASH_WIDTH + 1


@njit(**_KERNEL)
def put_row_hashes(out, starts, ends, cursor):
    """put_row_hash for each row j: the values at out[starts[j]:ends[j]], the hash at cursor[j]."""
    for j in range(len(starts)):
        cursor[j] = put_row_hash(out, starts[j], ends[j] - starts[j], cursor[j])


@njit(**_KERNEL)
def add_number_sizes(size, numbers):
    """size[j] += the digits of numbers[j] (not negative) and a newline."""
    for j in range(len(numbers)):
        digits, v = 1, numbers[j]
        while v >= 10:
            v //= 10
            digits += 1
        size[j] += digits + 1


@njit(**_KERNEL)
def put_numbers(out, cursor, numbers, end):
    """numbers[j] in decimal and the byte `end` (a newline at the row's end, else a tab) at cursor[j]."""
    for j in range(len(numbers)):
        v, at = numbers[j], cursor[j]
        digits, w = 1, v
        while w >= 10:
            w //= 10
            digits += 1
        for k in range(digits - 1, -1, -1):
            out[at + k] = 48 + v % 10
            v //= 10
        out[at + digits] = end
        cursor[j] = at + digits + 1


# --- CSV records, as Arrow reads them --------------------------------------------------------------
# A quote opens a quoted value only at a field's start; inside one, "" is a quote and line breaks are
# part of the value; after its closing quote the rest of the field is taken as it stands. A record
# ends at LF, CR LF or a lone CR outside quotes.

@njit(**_KERNEL)
def csv_records(data, final, starts, ends, breaks):
    """Record k of `data` is data[starts[k]:ends[k]] (its line break left out), with breaks[k] line
    breaks inside its quoted values. Returns (records, bytes they take); the rest, an unfinished
    record, belongs to the next block unless `final`. Records = -1 when the arrays are too short."""
    n, begin, inside, state, i = 0, 0, 0, 0, 0  # state: 0 field start, 1 in a field, 2 quoted, 3 quote seen
    size = len(data)
    while i < size:
        if i + 8 <= size:  # eight bytes at once up to the next byte that can change more than 0/1
            word = load8(data, i)
            quotes = bytes_equal(word, 34)
            if state == 2:
                lfs = bytes_equal(word, 10)
                if not quotes:
                    inside += count_flagged(lfs)
                    i += 8
                    continue
                skip = lowest_byte(quotes)
                inside += count_flagged(lfs & ((np.uint64(1) << np.uint64(8 * skip)) - np.uint64(1)))
                i += skip
            else:
                special = quotes | bytes_equal(word, 10) | bytes_equal(word, 13)
                skip = lowest_byte(special) if special else 8
                if skip:  # past commas and other bytes: the state is what the last of them left
                    state = 0 if data[i + skip - 1] == 44 else 1
                    i += skip
                    if skip == 8:
                        continue
        b = data[i]
        if state == 2:
            if b == 34:
                state = 3
            elif b == 10:
                inside += 1
            i += 1
            continue
        if b == 10 or b == 13:
            following = i + 1
            if b == 13:
                if i + 1 >= size and not final:
                    break  # CR LF may be split between blocks
                if i + 1 < size and data[i + 1] == 10:
                    following = i + 2
            if n >= len(starts):
                return -1, 0
            starts[n], ends[n], breaks[n] = begin, i, inside
            n += 1
            begin, inside, state, i = following, 0, 0, following
            continue
        if b == 34 and (state == 0 or state == 3):  # opens a quoted value, or "" inside one
            state = 2
        elif b == 44:
            state = 0
        elif state != 2:
            state = 1
        i += 1
    if final and begin < size:
        if n >= len(starts):
            return -1, 0
        starts[n], ends[n], breaks[n] = begin, size, inside
        n += 1
        begin = size
    return n, begin


@njit(**_KERNEL)
def put_number(out, at, v, end) -> int:
    """v (not negative) in decimal and the byte `end` at out[at]; returns the position after."""
    digits, w = 1, v
    while w >= 10:
        w //= 10
        digits += 1
    for k in range(digits - 1, -1, -1):
        out[at + k] = 48 + v % 10
        v //= 10
    out[at + digits] = end
    return at + digits + 1


@njit(**_KERNEL)
def put_escaped(out, at, data, start, length) -> int:
    """data[start:start + length] with COPY's escapes at out[at]; returns the position after."""
    # Most values hold no byte to escape: such a value is copied whole (twice as fast as byte by byte).
    clean = True
    for k in range(start, start + length):
        b = data[k]
        if b <= 13 or b == 92:
            clean = False
            break
    if clean:
        out[at:at + length] = data[start:start + length]
        return at + length
    for k in range(start, start + length):
        b = data[k]
        letter = _escaped(b)
        if letter:
            out[at] = 92
            out[at + 1] = letter
            at += 2
        else:
            out[at] = b
            at += 1
    return at


@njit(**_KERNEL)
def put_fields(out, at, data, start, end, fs, fl, separator) -> int:
    """A record whose fields data[start:end] holds apart by `separator`, none quoted (field f at fs[f],
    fl[f] bytes), as COPY text at out[at]: each value escaped (put_escaped), an empty one \\N, each
    followed by a tab. The same bytes as writing field by field, in one pass over the record."""
    plain = True
    for f in range(len(fl)):
        if fl[f] == 0:
            plain = False
    if plain:
        # No empty field and no byte to escape (checked without an early exit, so that the loop
        # vectorises): the record is copied whole and its separators made tabs.
        escape = 0
        for k in range(start, end):
            b = data[k]
            escape |= (b <= 13) | (b == 92)
        if not escape:
            length = end - start
            out[at:at + length] = data[start:end]
            for f in range(len(fl) - 1):
                out[at + fs[f] + fl[f] - start] = 9
            out[at + length] = 9
            return at + length + 1
    empty = True
    for k in range(start, end):
        b = data[k]
        if b == separator:
            if empty:
                out[at], out[at + 1] = 92, 78
                at += 2
            out[at] = 9
            at += 1
            empty = True
            continue
        empty = False
        if b <= 13 or b == 92:
            letter = _escaped(b)
            if letter:
                out[at], out[at + 1] = 92, letter
                at += 2
                continue
        out[at] = b
        at += 1
    if empty:
        out[at], out[at + 1] = 92, 78
        at += 2
    out[at] = 9
    return at + 1


@njit(**_INLINED)
def in_list_at(data, start, length, words, lengths) -> int:
    """The index of the value among `words` (rows of a byte matrix, lengths[w] bytes used), or -1."""
    for w in range(len(lengths)):
        if lengths[w] == length:
            same = True
            for k in range(length):
                if data[start + k] != words[w, k]:
                    same = False
                    break
            if same:
                return w
    return -1


def word_list(words) -> tuple[np.ndarray, np.ndarray]:
    """A list of ASCII words as (byte matrix, lengths) for in_list_at."""
    matrix = np.zeros((len(words), max(map(len, words))), np.uint8)
    for w, word in enumerate(words):
        matrix[w, :len(word)] = np.frombuffer(word.encode(), np.uint8)
    return matrix, np.array([len(word) for word in words], np.int64)
