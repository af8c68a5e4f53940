"""Verification of real voms-proxy-fake proxies: what is accepted, and every
refusal with its reason."""

import dataclasses
import datetime
import hashlib
import re
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import (
    ec,
    ed25519,
    padding,
    rsa,
)

from tests.support import pki as pki_mod
from voms_auth import errors as root_errors
from voms_auth.identity import KIND_VOMS
from voms_auth.voms import Verifier, ac, certs, errors, proxy
from voms_auth.voms import credential as credential_mod

UTC = datetime.timezone.utc


def voms_proxy_info(pki, path):
    """user, VO and FQANs as voms-proxy-info --all reads them (content
    oracle only: it prints ACs it cannot verify too)."""
    out = subprocess.run(
        ['voms-proxy-info', '--all', '--file', str(path)],
        capture_output=True, text=True, timeout=60, check=False,
        env={'X509_CERT_DIR': str(pki.ca_path),
             'X509_VOMS_DIR': str(pki.vomsdir), 'PATH': '/usr/bin:/bin'})
    text = out.stdout
    return {
        'identity': re.search(r'^identity\s*:\s*(.+)$', text, re.M)
        .group(1).strip(),
        'vo': re.search(r'^VO\s*:\s*(.+)$', text, re.M).group(1).strip(),
        'fqans': [a.strip() for a in
                  re.findall(r'^attribute\s*:\s*(.+)$', text, re.M)],
    }


def assert_matches_oracle(pki, path, cred):
    """The verified user, VO and FQANs are what voms-proxy-info reads."""
    oracle = voms_proxy_info(pki, path)
    assert cred.user == oracle['identity']
    assert cred.vo == oracle['vo']
    assert list(cred.fqans) == oracle['fqans']


def certs_of(path):
    text = path.read_text()
    return re.findall(r'-----BEGIN CERTIFICATE-----.+?-----END '
                      r'CERTIFICATE-----\n?', text, re.S)


# -- accepted ---------------------------------------------------------------

def test_rfc_proxy_matches_voms_proxy_info(world, pki, verifier):
    fqans = ['/dteam', '/dteam/ibergrid/Role=VM-Manager/Capability=NULL']
    path = pki.make_proxy(world.jane, fqans=fqans)
    cred = verifier.verify_pem(path.read_bytes())
    oracle = voms_proxy_info(pki, path)
    assert cred.user == oracle['identity'] == world.jane.dn
    assert cred.vo == oracle['vo'] == 'dteam'
    assert list(cred.fqans) == oracle['fqans'] == fqans
    assert cred.user_ca == '/DC=org/DC=example/CN=Example Issuing CA'
    assert cred.server == pki.voms_server.dn
    assert cred.uri == pki.voms_server.uri
    assert cred.proxy_depth == 1


def test_proxy_fingerprint_is_the_sha256_of_the_presented_proxy(
        world, pki, verifier):
    path = pki.make_proxy(world.jane, fqans=['/dteam'])
    cred = verifier.verify_pem(path.read_bytes())
    presented = x509.load_pem_x509_certificate(
        certs_of(path)[0].encode()).public_bytes(serialization.Encoding.DER)
    expected = hashlib.sha256(presented).hexdigest()
    assert cred.proxy_fingerprint == expected
    assert cred.as_dict()['proxy_fingerprint'] == expected
    assert cred.proxy_der == presented         # hashed when read
    # a copy is the same credential, another proxy another one
    assert dataclasses.replace(cred) == cred
    assert dataclasses.replace(cred, proxy_der=presented + b'x') != cred


def test_a_large_proxy_keeps_its_fingerprint_not_its_der(world, pki,
                                                         verifier):
    # a proxy over KEPT_PROXY_DER bytes (a big non-critical extension):
    # its fingerprint is computed at once and its DER not kept (what the
    # result cache holds stays small); copies keep the fingerprint
    path = pki.delegate(world.jane, ac_from=pki.make_proxy(world.jane),
                        extra_extensions=[(x509.UnrecognizedExtension(
                            x509.ObjectIdentifier('1.2.3.4'),
                            b'\x04\x82\x27\x10' + b'x' * 10000), False)])
    cred = verifier.verify_pem(path.read_bytes())
    presented = x509.load_pem_x509_certificate(
        certs_of(path)[0].encode()).public_bytes(serialization.Encoding.DER)
    assert len(presented) > credential_mod.KEPT_PROXY_DER
    expected = hashlib.sha256(presented).hexdigest()
    assert cred.proxy_der == b''
    assert cred.proxy_fingerprint == expected
    assert dataclasses.replace(cred).proxy_fingerprint == expected


