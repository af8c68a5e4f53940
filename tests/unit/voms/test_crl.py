"""Revocation as OpenSSL does it: only complete CRLs count, and a
certificate revoked in ANY valid complete CRL of its CA is refused.

Each case: the user (or a sub CA) is revoked in ``<hash>.r0``; an odd,
newer CRL of the same CA that does not list it sits in ``<hash>.r1``. The
old verifier took the newest CRL and let the revoked user in.
"""

import datetime
import random

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from tests.support.pki import GridPKI, write_crl_file
from voms_auth.voms import TrustStore, Verifier, crl, errors

UTC = datetime.timezone.utc
_NOW = datetime.datetime.now(UTC).replace(microsecond=0)


def _idp(**kwargs):
    values = dict(full_name=None, relative_name=None,
                  only_contains_user_certs=False,
                  only_contains_ca_certs=False, only_some_reasons=None,
                  indirect_crl=False, only_contains_attribute_certs=False)
    values.update(kwargs)
    return x509.IssuingDistributionPoint(**values)


#: name -> (extensions of the odd .r1, its thisUpdate, revoked one: 'user'
#: (revoked by the issuing CA) or 'ca' (a sub CA revoked by the root))
CASES = {
    'delta CRL': ([(x509.DeltaCRLIndicator(1), True)], None, 'user'),
    'only CA certificates': (
        [(_idp(only_contains_ca_certs=True), True)], None, 'user'),
    'only some reasons': (
        [(_idp(only_some_reasons=frozenset(
            [x509.ReasonFlags.key_compromise])), True)], None, 'user'),
    'only user certificates, for a CA certificate': (
        [(_idp(only_contains_user_certs=True), True)], None, 'ca'),
    'indirect CRL': ([(_idp(indirect_crl=True), True)], None, 'user'),
    'future-dated': ([], _NOW + datetime.timedelta(days=2), 'user'),
    'unknown critical extension': (
        [(x509.UnrecognizedExtension(
            x509.ObjectIdentifier('1.3.6.1.4.1.99999.7'), b'\x05\x00'),
          True)], None, 'user'),
}


class Grid:
    def __init__(self, root):
        pki = self.pki = GridPKI(root)
        self.rex = pki.new_user('Rex Revoked')
        pki.revoke(self.rex)
        self.fred = pki.new_user('Fred Fine')
        self.sub_ca = pki.add_ca('Sub CA', parent=pki.root_ca)
        self.una = pki.new_user('Una Under', ca=self.sub_ca)
        pki.revoke(self.sub_ca)
        self.proxies = {who: pki.make_proxy(user).read_bytes() for who, user
                        in (('user', self.rex), ('ca', self.una),
                            ('fine', self.fred))}

    def verifier(self):
        return Verifier(TrustStore(self.pki.ca_path, self.pki.vomsdir),
                        cache_size=0)

    def issuer_of(self, who):
        return self.pki.root_ca if who == 'ca' else self.pki.issuing_ca


@pytest.fixture(scope='module')
def grid(tmp_path_factory):
    return Grid(tmp_path_factory.mktemp('crl'))


@pytest.fixture
def odd_crl(grid):
    written = []

    def write(ca, **kwargs):
        path = write_crl_file(grid.pki, ca, 'r1', **kwargs)
        written.append(path)
        return path
    yield write
    for path in written:
        path.unlink()


@pytest.mark.parametrize('case', sorted(CASES))
def test_odd_newer_crl_does_not_hide_a_revocation(grid, odd_crl, case):
    extensions, last_update, who = CASES[case]
    odd_crl(grid.issuer_of(who), extensions=extensions,
            last_update=last_update)
    with pytest.raises(errors.CertificateRevoked, match='was revoked by'):
        grid.verifier().verify_pem(grid.proxies[who])


