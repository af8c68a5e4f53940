"""The bounded, expiring in-process cache every core keeps its results in.

One class, :class:`MemoryCache`: a thread-safe LRU whose entries each carry
their own expiry. The VOMS verifier keeps verified proxies in one, the OIDC
token validator verified tokens; neither keeps another in-process cache of
the same result. Beside it, :func:`memoized` remembers what a pure
decoding function gives for the same few values (OIDs, FQANs, VO names).
Standard library only.
"""

import collections
import functools
import threading
import time
from typing import Optional

_MISSING = object()


def memoized(size: int, longest: Optional[int]):
    """Decorator: remember what a pure one-argument function gives, for
    arguments of at most ``longest`` (``len``; hostile input can be long;
    ``None`` for arguments without a length, such as types), at most
    ``size`` of them (all dropped when full: no bookkeeping per hit). What
    it raises is raised again each time, never kept.

    Why not ``functools.lru_cache``: it would keep arguments of any
    length, and its recency bookkeeping is paid on every hit for values
    that come back in every verification.
    """
    def decorate(func):
        memo = {}

        @functools.wraps(func)
        def remembered(value):
            found = memo.get(value, _MISSING)
            if found is _MISSING:
                found = func(value)
                if longest is None or len(value) <= longest:
                    if len(memo) >= size:
                        memo.clear()
                    memo[value] = found
            return found
        return remembered
    return decorate


class MemoryCache:
    """A thread-safe LRU of at most ``maxsize`` entries, each with expiry.

    ``clock`` returns the current time in seconds since the epoch; an entry
    is served while ``clock()`` is before its ``expires``.

    :raises ValueError: ``maxsize`` is below 1 (callers that allow 0 keep
        no cache at all).
    """

    def __init__(self, maxsize=4096, clock=time.time):
        if maxsize < 1:
            raise ValueError('maxsize must be positive')
        self._maxsize = maxsize
        self._clock = clock
        self._data = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        """The stored value, or ``None`` when absent or expired."""
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires <= self._clock():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    def set(self, key, value, expires):
        """Store ``value`` until ``expires`` (epoch seconds), evicting the
        least recently used entry beyond ``maxsize``."""
        with self._lock:
            self._data[key] = (expires, value)
            self._data.move_to_end(key)
            while len(self._data) > self._maxsize:
                self._data.popitem(last=False)

    def clear(self):
        """Forget every entry."""
        with self._lock:
            self._data.clear()

    def __len__(self):
        return len(self._data)