def test_several_fqans_keep_ac_order(world, pki, verifier):
    fqans = ['/dteam/ibergrid', '/dteam', '/dteam/a/b/Role=admin',
             '/dteam/x']
    path = pki.make_proxy(world.jane, fqans=fqans)
    cred = verifier.verify_pem(path.read_bytes())
    assert list(cred.fqans) == fqans == voms_proxy_info(pki, path)['fqans']
    ident = cred.identity()
    assert [m.group for m in ident.memberships] == [
        '/dteam/ibergrid', '/dteam', '/dteam/a/b', '/dteam/x']
    assert [m.role for m in ident.memberships] == [None, None, 'admin',
                                                   None]


def test_identity_fields(world, pki, verifier):
    path = pki.make_proxy(world.jane, fqans=['/dteam'], hours=6,
                          vomslife=2)
    cred = verifier.verify_pem(path.read_bytes())
    ident = cred.identity()
    assert ident.kind == KIND_VOMS
    assert ident.subject == world.jane.dn
    assert ident.issuer == world.jane.ca_dn
    assert ident.name == 'Jane Doe'
    assert ident.attributes['vo'] == 'dteam'
    assert ident.attributes['server'] == pki.voms_server.dn
    # the AC (2 h) ends before the proxy (6 h): it sets the expiry
    assert cred.expires_at == cred.not_after
    assert ident.expires_at == cred.expires_at
    left = cred.expires_at - datetime.datetime.now(UTC)
    assert datetime.timedelta(hours=1.9) < left < datetime.timedelta(
        hours=2.1)


def test_expiry_is_the_proxy_when_it_ends_first(world, pki, verifier):
    path = pki.make_proxy(world.jane, hours=1, vomslife=5)
    cred = verifier.verify_pem(path.read_bytes())
    assert cred.expires_at < cred.not_after
    left = cred.expires_at - datetime.datetime.now(UTC)
    assert datetime.timedelta(minutes=55) < left < datetime.timedelta(
        minutes=61)


def test_user_directly_under_root(world, pki, verifier):
    path = pki.make_proxy(world.root_user, fqans=['/dteam/root'])
    cred = verifier.verify_pem(path.read_bytes())
    assert cred.user_ca == pki.root_ca.dn
    assert_matches_oracle(pki, path, cred)


def test_user_under_intermediate(world, pki, verifier):
    path = pki.make_proxy(world.jane)
    cred = verifier.verify_pem(path.read_bytes())
    assert cred.user_ca == pki.issuing_ca.dn != pki.root_ca.dn
    assert_matches_oracle(pki, path, cred)


def test_proxy_of_a_proxy(world, pki, verifier):
    first = pki.make_proxy(world.jane, fqans=['/dteam/sub'])
    second = pki.delegate(first)
    cred = verifier.verify_pem(second.read_bytes())
    assert cred.proxy_depth == 2
    assert cred.user == world.jane.dn
    assert cred.fqans == ('/dteam/sub',)
    oracle = voms_proxy_info(pki, second)
    # voms-proxy-info's "identity" is the leaf's issuer: here the first
    # proxy, i.e. the user's DN plus one CN
    assert oracle['identity'].startswith(cred.user + '/CN=')
    assert (oracle['vo'], oracle['fqans']) == (cred.vo, list(cred.fqans))


def test_chain_order_does_not_matter(world, pki, verifier):
    second = pki.delegate(pki.make_proxy(world.jane))
    proxy, *rest = certs_of(second)
    cred = verifier.verify_chain([proxy] + list(reversed(rest)))
    assert cred.proxy_depth == 2


def test_verify_chain_as_mod_ssl_passes_it(world, pki, verifier):
    path = pki.make_proxy(world.jane)
    proxy, eec = certs_of(path)
    cred = verifier.verify_chain([proxy, eec.encode()])
    assert cred.user == world.jane.dn