@pytest.mark.parametrize('case', sorted(CASES))
def test_odd_crl_alone_is_no_crl(grid, odd_crl, case):
    """With only the odd CRL, the CA has no complete CRL: refused as
    missing (OpenSSL: unable to get CRL), not accepted."""
    extensions, last_update, who = CASES[case]
    issuer = grid.issuer_of(who)
    r0 = grid.pki.ca_path / ('%s.r0' % issuer.hash)
    saved = r0.read_bytes()
    r0.unlink()
    try:
        odd_crl(issuer, extensions=extensions, last_update=last_update)
        proxy = grid.proxies['fine' if who == 'user' else 'ca']
        with pytest.raises(errors.CRLMissing, match='no valid CRL'):
            grid.verifier().verify_pem(proxy)
    finally:
        r0.write_bytes(saved)


def test_revoked_in_any_complete_crl(grid, odd_crl):
    """A newer, complete CRL that does not list the user does not undo
    the .r0 that does (several CRLs of one CA)."""
    odd_crl(grid.pki.issuing_ca)
    with pytest.raises(errors.CertificateRevoked):
        grid.verifier().verify_pem(grid.proxies['user'])


def test_revoked_only_in_the_newer_crl(grid, odd_crl):
    odd_crl(grid.pki.issuing_ca, revoked=[grid.fred.cert.serial_number])
    with pytest.raises(errors.CertificateRevoked, match='Fred Fine'):
        grid.verifier().verify_pem(grid.proxies['fine'])


def test_scoped_crls_that_cover_the_certificate_are_used(grid, odd_crl):
    """A CRL limited to user certificates is complete for users: its
    revocations count."""
    odd_crl(grid.pki.issuing_ca,
            extensions=[(_idp(only_contains_user_certs=True), True)],
            revoked=[grid.fred.cert.serial_number])
    with pytest.raises(errors.CertificateRevoked, match='Fred Fine'):
        grid.verifier().verify_pem(grid.proxies['fine'])


@pytest.mark.parametrize('case', sorted(CASES))
def test_unrevoked_user_is_accepted_beside_an_odd_crl(grid, odd_crl, case):
    extensions, last_update, _ = CASES[case]
    odd_crl(grid.pki.issuing_ca, extensions=extensions,
            last_update=last_update)
    assert grid.verifier().verify_pem(grid.proxies['fine']).user == \
        grid.fred.dn


def test_distribution_point_scope(grid):
    """A CRL for one distribution point covers only certificates that
    name that point."""
    point = x509.UniformResourceIdentifier('http://ca.example.org/a.crl')
    built = (x509.CertificateRevocationListBuilder()
             .issuer_name(grid.pki.issuing_ca.cert.subject)
             .last_update(_NOW).next_update(_NOW + datetime.timedelta(1))
             .add_extension(_idp(full_name=[point]), critical=True)
             .sign(grid.pki.issuing_ca.key, hashes.SHA256()))
    assert crl.unusable_reason(built) is None
    assert not crl.covers(built, grid.fred.cert)


def test_unusable_reasons_are_readable(grid):
    reasons = {}
    for case, (extensions, _, _) in CASES.items():
        path = write_crl_file(grid.pki, grid.pki.issuing_ca, 'r9',
                              extensions=extensions)
        try:
            reasons[case] = crl.unusable_reason(
                x509.load_pem_x509_crl(path.read_bytes()))
        finally:
            path.unlink()
    assert reasons['delta CRL'] == 'it is a delta CRL'
    assert reasons['indirect CRL'] == 'it is an indirect CRL'
    assert reasons['only some reasons'] == \
        'it covers only some revocation reasons'
    assert reasons['unknown critical extension'] == \
        'it has an unknown critical extension 1.3.6.1.4.1.99999.7'
    assert reasons['future-dated'] is None      # decided per instant


