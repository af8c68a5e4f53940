"""The core result cache (voms_auth.cache): what the oidc tests do not
cover."""

import pytest

from voms_auth import cache
from voms_auth.oidc import cache as oidc_cache


def test_clear_forgets_everything():
    store = cache.MemoryCache(clock=lambda: 0.0)
    store.set('a', 1, expires=10)
    store.set('b', 2, expires=10)
    store.clear()
    assert (store.get('a'), store.get('b'), len(store)) == (None, None, 0)


def test_size_below_one_is_refused():
    with pytest.raises(ValueError, match='positive'):
        cache.MemoryCache(0)


def test_oidc_keeps_the_core_class():
    assert oidc_cache.MemoryCache is cache.MemoryCache