def test_chain_with_ca_certificates_as_mod_ssl_may_send(world, pki,
                                                         verifier):
    proxy, eec = certs_of(pki.make_proxy(world.jane))
    cas = [pki.root_ca.cert, pki.issuing_ca.cert]
    from cryptography.hazmat.primitives.serialization import Encoding
    cred = verifier.verify_chain(
        [proxy] + [c.public_bytes(Encoding.PEM) for c in cas] + [eec])
    assert cred.user == world.jane.dn


def test_target_match(world, pki, verifier):
    path = pki.make_proxy(world.jane,
                          target=['other.example.org',
                                  'keystone.example.org'])
    cred = verifier.verify_pem(path.read_bytes())
    assert cred.targets == ('other.example.org', 'keystone.example.org')
    assert_matches_oracle(pki, path, cred)


def test_same_dn_from_another_ca_is_another_issuer(world, pki, verifier):
    a = verifier.verify_pem(pki.make_proxy(world.jane).read_bytes())
    twin_path = pki.make_proxy(world.twin)
    b = verifier.verify_pem(twin_path.read_bytes())
    assert_matches_oracle(pki, twin_path, b)
    assert a.user == b.user
    assert a.user_ca != b.user_ca == pki.other_ca.dn
    assert a.identity() != b.identity()


def test_server_certificate_in_vomsdir(world, pki, verifier):
    path = pki.make_proxy(world.jane, vo='ops', fqans=['/ops'],
                          server=world.ops_server)
    cred = verifier.verify_pem(path.read_bytes())
    assert cred.vo == 'ops'
    assert_matches_oracle(pki, path, cred)


def test_at_verifies_an_archived_proxy(world, pki, verifier):
    path = pki.make_proxy(world.jane, hours=1, vomslife=1)
    later = datetime.datetime.now(UTC) + datetime.timedelta(minutes=30)
    assert verifier.verify_pem(path.read_bytes(), at=later).vo == 'dteam'
    with pytest.raises(errors.ProxyExpired):
        verifier.verify_pem(path.read_bytes(),
                            at=later + datetime.timedelta(hours=1))


def test_allow_expired_crl_switch(world, pki):
    from voms_auth.voms import TrustStore
    store = TrustStore(pki.ca_path, pki.vomsdir, allow_expired_crl=True)
    path = pki.make_proxy(world.stale_user)
    cred = Verifier(store).verify_pem(path.read_bytes())
    assert cred.user == world.stale_user.dn


# -- refused ----------------------------------------------------------------

def refused(verifier, path_or_bytes, error, match):
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else \
        path_or_bytes.read_bytes()
    with pytest.raises(error, match=match) as info:
        verifier.verify_pem(data)
    assert isinstance(info.value, root_errors.CredentialError)
    return info.value


def test_expired_proxy(world, pki, verifier):
    refused(verifier, pki.make_proxy(world.jane, hours=1, pastproxy='2:00'),
            errors.ProxyExpired, r'proxy .*CN=Jane Doe/CN=\d+ expired at')


def test_expired_ac(world, pki, verifier):
    refused(verifier, pki.make_proxy(world.jane, vomslife=1, pastac='3:00'),
            errors.ACExpired, 'AC of VO dteam expired at')


def test_not_yet_valid_ac(world, pki, verifier):
    # proxy valid from 3 h ago, AC from now: as of 1 h ago only the AC
    # is not valid yet.
    path = pki.make_proxy(world.jane, pastproxy='3:00', hours=6)
    at = datetime.datetime.now(UTC) - datetime.timedelta(hours=1)
    with pytest.raises(errors.ACNotYetValid, match='not valid before'):
        verifier.verify_pem(path.read_bytes(), at=at)


def test_ac_from_server_missing_from_lsc(world, pki, verifier):
    path = pki.make_proxy(world.jane, server=world.rogue_server)
    refused(verifier, path, errors.ACServerNotTrusted,
            'AC signed by /DC=org/DC=example/OU=Hosts/CN=voms2.example.org,'
            ' which no LSC file in .*vomsdir/dteam lists')