def test_unknown_critical_entry_extension(grid):
    entry = (x509.RevokedCertificateBuilder().serial_number(5)
             .revocation_date(_NOW)
             .add_extension(x509.UnrecognizedExtension(
                 x509.ObjectIdentifier('1.3.6.1.4.1.99999.8'), b'\x05\x00'),
                 critical=True).build())
    built = (x509.CertificateRevocationListBuilder()
             .issuer_name(grid.pki.issuing_ca.cert.subject)
             .last_update(_NOW).next_update(_NOW + datetime.timedelta(1))
             .add_revoked_certificate(entry)
             .sign(grid.pki.issuing_ca.key, hashes.SHA256()))
    assert crl.unusable_reason(built) == (
        'an entry has an unknown critical extension 1.3.6.1.4.1.99999.8')


def test_a_crl_file_with_an_unknown_critical_entry_is_not_used(grid):
    """The trust store reads a CRL's entries once, for its serial index
    and for their critical extensions both."""
    entry = (x509.RevokedCertificateBuilder().serial_number(5)
             .revocation_date(_NOW)
             .add_extension(x509.UnrecognizedExtension(
                 x509.ObjectIdentifier('1.3.6.1.4.1.99999.8'), b'\x05\x00'),
                 critical=True).build())
    issuing = grid.pki.issuing_ca
    built = (x509.CertificateRevocationListBuilder()
             .issuer_name(issuing.cert.subject)
             .last_update(_NOW).next_update(_NOW + datetime.timedelta(1))
             .add_revoked_certificate(entry)
             .sign(issuing.key, hashes.SHA256()))
    path = grid.pki.ca_path / ('%s.r9' % issuing.hash)
    path.write_bytes(built.public_bytes(serialization.Encoding.PEM))
    try:
        snap = TrustStore(grid.pki.ca_path, grid.pki.vomsdir).snapshot()
        found = [c for c in snap.crl_by_issuer[
            issuing.cert.subject.public_bytes()] if 5 in
            snap.revoked_by_crl[id(c)]]
        assert [snap.crl_reason[id(c)] for c in found] == [
            'an entry has an unknown critical extension 1.3.6.1.4.1.99999.8']
        assert found[0] not in snap.crls_for(issuing.cert)
    finally:
        path.unlink()


# -- the revoked-serial index ------------------------------------------------

@pytest.mark.parametrize('serials', [
    [],
    list(range(1, 10001)),                        # issued in order
    [random.Random(7).getrandbits(159) for _ in range(5000)],  # noqa: S311
    [0, 1 << 64, -1, (1 << 159) + 5],             # 0 low bits, negative
], ids=['none', 'sequential', 'random-160-bit', 'odd'])
def test_revoked_serials_finds_exactly_what_it_holds(serials):
    index = crl.RevokedSerials(serials)
    assert all(serial in index for serial in serials)
    low = (1 << 64) - 1
    held = {s & low for s in serials}
    others = [s + 3 for s in serials[:500]] + [10 ** 40, 2, 12345]
    for serial in others:
        if serial & low not in held:
            assert serial not in index
    assert index.nbytes <= 22 * max(len(serials), 8) + 64


def test_revoked_serials_counts_distinct_serials():
    index = crl.RevokedSerials([5, 5, 6, 0, 0])
    assert len(index) == 3
    assert 0 in index and 5 in index and 7 not in index


def test_a_serial_sharing_the_low_64_bits_is_not_revoked(tmp_path):
    """The index matches on the low 64 bits; the CRL itself confirms."""
    pki = GridPKI(tmp_path / 'grid')
    listed = (1 << 64) + 12345
    write_crl_file(pki, pki.issuing_ca, 'r0', revoked=[listed])
    snap = TrustStore(pki.ca_path, pki.vomsdir).snapshot()
    [found] = snap.crls_for(pki.issuing_ca.cert)
    assert 12345 in snap.revoked_by_crl[id(found)]         # same low bits
    assert snap.revocation_date(found, 12345) is None
    assert snap.revocation_date(found, listed) is not None
