"""JSON from strangers (token segments, provider answers), parsed safely.

:func:`loads` accepts strict JSON (RFC 8259) only: no ``NaN``/``Infinity``
literals, at most :data:`MAX_DEPTH` levels of nesting. Every failure,
including a document nested deeply enough to exhaust the interpreter's
recursion limit, is a :class:`ValueError` with a short reason, never a
``RecursionError``.
"""

import json

#: Deepest nesting of arrays and objects accepted (real tokens and
#: provider answers use 3 or 4).
MAX_DEPTH = 32


def _refuse_constant(name):
    raise ValueError('non-standard JSON constant %s' % name)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _too_deep(value, limit):
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in item)
    return False


def loads(raw):
    """The value of the JSON document ``raw`` (``bytes`` as UTF-8, or
    ``str``).

    :raises ValueError: not strict JSON, not UTF-8, or nested deeper than
        :data:`MAX_DEPTH`.
    """
    if isinstance(raw, (bytes, bytearray)):
        raw = bytes(raw).decode('utf-8')  # UnicodeDecodeError: ValueError
    try:
        value = _DECODER.decode(raw)
    except RecursionError:
        raise ValueError('JSON nested more than %d levels deep'
                         % MAX_DEPTH) from None
    # every level opens with [ or {: few of them, no deep nesting
    if (raw.count('[') + raw.count('{') > MAX_DEPTH
            and _too_deep(value, MAX_DEPTH)):
        raise ValueError('JSON nested more than %d levels deep' % MAX_DEPTH)
    return value
