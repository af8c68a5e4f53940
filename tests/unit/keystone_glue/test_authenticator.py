"""The per-process verification cache and the Authenticator's wiring."""

import datetime

from oslo_cache import core as cache_core
from oslo_config import cfg

from voms_auth import conf as voms_conf
from voms_auth import identity as identity_mod
from voms_auth.keystone import authenticator

UTC = datetime.timezone.utc
T0 = datetime.datetime(2030, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def _identity(subject, expires_in=3600):
    return identity_mod.Identity(
        kind='voms', issuer='/CN=CA', subject=subject, name=subject,
        memberships=(), expires_at=T0 + datetime.timedelta(
            seconds=expires_in))


def test_entry_served_until_ttl():
    clock = Clock()
    cache = authenticator.VerificationCache(10, ttl=60, clock=clock)
    cache.put('k', _identity('/CN=a'))
    clock.now = T0 + datetime.timedelta(seconds=59)
    assert cache.get('k').subject == '/CN=a'
    clock.now = T0 + datetime.timedelta(seconds=60)
    assert cache.get('k') is None


def test_entry_never_outlives_the_credential():
    clock = Clock()
    cache = authenticator.VerificationCache(10, ttl=3600, clock=clock)
    cache.put('k', _identity('/CN=a', expires_in=30))
    clock.now = T0 + datetime.timedelta(seconds=31)
    assert cache.get('k') is None


def test_cache_is_bounded_lru():
    cache = authenticator.VerificationCache(2, ttl=60, clock=Clock())
    cache.put('a', _identity('/CN=a'))
    cache.put('b', _identity('/CN=b'))
    assert cache.get('a') is not None  # a is now most recent
    cache.put('c', _identity('/CN=c'))
    assert cache.get('b') is None
    assert cache.get('a') is not None and cache.get('c') is not None


def test_size_zero_disables_the_cache():
    cache = authenticator.VerificationCache(0, ttl=60, clock=Clock())
    cache.put('a', _identity('/CN=a'))
    assert cache.get('a') is None


def test_fingerprint_separates_kinds_and_parts():
    fp = authenticator.VerificationCache.fingerprint
    assert fp('voms', ['ab', 'c']) != fp('voms', ['a', 'bc'])
    assert fp('voms', ['x']) != fp('oidc', ['x'])
    assert fp('oidc', ['x']) == fp('oidc', [b'x'])


def _conf(**overrides):
    conf = cfg.ConfigOpts()
    voms_conf.register_opts(conf)
    cache_core.configure(conf)
    conf([], project='voms-auth-test')
    for key, value in overrides.items():
        conf.set_override(key, value, group='voms_auth')
    return conf


def test_shared_cache_uses_the_oslo_cache_backend():
    conf = _conf(shared_cache=True)
    conf.set_override('enabled', True, group='cache')
    conf.set_override('backend', 'dogpile.cache.memory', group='cache')
    region = authenticator.Authenticator(conf)._shared_cache_region()
    region.set('key', 'value')
    assert region.get('key') == 'value'


def test_no_shared_cache_by_default():
    assert authenticator.Authenticator(_conf())._shared_cache_region() is None


def test_one_authenticator_per_conf():
    authenticator.reset()
    conf = _conf()
    assert authenticator.get_authenticator(conf) is \
        authenticator.get_authenticator(conf)
    authenticator.reset()
