"""The VO is taken as the AC states it (the policy authority's raw
``<vo>://<host>:<port>``, as libvomsapi reads it), not from asn1crypto's
normalised URI, which lower-cases and percent-decodes it."""

import pytest

from tests.unit.voms.test_verify import voms_proxy_info
from voms_auth.voms import TrustStore, Verifier, errors


@pytest.fixture(scope='module')
def my_vo(pki):
    return pki.add_voms_server('MyVO', 'Voms.MyVO.example.org')


def _fresh(pki):
    return Verifier(TrustStore(pki.ca_path, pki.vomsdir), cache_size=0)


def test_mixed_case_vo_matches_voms_proxy_info(world, pki, my_vo):
    fqans = ['/MyVO', '/MyVO/Sub/Role=Admin']
    path = pki.make_proxy(world.jane, vo='MyVO', fqans=fqans, server=my_vo)
    cred = _fresh(pki).verify_pem(path.read_bytes())
    oracle = voms_proxy_info(pki, path)
    assert cred.vo == oracle['vo'] == 'MyVO'
    assert list(cred.fqans) == oracle['fqans'] == fqans
    assert cred.uri == 'Voms.MyVO.example.org:15004'
    assert [m.vo for m in cred.identity().memberships] == ['MyVO', 'MyVO']


def test_vo_directory_name_is_compared_exactly(world, pki, my_vo):
    """``myvo`` (another spelling) is not the directory ``MyVO``."""
    path = pki.make_proxy(world.jane, vo='myvo', fqans=['/myvo'],
                          server=my_vo)
    with pytest.raises(errors.UnknownVO, match='VO myvo'):
        _fresh(pki).verify_pem(path.read_bytes())


def test_percent_escapes_are_not_decoded(world, pki, my_vo):
    path = pki.make_proxy(world.jane, vo='My%56O', fqans=['/MyVO'],
                          server=my_vo)
    with pytest.raises(errors.UnknownVO, match='VO My%56O'):
        _fresh(pki).verify_pem(path.read_bytes())
