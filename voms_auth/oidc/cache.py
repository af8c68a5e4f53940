"""Caches for provider answers (introspection, userinfo), keyed by a hash.

Keys are SHA-256 digests of the token, never the token itself. Every entry
carries its own expiry (the token's ``exp``, bounded by the validator's
maximum TTL) and is ignored once it has passed, whichever backend stores
it. Two backends:

* :class:`MemoryCache` - in-process, bounded LRU (the default);
* :class:`RegionCache` - an oslo.cache / dogpile.cache region, so Keystone
  nodes share answers (e.g. through memcached).
"""

import collections
import hashlib
import logging
import threading
import time

LOG = logging.getLogger(__name__)

_PREFIX = 'voms_auth.oidc.token.'


def token_key(token):
    """The cache key of a token: a prefix and its SHA-256 hex digest."""
    return _PREFIX + hashlib.sha256(token.encode('utf-8')).hexdigest()


class MemoryCache:
    """A thread-safe LRU of at most ``maxsize`` entries, each with expiry.

    ``clock`` returns the current time in seconds since the epoch.
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
        """Store ``value`` until ``expires`` (epoch seconds)."""
        with self._lock:
            self._data[key] = (expires, value)
            self._data.move_to_end(key)
            while len(self._data) > self._maxsize:
                self._data.popitem(last=False)

    def __len__(self):
        return len(self._data)


class RegionCache:
    """Adapter for an oslo.cache / dogpile.cache ``CacheRegion``.

    The region's own expiration should be at least the validator's maximum
    TTL; the per-entry expiry stored with each value is what counts. Cache
    back-end failures are logged and treated as misses (the provider is
    asked instead): a broken memcached must not lock people out.
    """

    def __init__(self, region, clock=time.time):
        from dogpile.cache import api  # oslo.cache is built on dogpile

        self._region = region
        self._clock = clock
        self._no_value = api.NO_VALUE

    def get(self, key):
        try:
            entry = self._region.get(key)
        except Exception:  # noqa: BLE001 - a cache outage is a miss
            LOG.warning('token cache unavailable (get)', exc_info=True)
            return None
        if entry is self._no_value or not isinstance(entry, (list, tuple)):
            return None
        expires, value = entry
        if expires <= self._clock():
            return None
        return value

    def set(self, key, value, expires):
        try:
            self._region.set(key, (expires, value))
        except Exception:  # noqa: BLE001 - a cache outage is not fatal
            LOG.warning('token cache unavailable (set)', exc_info=True)


def as_cache(cache, clock=time.time):
    """``None`` -> a :class:`MemoryCache`; a dogpile region -> a
    :class:`RegionCache`; an object with ``get``/``set(key, value,
    expires)`` is used as it is."""
    if cache is None:
        return MemoryCache(clock=clock)
    if isinstance(cache, (MemoryCache, RegionCache)):
        return cache
    try:
        from dogpile.cache import region as dogpile_region
    except ImportError:  # pragma: no cover - oslo.cache depends on it
        dogpile_region = None
    if dogpile_region and isinstance(cache, dogpile_region.CacheRegion):
        return RegionCache(cache, clock=clock)
    return cache
