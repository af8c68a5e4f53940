"""Proxies with several VOMS attribute certificates (one per VO), and
VOMS Generic Attributes: every AC is verified on its own, the valid ones
all count, an invalid one grants nothing and is logged, and a proxy
without any valid AC is refused.

The ACs are voms-proxy-fake's; :func:`tests.support.pki.combined_acs`
puts several of them into one proxy, since voms-proxy-fake itself cannot
(``-voms`` twice gives one AC, ``-voinfo`` crashes)."""

import json
import logging
import os
import subprocess
import sys

import pytest

from tests.support.pki import GridPKI
from voms_auth.voms import TrustStore, Verifier, errors


class Multi:
    def __init__(self, root):
        pki = self.pki = GridPKI(root)
        self.jane = pki.new_user('Jane Multi')
        self.atlas = pki.add_voms_server('atlas', 'voms.atlas.example.org')
        self.verifier = Verifier(TrustStore(pki.ca_path, pki.vomsdir),
                                 cache_size=0)

    def dteam(self, **kwargs):
        kwargs.setdefault('fqans', ['/dteam', '/dteam/ops/Role=pilot'])
        return self.pki.make_proxy(self.jane, **kwargs)

    def atlas_proxy(self, **kwargs):
        kwargs.setdefault('fqans', ['/atlas', '/atlas/prod'])
        return self.pki.make_proxy(self.jane, vo='atlas', server=self.atlas,
                                   **kwargs)

    def both(self, *sources, **kwargs):
        return self.pki.delegate(self.jane, ac_from=sources, **kwargs)

    def verify(self, path):
        return self.verifier.verify_pem(path.read_bytes())


@pytest.fixture(scope='module')
def multi(tmp_path_factory):
    return Multi(tmp_path_factory.mktemp('multi'))


def memberships(cred):
    return [(m.group, m.role) for m in cred.identity().memberships]


def test_every_valid_ac_counts(multi):
    cred = multi.verify(multi.both(multi.dteam(), multi.atlas_proxy()))
    assert memberships(cred) == [('/dteam', None), ('/dteam/ops', 'pilot'),
                                 ('/atlas', None), ('/atlas/prod', None)]
    # the existing fields keep describing the first AC
    assert cred.vo == 'dteam'
    assert cred.fqans == ('/dteam', '/dteam/ops/Role=pilot')
    assert cred.server == multi.pki.voms_server.dn
    assert [a.vo for a in cred.acs] == ['dteam', 'atlas']
    assert cred.acs[1].server == multi.atlas.dn
    assert cred.rejected_acs == ()
    attributes = cred.identity().attributes
    assert attributes['vos'] == ('dteam', 'atlas')
    assert attributes['vo'] == 'dteam'


def test_a_forged_ac_grants_nothing_and_is_logged(multi, caplog):
    path = multi.both(multi.atlas_proxy(), multi.dteam(),
                      corrupt_ac_signature=True)
    with caplog.at_level(logging.WARNING, logger='voms_auth.voms'):
        cred = multi.verify(path)
    assert memberships(cred) == [('/dteam', None), ('/dteam/ops', 'pilot')]
    # the first VALID AC now fills the existing fields
    assert cred.vo == 'dteam'
    assert [a.vo for a in cred.acs] == ['dteam']
    [rejected] = cred.rejected_acs
    assert (rejected.index, rejected.vo) == (0, 'atlas')
    assert 'signature does not verify' in rejected.reason
    assert any('skipping AC 0 (VO atlas)' in r.getMessage()
               and 'signature does not verify' in r.getMessage()
               for r in caplog.records)


def test_an_ac_of_an_unknown_vo_is_skipped(multi):
    ghost = multi.pki.make_proxy(multi.jane, vo='ghostvo',
                                 fqans=['/ghostvo'], server=multi.atlas)
    cred = multi.verify(multi.both(multi.dteam(), ghost))
    assert [a.vo for a in cred.acs] == ['dteam']
    assert 'no directory' in cred.rejected_acs[0].reason
    assert all(m.vo == 'dteam' for m in cred.identity().memberships)