def test_ac_signature_does_not_verify(world, pki, verifier):
    good = pki.make_proxy(world.jane)
    forged = pki.delegate(world.jane, ac_from=good,
                          corrupt_ac_signature=True)
    refused(verifier, forged, errors.ACSignatureInvalid,
            'signature does not verify with the key of .*voms.example.org')
    # control: the same graft without corruption passes
    ok = pki.delegate(world.jane, ac_from=good)
    assert verifier.verify_pem(ok.read_bytes()).user == world.jane.dn


def test_ac_algorithm_that_does_not_fit_the_server_key(world, pki,
                                                       verifier):
    # the AC of an RSA VOMS server relabelled ecdsa-with-SHA256, in the
    # signed part and beside it (the framing stays valid): refused for the
    # key, before any signature is checked
    value = pki_mod.voms_extension_value(pki.make_proxy(world.jane))
    fields, algorithm, signature = pki_mod.ac_parts(value)
    assert ac.parse_acs(value)[0].signature_oid.startswith(
        '1.2.840.113549.1.1.')                        # RSA
    ecdsa = pki_mod.der_tlv(0x30, bytes.fromhex('06082a8648ce3d040302'))
    assert fields[3] == algorithm
    fields[3] = ecdsa
    relabelled = pki_mod.ac_value(fields, ecdsa, signature)
    forged = pki.delegate(world.jane, extra_extensions=[(
        x509.UnrecognizedExtension(ac.OID_VOMS_ACS, relabelled), False)])
    refused(verifier, forged, errors.ACSignatureInvalid,
            'the AC signature algorithm 1.2.840.10045.4.3.2 does not fit the '
            'key of .*voms.example.org')


def test_key_kind_and_a_key_of_no_supported_kind():
    rsa_key = rsa.generate_private_key(65537, 2048).public_key()
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    ed_key = ed25519.Ed25519PrivateKey.generate().public_key()
    for _ in range(2):            # (the second time remembered)
        assert [proxy.key_kind(k) for k in (rsa_key, ec_key, ed_key)] == [
            'rsa', 'ec', None]
    with pytest.raises(TypeError, match='unsupported issuer key type '
                                        'Ed25519PublicKey'):
        proxy.verify_with_key(ed_key, b'signature', b'data', hashes.SHA256())


def test_vo_without_vomsdir_directory(world, pki, verifier):
    path = pki.make_proxy(world.jane, vo='ghostvo', fqans=['/ghostvo'])
    refused(verifier, path, errors.UnknownVO,
            'VO ghostvo, which has no directory in')


def test_user_from_untrusted_ca(world, pki, verifier):
    refused(verifier, pki.make_proxy(world.stranger), errors.UntrustedCA,
            'issued by /DC=org/DC=evil/CN=Untrusted CA, which is not a '
            'trusted CA')


def test_user_certificate_cannot_act_as_a_ca(world, pki, verifier):
    from cryptography.hazmat.primitives import serialization

    from tests.support.pki import CA
    bob_as_ca = CA(label='Bob as CA', cert=world.bob.cert,
                   key=serialization.load_pem_private_key(
                       world.bob.key_path.read_bytes(), password=None),
                   parent=None, trusted=False)
    fake = pki.new_user('Fake Person', ca=bob_as_ca)
    chain = certs_of(pki.make_proxy(fake))
    with pytest.raises(errors.CertificateInvalid,
                       match='CN=Fake Person .* does not chain to a trusted'):
        verifier.verify_chain(chain + [world.bob.cert_path.read_text()])


def test_ca_without_key_cert_sign(world, pki, verifier):
    refused(verifier, pki.make_proxy(world.under_no_sign_ca),
            errors.CertificateInvalid,
            'CN=Nina .* does not chain to a trusted CA.*keyCertSign')


def test_presenting_the_untrusted_ca_does_not_help(world, pki, verifier):
    from cryptography.hazmat.primitives.serialization import Encoding
    chain = certs_of(pki.make_proxy(world.stranger))
    with pytest.raises(errors.CertificateInvalid,
                       match='does not chain to a trusted CA'):
        verifier.verify_chain(chain + [
            pki.untrusted_ca.cert.public_bytes(Encoding.PEM)])


