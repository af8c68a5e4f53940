"""A minimal, bounded DER reader: tag-length-value walking over ``bytes``.

Used where a general ASN.1 framework costs more than the checks it serves
(the VOMS attribute certificate, ProxyCertInfo, the raw names of a
certificate): see :mod:`voms_auth.voms.ac` for the figures. Every function
either returns in-bounds offsets or raises :class:`DERError` (a
``ValueError``); none reads past the slice it is given, none recurses, and
indefinite lengths (BER) are refused.
"""

from typing import List, Tuple

from voms_auth.cache import memoized

# Universal tags used by the callers.
BOOLEAN = 0x01
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
OID = 0x06
UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
SEQUENCE = 0x30
SET = 0x31
GENERALIZED_TIME = 0x18


class DERError(ValueError):
    """The bytes are not the DER expected there."""


def read(data: bytes, pos: int, end: int) -> Tuple[int, int, int]:
    """The element at ``data[pos:end]``: ``(tag, content start, content
    end)``. ``tag`` is the identifier octet (class, constructed bit and
    number below 31); high tag numbers are refused.

    :raises DERError: truncated, indefinite or oversized length, high tag
        number.
    """
    if pos + 2 > end:
        raise DERError('truncated element at offset %d' % pos)
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DERError('unsupported high tag number at offset %d' % pos)
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0:
            raise DERError('indefinite length at offset %d' % (pos - 2))
        if count > 4 or pos + count > end:
            raise DERError('bad length at offset %d' % (pos - 2))
        length = int.from_bytes(data[pos:pos + count], 'big')
        pos += count
    stop = pos + length
    if stop > end:
        raise DERError('element at offset %d runs past its parent' % pos)
    return tag, pos, stop


def expect(data: bytes, pos: int, end: int, tag: int,
           what: str) -> Tuple[int, int]:
    """``(content start, content end)`` of the element at ``pos``, which
    must have identifier ``tag``.

    :raises DERError: another tag (message names ``what``) or bad framing.
    """
    found, start, stop = read(data, pos, end)
    if found != tag:
        raise DERError('%s: expected tag 0x%02x, found 0x%02x'
                       % (what, tag, found))
    return start, stop


def children(data: bytes, start: int, end: int) -> List[
        Tuple[int, int, int, int]]:
    """Each element of the content ``data[start:end]``:
    ``(tag, element start, content start, content end)``; the elements
    must fill the content exactly. (:func:`read` inlined: this runs for
    every element of an AC.)

    :raises DERError: bad framing.
    """
    found = []
    pos = start
    while pos < end:
        if pos + 2 > end:
            raise DERError('truncated element at offset %d' % pos)
        tag = data[pos]
        if tag & 0x1F == 0x1F:
            raise DERError('unsupported high tag number at offset %d' % pos)
        first = data[pos + 1]
        cstart = pos + 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4 or cstart + count > end:
                raise DERError('bad or indefinite length at offset %d'
                               % pos)
            length = int.from_bytes(data[cstart:cstart + count], 'big')
            cstart += count
        cend = cstart + length
        if cend > end:
            raise DERError('element at offset %d runs past its parent'
                           % pos)
        found.append((tag, pos, cstart, cend))
        pos = cend
    return found


def only(data: bytes, start: int, end: int, tag: int,
         what: str) -> Tuple[int, int]:
    """The single element filling ``data[start:end]`` (tag ``tag``): its
    ``(content start, content end)``.

    :raises DERError: another tag, bad framing or trailing bytes.
    """
    cstart, cend = expect(data, start, end, tag, what)
    if cend != end:
        raise DERError('%s: %d trailing byte(s)' % (what, end - cend))
    return cstart, cend


def integer(data: bytes, start: int, end: int) -> int:
    """The value of INTEGER content ``data[start:end]`` (two's
    complement).

    :raises DERError: empty content.
    """
    if start >= end:
        raise DERError('empty INTEGER')
    return int.from_bytes(data[start:end], 'big', signed=True)


def oid(data: bytes, start: int, end: int) -> str:
    """Dotted form of OBJECT IDENTIFIER content ``data[start:end]``
    (remembered: the same few OIDs come back in every AC).

    :raises DERError: empty content or a truncated arc.
    """
    return _dotted(data[start:end])


@memoized(size=1024, longest=32)
def _dotted(raw: bytes) -> str:
    """:func:`oid` of the content ``raw``."""
    start, end, data = 0, len(raw), raw
    if start >= end or data[end - 1] & 0x80:
        raise DERError('bad OBJECT IDENTIFIER')
    arcs: List[int] = []
    value = 0
    for byte in data[start:end]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 \
        else [2, first - 80]
    return '.'.join(str(a) for a in head + arcs[1:])


def boolean(data: bytes, start: int, end: int) -> bool:
    """The value of BOOLEAN content (one octet, any non-zero is true).

    :raises DERError: not one octet.
    """
    if end - start != 1:
        raise DERError('bad BOOLEAN')
    return data[start] != 0
