"""Token answer caches: bounded, expiring, shareable through oslo.cache."""

from oslo_cache import core as cache_core
from oslo_config import cfg

from voms_auth.cache import MemoryCache
from voms_auth.oidc import cache


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def test_key_is_a_hash_not_the_token():
    key = cache.token_key('secret-token-value')
    assert 'secret-token-value' not in key
    assert key == cache.token_key('secret-token-value')
    assert key != cache.token_key('secret-token-valuf')


def test_memory_cache_expires_entries():
    clock = Clock()
    store = MemoryCache(clock=clock)
    store.set('k', {'v': 1}, expires=1010)
    assert store.get('k') == {'v': 1}
    clock.now = 1010
    assert store.get('k') is None


def test_memory_cache_is_bounded_lru():
    store = MemoryCache(maxsize=3, clock=Clock())
    for key in 'abc':
        store.set(key, key, expires=2000)
    assert store.get('a') == 'a'        # a is now most recently used
    store.set('d', 'd', expires=2000)   # evicts b
    assert len(store) == 3
    assert store.get('b') is None
    assert [store.get(k) for k in 'acd'] == ['a', 'c', 'd']


def _region():
    conf = cfg.ConfigOpts()
    cache_core.configure(conf)
    conf.set_override('enabled', True, group='cache')
    conf.set_override('backend', 'dogpile.cache.memory', group='cache')
    region = cache_core.create_region()
    cache_core.configure_cache_region(conf, region)
    return region


def test_oslo_cache_region_is_adapted_and_shared():
    region = _region()
    clock = Clock()
    first = cache.as_cache(region, clock=clock)
    second = cache.as_cache(region, clock=clock)
    assert isinstance(first, cache.RegionCache)
    first.set('k', {'claims': {'sub': 'x'}}, expires=1100)
    assert second.get('k') == {'claims': {'sub': 'x'}}
    clock.now = 1100
    assert second.get('k') is None     # the entry's own expiry counts


def test_none_means_memory_cache():
    assert isinstance(cache.as_cache(None), cache.MemoryCache)