def test_revoked_user(world, pki, verifier):
    refused(verifier, pki.make_proxy(world.revoked),
            errors.CertificateRevoked,
            r'CN=Rex Revoked \(serial \d+\) was revoked by '
            '/DC=org/DC=example/CN=Example Issuing CA')


def test_revoked_intermediate_ca(world, pki, verifier):
    refused(verifier, pki.make_proxy(world.under_revoked_ca),
            errors.CertificateRevoked,
            'CN=Revoked Sub CA .* was revoked by .*CN=Example Root CA')


def test_expired_crl(world, pki, verifier):
    refused(verifier, pki.make_proxy(world.stale_user), errors.CRLExpired,
            'the CRL of /DC=org/DC=example/CN=Stale CA expired at')


def test_proxy_subject_violation(world, pki, verifier):
    path = pki.make_proxy(world.jane, extra_args=[
        '-newsubject', '/DC=org/DC=example/OU=People/CN=Bob Smith/CN=1'])
    refused(verifier, path, errors.ProxyViolation,
            "subject must be its issuer's subject")


def test_proxy_signed_by_someone_else(world, pki, verifier):
    forged = pki.delegate(world.jane, sign_with=world.bob)
    refused(verifier, forged, errors.ProxyViolation,
            'signature does not verify with the key of .*CN=Jane Doe')


def test_proxy_of_proxy_signed_by_someone_else(world, pki, verifier):
    first = pki.make_proxy(world.jane)
    forged = pki.delegate(first, sign_with=world.bob)
    refused(verifier, forged, errors.ProxyViolation,
            'signature does not verify')


def test_independent_proxy(world, pki, verifier):
    path = pki.delegate(world.jane, policy='1.3.6.1.5.5.7.21.2',
                        ac_from=pki.make_proxy(world.jane))
    refused(verifier, path, errors.ProxyViolation, 'independent proxy')


def test_unknown_proxy_policy_language(world, pki, verifier):
    path = pki.delegate(world.jane, policy='1.2.3.4.5',
                        ac_from=pki.make_proxy(world.jane))
    refused(verifier, path, errors.ProxyViolation,
            'unknown policy language 1.2.3.4.5')


def test_limited_proxy_is_accepted(world, pki, verifier):
    path = pki.delegate(world.jane, policy='1.3.6.1.4.1.3536.1.1.1.9',
                        ac_from=pki.make_proxy(world.jane))
    assert verifier.verify_pem(path.read_bytes()).user == world.jane.dn


def test_proxy_claiming_to_be_a_ca(world, pki, verifier):
    from cryptography import x509
    path = pki.delegate(world.jane, ac_from=pki.make_proxy(world.jane),
                        extra_extensions=[(x509.BasicConstraints(
                            ca=True, path_length=None), True)])
    refused(verifier, path, errors.ProxyViolation, 'claims to be a CA')


def test_proxy_with_subject_alt_name(world, pki, verifier):
    from cryptography import x509
    path = pki.delegate(world.jane, ac_from=pki.make_proxy(world.jane),
                        extra_extensions=[(x509.SubjectAlternativeName(
                            [x509.DNSName('x.example.org')]), False)])
    refused(verifier, path, errors.ProxyViolation, 'alternative name')


def test_proxy_with_unknown_critical_extension(world, pki, verifier):
    from cryptography import x509
    path = pki.delegate(world.jane, ac_from=pki.make_proxy(world.jane),
                        extra_extensions=[(x509.UnrecognizedExtension(
                            x509.ObjectIdentifier('1.2.3.4'), b'\x05\x00'),
                            True)])
    refused(verifier, path, errors.ProxyViolation,
            'unknown critical extension 1.2.3.4')


def test_non_critical_proxy_cert_info(world, pki, verifier):
    path = pki.delegate(world.jane, ac_from=pki.make_proxy(world.jane),
                        pci_critical=False)
    refused(verifier, path, errors.ProxyViolation, 'not critical')


SHA384_RSA = bytes.fromhex('300d06092a864886f70d01010c0500')


