"""Where the clock skew applies (doc/source/voms.rst, "Clock skew"): at the
start of proxies and ACs, never at an end; and what that means for an AC
VOMS cannot revoke. Real voms-proxy-fake proxies, verified ``at`` instants
around their edges."""

import datetime

import pytest

from voms_auth.voms import errors

SECOND = datetime.timedelta(seconds=1)
MINUTE = datetime.timedelta(minutes=1)


def test_the_store_tolerates_five_minutes(world):
    # the instants below are within this skew
    assert world.store.clock_skew == datetime.timedelta(minutes=5)


def test_a_proxy_ends_at_its_not_after(world, pki, verifier):
    path = pki.make_proxy(world.jane, hours=1, vomslife=3)
    cred = verifier.verify_pem(path.read_bytes())
    end = cred.expires_at
    assert end < cred.acs[0].not_after    # the proxy ends first
    assert verifier.verify_pem(path.read_bytes(), at=end).user == \
        world.jane.dn
    with pytest.raises(errors.ProxyExpired, match='expired at'):
        verifier.verify_pem(path.read_bytes(), at=end + SECOND)


def test_an_ac_ends_at_its_not_after(world, pki, verifier):
    """No skew at the end of an AC either (the verifier used to add it)."""
    path = pki.make_proxy(world.jane, hours=3, vomslife=1)
    cred = verifier.verify_pem(path.read_bytes())
    end = cred.acs[0].not_after
    assert cred.expires_at == end
    assert verifier.verify_pem(path.read_bytes(), at=end).vo == 'dteam'
    with pytest.raises(errors.ACExpired, match='the AC of VO dteam expired '
                                               'at'):
        verifier.verify_pem(path.read_bytes(), at=end + MINUTE)


def test_the_skew_applies_at_the_start(world, pki, verifier):
    """A proxy and an AC made by a clock a few minutes ahead are taken."""
    path = pki.make_proxy(world.jane, hours=2, vomslife=2)
    cred = verifier.verify_pem(path.read_bytes())
    ac_start = cred.acs[0].not_before
    assert verifier.verify_pem(path.read_bytes(),
                               at=ac_start - 4 * MINUTE).vo == 'dteam'
    with pytest.raises((errors.ACNotYetValid, errors.ProxyNotYetValid),
                       match='not valid before'):
        verifier.verify_pem(path.read_bytes(), at=ac_start - 6 * MINUTE)


def test_an_issued_ac_keeps_its_role_until_it_ends(world, pki, verifier):
    """VOMS cannot revoke an AC it issued: a proxy made while the user
    held a role keeps stating it, even after a newer proxy (the VO removed
    the role) no longer does -- until that AC's end, and not a second
    longer (no skew at the end)."""
    role = '/dteam/Role=VM-Manager'
    old = pki.make_proxy(world.jane, fqans=['/dteam', role], hours=3,
                         vomslife=1)
    new = pki.make_proxy(world.jane, fqans=['/dteam'], hours=3, vomslife=2)
    assert verifier.verify_pem(new.read_bytes()).fqans == ('/dteam',)
    old_cred = verifier.verify_pem(old.read_bytes())
    assert role in old_cred.fqans
    end = old_cred.acs[0].not_after
    assert role in verifier.verify_pem(old.read_bytes(), at=end).fqans
    with pytest.raises(errors.ACExpired):
        verifier.verify_pem(old.read_bytes(), at=end + SECOND)