def test_an_expired_ac_beside_a_valid_one_is_skipped(multi):
    old = multi.atlas_proxy(vomslife=1, pastac='3:00')
    cred = multi.verify(multi.both(multi.dteam(), old))
    assert [a.vo for a in cred.acs] == ['dteam']
    assert 'expired' in cred.rejected_acs[0].reason


def test_an_ac_of_another_holder_is_skipped(multi):
    bob = multi.pki.new_user('Bob Multi')
    bobs = multi.pki.make_proxy(bob, vo='atlas', fqans=['/atlas'],
                                server=multi.atlas)
    cred = multi.verify(multi.both(multi.dteam(), bobs))
    assert [a.vo for a in cred.acs] == ['dteam']
    assert 'issued to another certificate' in cred.rejected_acs[0].reason


def test_no_valid_ac_refuses_with_every_reason(multi):
    ghost = multi.pki.make_proxy(multi.jane, vo='ghostvo',
                                 fqans=['/ghostvo'], server=multi.atlas)
    path = multi.both(multi.dteam(), ghost, corrupt_ac_signature=True)
    with pytest.raises(errors.ACSignatureInvalid) as info:
        multi.verify(path)
    text = str(info.value)
    assert 'no attribute certificate of the proxy is valid' in text
    assert 'AC 1 (VO ghostvo)' in text and 'no directory' in text
    assert 'vomsdir' not in info.value.public


def test_expiry_is_the_earliest_valid_ac(multi):
    short = multi.atlas_proxy(vomslife=2)
    cred = multi.verify(multi.both(multi.dteam(), short))
    assert cred.expires_at == cred.acs[1].not_after < cred.acs[0].not_after


def test_generic_attributes(multi):
    path = multi.dteam(extra_args=['-ga', 'nickname=jdoe',
                                   '-ga', 'tier=gold (site)'])
    cred = multi.verify(path)
    # voms-proxy-fake keeps the blank before "(site)" in the value
    expected = (('nickname', 'jdoe', 'dteam'), ('tier', 'gold ', 'site'))
    assert cred.acs[0].generic_attributes == expected
    assert cred.identity().attributes['generic_attributes'] == expected
    assert cred.as_dict()['generic_attributes'] == [
        {'name': 'nickname', 'value': 'jdoe', 'qualifier': 'dteam'},
        {'name': 'tier', 'value': 'gold ', 'qualifier': 'site'}]


def test_generic_attributes_of_a_skipped_ac_do_not_count(multi):
    tagged = multi.atlas_proxy(extra_args=['-ga', 'role=boss'])
    path = multi.both(tagged, multi.dteam(), corrupt_ac_signature=True)
    assert multi.verify(path).identity().attributes[
        'generic_attributes'] == ()


def test_verify_proxy_prints_every_vo(multi):
    path = multi.both(multi.dteam(extra_args=['-ga', 'nickname=jdoe']),
                      multi.atlas_proxy())
    env = dict(os.environ)
    env.pop('VOMS_AUTH_DEBUG', None)
    result = subprocess.run(
        [sys.executable, '-m', 'voms_auth', 'verify-proxy', '--ca-path',
         str(multi.pki.ca_path), '--vomsdir', str(multi.pki.vomsdir),
         str(path)], capture_output=True, timeout=120, check=False, env=env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out['vo'] == 'dteam'
    assert out['fqans'] == ['/dteam', '/dteam/ops/Role=pilot']
    assert [(v['vo'], v['fqans']) for v in out['vos']] == [
        ('dteam', ['/dteam', '/dteam/ops/Role=pilot']),
        ('atlas', ['/atlas', '/atlas/prod'])]
    assert out['vos'][1]['server'] == multi.atlas.dn
    assert out['generic_attributes'] == [
        {'name': 'nickname', 'value': 'jdoe', 'qualifier': 'dteam'}]
    assert out['rejected_acs'] == []