@pytest.mark.parametrize('change, reason', [
    # no [0] version: X.509 v1, which cannot carry ProxyCertInfo
    (lambda fields: fields[1:], 'not an X.509 version 3 certificate'),
    # the signed algorithm field says SHA-384, the one beside it SHA-256
    (lambda fields: fields[:2] + [SHA384_RSA] + fields[3:],
     'two different signature algorithms'),
])
def test_proxy_of_an_odd_form_is_refused(world, pki, verifier, tmp_path,
                                         change, reason):
    odd = pki_mod.resigned_proxy(world.jane, pki.make_proxy(world.jane),
                                 change, tmp_path / 'odd.pem')
    refused(verifier, odd, errors.ProxyViolation, reason)


def test_an_rsa_algorithm_over_an_ec_signature_is_refused():
    """A certificate labelled RSA whose issuer's key is EC does not
    verify, even though the issuer's ECDSA signature would."""
    now = datetime.datetime.now(datetime.timezone.utc)
    issuer_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, 'i')])
    issuer = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
              .public_key(issuer_key.public_key()).serial_number(1)
              .not_valid_before(now)
              .not_valid_after(now + datetime.timedelta(hours=1))
              .sign(issuer_key, hashes.SHA256()))
    child = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
             .public_key(issuer_key.public_key()).serial_number(2)
             .not_valid_before(now)
             .not_valid_after(now + datetime.timedelta(hours=1))
             .sign(issuer_key, hashes.SHA256()))
    blob = child.public_bytes(serialization.Encoding.DER)
    fields = pki_mod.der_children(pki_mod.der_content(
        certs.fields_of(blob).tbs))
    for label in (SHA256_RSA, SHA384_RSA):
        body = pki_mod.der_tlv(0x30, b''.join(fields[:2] + [label]
                                              + fields[3:]))
        signature = issuer_key.sign(body, ec.ECDSA(hashes.SHA256()))
        relabelled = pki_mod.der_tlv(0x30, body + label + pki_mod.der_tlv(
            0x03, b'\x00' + signature))
        chain = certs.load_chain([
            x509.load_der_x509_certificate(relabelled).public_bytes(
                serialization.Encoding.PEM),
            issuer.public_bytes(serialization.Encoding.PEM)])
        try:
            with pytest.raises(TypeError, match='RSA signature algorithm '
                                                'for an EC key'):
                proxy.verify_signature(chain[0], chain[1])
        finally:
            certs.forget(chain)


def test_proxy_path_length_violation(world, pki, verifier):
    first = pki.make_proxy(world.jane, extra_args=['-path-length', '0'])
    refused(verifier, pki.delegate(first), errors.ProxyViolation,
            'allows 0 proxies below it, but 1 follow')


def test_ac_holder_is_not_the_presenting_user(world, pki, verifier):
    janes = pki.make_proxy(world.jane)
    stolen = pki.delegate(world.bob, ac_from=janes)
    refused(verifier, stolen, errors.ACHolderMismatch,
            "issued to another certificate .* than the user's "
            '.*CN=Bob Smith')


def test_ac_holder_same_dn_other_serial(world, pki, verifier):
    # the twin has Jane's DN (from another CA) but another serial
    stolen = pki.delegate(world.twin, ac_from=pki.make_proxy(world.jane))
    refused(verifier, stolen, errors.ACHolderMismatch,
            'issued to another certificate')


def test_ac_holder_same_serial_other_name(world, pki, verifier):
    assert world.serial_twin.cert.serial_number == \
        world.jane.cert.serial_number
    stolen = pki.delegate(world.serial_twin,
                          ac_from=pki.make_proxy(world.jane))
    refused(verifier, stolen, errors.ACHolderMismatch,
            'issued to another certificate')


def test_expired_user_certificate(world, pki, verifier):
    proxy = pki.delegate(world.short_lived, hours=12)
    later = datetime.datetime.now(UTC) + datetime.timedelta(hours=2)
    with pytest.raises(errors.CertificateExpired,
                       match='user certificate .*CN=Sue Short expired at'):
        verifier.verify_pem(proxy.read_bytes(), at=later)


def test_not_yet_valid_proxy(world, pki, verifier):
    path = pki.make_proxy(world.jane)
    earlier = datetime.datetime.now(UTC) - datetime.timedelta(minutes=30)
    with pytest.raises(errors.ProxyNotYetValid, match='not valid before'):
        verifier.verify_pem(path.read_bytes(), at=earlier)


