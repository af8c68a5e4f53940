"""One throwaway grid PKI per test session, with real voms-proxy-fake
proxies (Debian voms-clients)."""

import shutil

import pytest

from tests.support.pki import GridPKI
from voms_auth.voms import TrustStore, Verifier

SERVICE_HOST = 'keystone.example.org'


class World:
    """The session PKI and the users the tests need, made before the
    trust store is first read."""

    def __init__(self, root):
        pki = self.pki = GridPKI(root)
        self.jane = pki.new_user('Jane Doe')
        self.bob = pki.new_user('Bob Smith')
        self.root_user = pki.new_user('Rita Root', ca=pki.root_ca)
        self.stranger = pki.new_user('Mallory', ca=pki.untrusted_ca,
                                     org='evil')
        self.revoked = pki.new_user('Rex Revoked')
        pki.revoke(self.revoked)
        self.revoked_sub_ca = pki.add_ca('Revoked Sub CA',
                                         parent=pki.root_ca)
        self.under_revoked_ca = pki.new_user('Una Under',
                                             ca=self.revoked_sub_ca)
        pki.revoke(self.revoked_sub_ca)
        self.stale_ca = pki.add_ca('Stale CA', parent=pki.root_ca)
        self.stale_user = pki.new_user('Sam Stale', ca=self.stale_ca)
        pki.expire_crl(self.stale_ca)
        self.twin = pki.same_dn_user(self.jane)
        # another CA's user with Jane's serial number
        self.serial_twin = pki.new_user('Eve Serial', ca=pki.other_ca,
                                        serial=self.jane.cert.serial_number)
        self.short_lived = pki.new_user('Sue Short', days=1 / 24)
        self.revoked_server = pki.add_voms_server('dteam',
                                                  'voms3.example.org')
        pki.revoke(self.revoked_server)
        self.no_sign_ca = pki.add_ca('No Sign CA', parent=pki.root_ca,
                                     key_cert_sign=False)
        self.under_no_sign_ca = pki.new_user('Nina', ca=self.no_sign_ca)
        # A second server for dteam that no LSC file lists.
        self.rogue_server = pki.add_voms_server(
            'dteam', 'voms2.example.org', lsc=False)
        # The older vomsdir layout: the server certificate in vomsdir/ops.
        self.ops_server = pki.add_voms_server(
            'ops', 'voms.ops.example.org', lsc=False, cert_in_vomsdir=True)
        self.store = TrustStore(pki.ca_path, pki.vomsdir)
        self.verifier = Verifier(self.store, service_host=SERVICE_HOST,
                                 cache_size=0)


@pytest.fixture(scope='session')
def world(tmp_path_factory):
    if shutil.which('voms-proxy-fake') is None:
        pytest.fail('voms-proxy-fake is missing: install the Debian package '
                    'voms-clients (tools/install-deps.sh does)')
    return World(tmp_path_factory.mktemp('grid'))


@pytest.fixture(scope='session')
def pki(world):
    return world.pki


@pytest.fixture(scope='session')
def verifier(world):
    return world.verifier


@pytest.fixture
def small(tmp_path):
    """A fresh grid PKI of its own and one user of it (for tests that
    change the trust material)."""
    pki = GridPKI(tmp_path / 'grid')
    user = pki.new_user('Fred Fresh')
    return pki, user
