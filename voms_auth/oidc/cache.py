"""Token cache keys and the store shared between Keystone nodes.

Keys are SHA-256 digests of the token, never the token itself. Every entry
carries its own expiry (the token's ``exp``, bounded by a maximum TTL) and
is ignored once it has passed, whichever backend stores it:

* :class:`~voms_auth.cache.MemoryCache` - in-process, bounded LRU (the core
  cache module; re-exported here);
* :class:`RegionCache` - an oslo.cache / dogpile.cache region, so Keystone
  nodes share provider answers (e.g. through memcached). Adapted here by
  duck typing: this module imports neither oslo.cache nor oslo.config,
  only dogpile.cache when given a region.
"""

import hashlib
import logging
import time

from voms_auth.cache import MemoryCache

LOG = logging.getLogger(__name__)

_PREFIX = 'voms_auth.oidc.token.'


def token_key(token):
    """The cache key of a token: a prefix and its SHA-256 hex digest."""
    return _PREFIX + hashlib.sha256(token.encode('utf-8')).hexdigest()


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