def test_revoked_voms_server(world, pki, verifier):
    path = pki.make_proxy(world.jane, server=world.revoked_server)
    refused(verifier, path, errors.CertificateRevoked,
            'CN=voms3.example.org .* was revoked')


def test_target_mismatch(world, pki, verifier):
    path = pki.make_proxy(world.jane, target='other.example.org')
    refused(verifier, path, errors.ACTargetMismatch,
            r'targeted at other.example.org, not at this service '
            r'\(keystone.example.org\)')


def test_targets_without_configured_service_host(world, pki):
    path = pki.make_proxy(world.jane, target='keystone.example.org')
    with pytest.raises(errors.ACTargetMismatch, match='no service host'):
        Verifier(world.store).verify_pem(path.read_bytes())


def test_unknown_critical_ac_extension(world, pki, verifier):
    path = pki.make_proxy(world.jane,
                          extra_args=['-acextension', '1.2.3.4/true:x'])
    refused(verifier, path, errors.ACUnknownCriticalExtension, '1.2.3.4')


def test_fqan_of_another_vo(world, pki, verifier):
    path = pki.make_proxy(world.jane, fqans=['/dteam', '/ops/admins'])
    refused(verifier, path, errors.MalformedAC,
            'AC of VO dteam states FQAN /ops/admins of another VO')


def test_malformed_fqan(world, pki, verifier):
    path = pki.make_proxy(world.jane, fqans=['/dteam//x'])
    refused(verifier, path, errors.MalformedAC, 'invalid FQAN')


@pytest.mark.parametrize('value,reason', [
    (b'garbage', 'cannot be decoded'),
    (b'\x30\x03\x30\x01\x00', 'cannot be decoded'),
    (b'\x30\x00', 'holds no attribute certificate'),
    (b'\x30\x02\x30\x00', 'holds no attribute certificate'),
])
def test_undecodable_voms_extension(world, pki, verifier, value, reason):
    from cryptography import x509
    path = pki.delegate(world.jane, extra_extensions=[(
        x509.UnrecognizedExtension(
            x509.ObjectIdentifier('1.3.6.1.4.1.8005.100.100.5'), value),
        False)])
    refused(verifier, path, errors.MalformedAC, reason)


def test_no_voms_extension(world, pki, verifier):
    refused(verifier, pki.make_proxy(world.jane, vo=None),
            errors.NoVomsExtension, 'carries no VOMS attribute certificate')


def test_chain_without_the_eec(world, pki, verifier):
    proxy, _eec = certs_of(pki.make_proxy(world.jane))
    with pytest.raises(errors.MissingEEC, match='does not hold '
                       '/DC=org/DC=example/OU=People/CN=Jane Doe'):
        verifier.verify_chain([proxy])


def test_plain_certificate_is_not_a_proxy(world, verifier):
    with pytest.raises(errors.NotAProxy):
        verifier.verify_chain([world.jane.cert_path.read_bytes()])


@pytest.mark.parametrize('cut', [0.3, 0.6, 0.95])
def test_truncated_pem(world, pki, verifier, cut):
    data = pki.make_proxy(world.jane).read_bytes()
    refused(verifier, data[:int(len(data) * cut)],
            errors.MalformedCredential, 'input is truncated')


@pytest.mark.parametrize('data', [
    b'', b'garbage', b'\x00\xff' * 100,
    b'-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n',
])
def test_garbage(verifier, data):
    refused(verifier, data, errors.MalformedCredential,
            'no PEM certificate|not a valid PEM')


def test_legacy_proxy(world, pki, verifier):
    refused(verifier, pki.make_proxy(world.jane, rfc=False),
            errors.LegacyProxy, r'legacy \(Globus GT2\) proxy')


def test_gt3_draft_proxy(world, pki, verifier):
    path = pki.make_proxy(world.jane, rfc=False,
                          extra_args=['-proxyver', '3'])
    refused(verifier, path, errors.LegacyProxy, 'GT3 draft')


def test_naive_at_is_a_programming_error(world, pki, verifier):
    with pytest.raises(ValueError):
        verifier.verify_pem(pki.make_proxy(world.jane).read_bytes(),
                            at=datetime.datetime(2030, 1, 1))


