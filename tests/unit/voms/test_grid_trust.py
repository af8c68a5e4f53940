"""Trust-store rules beyond the basics: partial chains (only self-signed
CAs are anchors), indexed CRL lookups at IGTF size, CRL grace periods."""

import datetime
import logging

import pytest
from cryptography.x509 import verification

from tests.support.pki import GridPKI, write_crl_file
from voms_auth.voms import TrustStore, Verifier, errors
from voms_auth.voms.truststore import is_self_signed

DAY = datetime.timedelta(days=1)


@pytest.fixture(scope='module')
def grid(tmp_path_factory):
    return GridPKI(tmp_path_factory.mktemp('trust'))


def verifier_of(pki, **kwargs):
    return Verifier(TrustStore(pki.ca_path, pki.vomsdir, **kwargs),
                    cache_size=0)


# -- partial chains ---------------------------------------------------------

@pytest.fixture(scope='module')
def partial(grid):
    """A trusted CA whose issuer (the untrusted root) is not in the CA
    directory, and a user under it."""
    ca = grid.add_ca('Orphan Sub CA', parent=grid.untrusted_ca)
    return ca, grid.new_user('Olive Orphan', ca=ca)


def test_a_ca_without_its_issuer_is_no_anchor(grid, partial):
    ca, user = partial
    snap = TrustStore(grid.ca_path, grid.vomsdir).snapshot()
    assert [c.subject for c in snap.partial_cas] == [ca.cert.subject]
    # the anchors alone refuse the path (OpenSSL without PARTIAL_CHAIN)
    chain_verifier = (verification.PolicyBuilder().store(snap.anchors)
                      .build_client_verifier())
    with pytest.raises(verification.VerificationError):
        chain_verifier.verify(user.cert, [ca.cert])


def test_a_user_under_a_partial_chain_is_refused(grid, partial):
    _, user = partial
    path = grid.make_proxy(user)
    with pytest.raises(errors.UntrustedCA,
                       match='Orphan Sub CA in .*, whose issuer '
                             '.*Untrusted CA is not in that directory: a CA '
                             'is a trust anchor only if it is self-signed'):
        verifier_of(grid).verify_pem(path.read_bytes())


def test_a_full_chain_still_passes(grid):
    user = grid.new_user('Fred Full')
    cred = verifier_of(grid).verify_pem(grid.make_proxy(user).read_bytes())
    assert cred.user == user.dn


def test_self_signed_needs_a_valid_self_signature(grid):
    assert is_self_signed(grid.root_ca.cert)
    assert not is_self_signed(grid.issuing_ca.cert)


# -- CRLs of IGTF size: one lookup, not a scan ------------------------------

def test_revocation_in_a_large_crl(tmp_path):
    pki = GridPKI(tmp_path)
    user = pki.new_user('Lara Large')
    other = pki.new_user('Ollie Other')
    ca = pki.issuing_ca
    serials = list(range(10 ** 6, 10 ** 6 + 10000)) + [
        user.cert.serial_number]
    write_crl_file(pki, ca, 'r0', revoked=serials)
    store = TrustStore(pki.ca_path, pki.vomsdir)
    snap = store.snapshot()
    [crl] = snap.crls_for(ca.cert)
    assert len(snap.revoked_by_crl[id(crl)]) == 10001
    assert snap.revocation_date(crl, user.cert.serial_number) is not None
    assert snap.revocation_date(crl, other.cert.serial_number) is None
    verifier = Verifier(store, cache_size=0)
    with pytest.raises(errors.CertificateRevoked, match='Lara Large'):
        verifier.verify_pem(pki.make_proxy(user).read_bytes())
    assert verifier.verify_pem(
        pki.make_proxy(other).read_bytes()).user == other.dn


# -- CRL grace ---------------------------------------------------------------

@pytest.fixture(scope='module')
def stale(grid):
    """A CA whose CRL passed its nextUpdate 3 days ago, and its user."""
    ca = grid.add_ca('Lagging CA', parent=grid.root_ca)
    user = grid.new_user('Gus Grace', ca=ca)
    grid.expire_crl(ca)
    return ca, grid.make_proxy(user)


def test_no_grace_by_default(grid, stale):
    _, proxy = stale
    with pytest.raises(errors.CRLExpired, match='Lagging CA expired at'):
        verifier_of(grid).verify_pem(proxy.read_bytes())


