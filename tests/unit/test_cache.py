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


def test_memoized_keeps_short_arguments_within_its_size_and_no_raise():
    calls = []

    @cache.memoized(size=2, longest=3)
    def upper(value):
        calls.append(value)
        if value == 'bad':
            raise ValueError(value)
        return value.upper()

    assert [upper('ab'), upper('ab'), upper('abcd'), upper('abcd')] == [
        'AB', 'AB', 'ABCD', 'ABCD']
    assert calls == ['ab', 'abcd', 'abcd']      # a long one is not kept
    for _ in range(2):
        with pytest.raises(ValueError):
            upper('bad')
    assert calls.count('bad') == 2              # a raise is not kept
    upper('x'), upper('y')                      # full: all dropped
    upper('ab')
    assert calls.count('ab') == 2


def test_memoized_without_a_length_bound_takes_any_hashable():
    calls = []

    @cache.memoized(size=4, longest=None)
    def name(kind):
        calls.append(kind)
        return kind.__name__

    assert [name(int), name(int), name(str)] == ['int', 'int', 'str']
    assert calls == [int, str]