def test_corrupted_proxy_files_give_reasons_not_crashes(world, pki,
                                                        verifier):
    """Random byte changes: each one is refused with a VomsError, or
    accepted only when the certificates' DER is unchanged (the change hit
    the ignored key or an insignificant base64 bit)."""
    import random

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    data = pki.make_proxy(world.jane).read_bytes()

    def ders(blob):
        blocks = re.findall(rb'-----BEGIN CERTIFICATE-----.+?-----END '
                            rb'CERTIFICATE-----', blob, re.S)
        return [x509.load_pem_x509_certificate(b).public_bytes(
            serialization.Encoding.DER) for b in blocks]

    original = ders(data)
    rnd = random.Random(20261125)  # noqa: S311 - reproducible test input
    outcomes = set()
    for _ in range(300):
        corrupt = bytearray(data)
        for _ in range(rnd.randint(1, 3)):
            corrupt[rnd.randrange(len(corrupt))] = rnd.randrange(256)
        try:
            verifier.verify_pem(bytes(corrupt))
        except errors.VomsError as exc:
            outcomes.add(type(exc).__name__)
            assert str(exc)
        else:
            assert ders(bytes(corrupt)) == original
    assert {'MalformedCredential', 'ProxyViolation'} <= outcomes


def test_not_yet_valid_user_certificate(world, pki, verifier, tmp_path):
    jane = world.jane
    tomorrow = datetime.datetime.now(UTC) + datetime.timedelta(days=1)
    key = serialization.load_pem_private_key(jane.key_path.read_bytes(),
                                             password=None)
    cert = (x509.CertificateBuilder().subject_name(jane.cert.subject)
            .issuer_name(jane.ca.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(tomorrow)
            .not_valid_after(tomorrow + datetime.timedelta(days=30))
            .sign(jane.ca.key, hashes.SHA256()))
    cert_path = tmp_path / 'future-cert.pem'
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    future = dataclasses.replace(jane, cert=cert, cert_path=cert_path)
    with pytest.raises(errors.CertificateNotYetValid,
                       match='user certificate .* is not valid before'):
        verifier.verify_pem(pki.delegate(future).read_bytes())


SHA256_RSA = bytes.fromhex('300d06092a864886f70d01010b0500')
SHA1_RSA = bytes.fromhex('300d06092a864886f70d0101050500')


def test_the_proxy_signature_table_reads_as_cryptography_does():
    """Each algorithm ``proxy.verify_signature`` takes from its table by
    the DER bytes is the hash, key kind and padding ``cryptography``
    reads from a certificate signed with it."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, 'a')])
    now = datetime.datetime.now(datetime.timezone.utc)
    signed = []
    for key, hash_classes in (
            (rsa_key, (hashes.SHA224, hashes.SHA256, hashes.SHA384,
                       hashes.SHA512)),
            (ec_key, (hashes.SHA256, hashes.SHA384, hashes.SHA512))):
        for hash_cls in hash_classes:
            signed.append((x509.CertificateBuilder().subject_name(name)
                           .issuer_name(name).public_key(key.public_key())
                           .serial_number(1).not_valid_before(now)
                           .not_valid_after(now + datetime.timedelta(hours=1))
                           .sign(key, hash_cls()))
                          .public_bytes(serialization.Encoding.DER))
    # (the builder signs no SHA-1: both algorithm fields of an RSA SHA-256
    # one relabelled, which is all that is read here)
    signed.append(signed[1].replace(SHA256_RSA, SHA1_RSA))
    seen = set()
    for blob in signed:
        cert = x509.load_der_x509_certificate(blob)
        algorithm = certs.fields_of(blob).outer_signature_algorithm
        table_hash, table_kind = proxy._PROXY_SIGNATURES[algorithm]
        assert table_hash.name == cert.signature_hash_algorithm.name
        assert table_kind == proxy.key_kind(cert.public_key())
        if table_kind == 'rsa':
            assert isinstance(cert.signature_algorithm_parameters,
                              padding.PKCS1v15)
        seen.add(algorithm)
    assert seen == set(proxy._PROXY_SIGNATURES)