def test_within_the_grace_period_is_accepted_and_logged(grid, stale,
                                                        caplog):
    ca, proxy = stale
    verifier = verifier_of(grid, crl_grace_period=4 * DAY)
    with caplog.at_level(logging.WARNING, logger='voms_auth.voms'):
        cred = verifier.verify_pem(proxy.read_bytes())
    assert cred.user.endswith('CN=Gus Grace')
    [record] = [r for r in caplog.records
                if 'CRL IN GRACE' in r.getMessage()]
    assert 'Lagging CA (%s.r*)' % ca.hash in record.getMessage()
    assert record.levelno == logging.WARNING


def test_past_the_grace_period_is_refused(grid, stale):
    _, proxy = stale
    with pytest.raises(errors.CRLExpired,
                       match='grace period of 172800 s ended at'):
        verifier_of(grid, crl_grace_period=2 * DAY).verify_pem(
            proxy.read_bytes())


def test_a_per_ca_override_replaces_the_default(grid, stale):
    ca, proxy = stale
    longer = verifier_of(grid, crl_grace_overrides={ca.hash: 4 * DAY})
    assert longer.verify_pem(proxy.read_bytes())
    shorter = verifier_of(grid, crl_grace_period=4 * DAY,
                          crl_grace_overrides={ca.hash: DAY})
    with pytest.raises(errors.CRLExpired):
        shorter.verify_pem(proxy.read_bytes())
    # another CA's override does not apply
    other = verifier_of(grid, crl_grace_overrides={
        grid.root_ca.hash: 4 * DAY})
    with pytest.raises(errors.CRLExpired):
        other.verify_pem(proxy.read_bytes())


def test_a_bad_override_is_a_configuration_error(grid):
    with pytest.raises(errors.TrustStoreError, match='8-digit hex'):
        TrustStore(grid.ca_path, grid.vomsdir,
                   crl_grace_overrides={'Example CA': DAY})


# -- LSC diagnostics and the load summary ------------------------------------

def lsc_refusal(pki):
    path = pki.make_proxy(pki.new_user('Lisa Lsc'))
    with pytest.raises(errors.ACServerNotTrusted) as info:
        verifier_of(pki).verify_pem(path.read_bytes())
    assert 'vomsdir' not in info.value.public
    return str(info.value)


def test_lsc_with_the_wrong_ca_line_names_the_line(tmp_path):
    pki = GridPKI(tmp_path)
    server = pki.voms_server
    lsc = pki.write_lsc(server, [server.dn, pki.other_ca.dn])
    text = lsc_refusal(pki)
    assert 'presented server %s with CA chain %s < %s' % (
        server.dn, pki.issuing_ca.dn, pki.root_ca.dn) in text
    assert '%s line 2 is %s where the AC presented %s' % (
        lsc, pki.other_ca.dn, pki.issuing_ca.dn) in text


def test_lsc_in_openssl3_form_says_how_to_fix_it(tmp_path):
    pki = GridPKI(tmp_path)
    server = pki.voms_server
    pki.write_lsc(server, [
        'DC = org, DC = example, OU = Hosts, CN = %s' % server.host,
        'DC = org, DC = example, CN = Example Issuing CA'])
    text = lsc_refusal(pki)
    assert "line 1 is not a slash-form DN (it is in OpenSSL 3's" in text
    assert 'openssl x509 -noout -subject -issuer -nameopt compat' in text


def test_lsc_file_without_the_lsc_suffix_is_explained(tmp_path, caplog):
    pki = GridPKI(tmp_path)
    lsc = pki.write_lsc(pki.voms_server)
    lsc.rename(lsc.with_suffix(''))
    with caplog.at_level(logging.WARNING, logger='voms_auth.voms'):
        text = lsc_refusal(pki)
    assert 'looks like an LSC file (DN lines) but its name does not end ' \
           'in .lsc' in text
    messages = ' '.join(r.getMessage() for r in caplog.records)
    assert 'ParseError' not in messages
    assert 'rename it to <VOMS server host>.lsc' in messages


def test_trust_load_logs_one_summary_line(tmp_path, caplog):
    pki = GridPKI(tmp_path)
    pki.add_ca('Orphan', parent=pki.untrusted_ca)
    with caplog.at_level(logging.INFO, logger='voms_auth.voms'):
        TrustStore(pki.ca_path, pki.vomsdir).snapshot()
    [summary] = [r.getMessage() for r in caplog.records
                 if r.getMessage().startswith('loaded trust material')]
    assert '4 CAs (2 anchors) and 4 CRLs' in summary
    assert '1 VOs' in summary and '1 problem(s)' in summary
    assert any('CN=Orphan is not a trust anchor' in r.getMessage()
               for r in caplog.records if r.levelno == logging.WARNING)
