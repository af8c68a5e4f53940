"""The settled path (a leaf under a directory CA whose own path was
verified once per trust snapshot) checks the leaf by hand; it must accept
only what ``cryptography``'s path validation accepts.

Every variant below is a user certificate as a CA could sign it, loaded as
a presented chain is; the settled path's verdict is compared with the full
validation's. A check removed from the settled path makes a variant the
full validation refuses pass there, and the test fail.
"""

import base64
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from tests.support.pki import GridPKI, der_children, der_content, der_tlv
from voms_auth.voms import TrustStore, Verifier, certs, errors
from voms_auth.voms import verifier as verifier_mod

UTC = datetime.timezone.utc
SHA256_RSA = bytes.fromhex('300d06092a864886f70d01010b0500')
SHA384_RSA = bytes.fromhex('300d06092a864886f70d01010c0500')
SHA1_RSA = bytes.fromhex('300d06092a864886f70d0101050500')


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    pki = GridPKI(tmp_path_factory.mktemp('grid'))
    root = pki.add_ca('RSA Root CA', org='rsa', key_type='rsa')
    issuing = pki.add_ca('RSA Issuing CA', org='rsa', parent=root,
                         key_type='rsa')
    user = pki.new_user('Vera Variant', ca=issuing)
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=3600)
    return pki, issuing, user, store


def _fields(cert):
    blob = cert.public_bytes(serialization.Encoding.DER)
    return der_children(der_content(der_children(der_content(blob))[0]))


def _utc(when):
    return der_tlv(0x17, when.strftime('%y%m%d%H%M%SZ').encode())


def _generalized(when):
    return der_tlv(0x18, when.strftime('%Y%m%d%H%M%SZ').encode())


def _sign(fields, key, *, inner=SHA256_RSA, outer=None,
          hash_algorithm=None, version=True):
    hash_algorithm = hash_algorithm or hashes.SHA256()
    fields = list(fields)
    fields[2 if version else 1] = inner
    tbs = der_tlv(0x30, b''.join(fields))
    signature = key.sign(tbs, padding.PKCS1v15(), hash_algorithm)
    blob = der_tlv(0x30, tbs + (outer or inner)
                   + der_tlv(0x03, b'\x00' + signature))
    return b'-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n' % (
        base64.encodebytes(blob))


def _variant(world, name):
    """(PEM of the variant ``name`` of the user's certificate, the instant
    to check it at)."""
    pki, issuing, user, _ = world
    fields = _fields(user.cert)
    key = issuing.key
    at = datetime.datetime.now(UTC)
    now = at.replace(microsecond=0)
    if name == 'as issued':
        return _sign(fields, key), at
    if name == 'signed with SHA-1':
        return _sign(fields, key, inner=SHA1_RSA,
                     hash_algorithm=hashes.SHA1()), at  # noqa: S303 - refused
    if name == 'outer algorithm differs':
        return _sign(fields, key, outer=SHA384_RSA), at
    if name == 'version 1':
        return _sign(fields[1:7], key, version=False), at
    if name == 'negative serial':
        fields[1] = der_tlv(0x02, b'\xff\x01')
        return _sign(fields, key), at
    if name == 'serial of 22 octets':
        fields[1] = der_tlv(0x02, b'\x01' * 22)
        return _sign(fields, key), at
    if name == 'GeneralizedTime before 2050':
        fields[4] = der_tlv(0x30, _utc(now - datetime.timedelta(days=1))
                            + _generalized(now + datetime.timedelta(days=9)))
        return _sign(fields, key), at
    if name == 'expired':
        return _sign(fields, key), at + datetime.timedelta(days=400)
    if name == 'not yet valid':
        return _sign(fields, key), at - datetime.timedelta(days=2)
    if name == 'signed by another key':
        return _sign(fields, rsa.generate_private_key(65537, 2048)), at
    if name == 'unknown critical extension':
        extensions = der_children(der_content(der_children(
            der_content(fields[7]))[0]))
        odd = der_tlv(0x30, der_tlv(0x06, bytes.fromhex('2b0601040182b07801'))
                      + der_tlv(0x01, b'\xff') + der_tlv(0x04, b'\x05\x00'))
        fields[7] = der_tlv(0xa3, der_tlv(0x30, b''.join(extensions + [odd])))
        return _sign(fields, key), at
    raise AssertionError(name)


def _verdicts(world, name):
    """(settled path accepted, full validation accepted) of a variant."""
    _, _, _, store = world
    pem, at = _variant(world, name)
    snap = store.snapshot()
    verifier = Verifier(store, cache_size=0)
    leaf, = certs.load_chain([pem])
    try:
        settled = verifier_mod._fast_path(leaf, at, snap) is not None
        try:
            verifier._full_path(leaf, [], at, snap, 'user')
            full = True
        except errors.VomsError:
            full = False
    finally:
        certs.forget([leaf])
    return settled, full


@pytest.mark.parametrize('name, settled, full', [
    ('as issued', True, True),
    ('signed with SHA-1', False, False),
    ('outer algorithm differs', False, False),
    ('version 1', False, False),
    ('negative serial', False, False),
    ('serial of 22 octets', False, False),
    ('GeneralizedTime before 2050', False, False),
    ('expired', False, False),
    ('not yet valid', False, False),
    ('signed by another key', False, False),
])
def test_the_settled_path_agrees_with_the_full_validation(world, name,
                                                          settled, full):
    assert _verdicts(world, name) == (settled, full)


def test_a_leaf_outside_its_rules_is_left_to_the_full_validation(world):
    settled, _ = _verdicts(world, 'unknown critical extension')
    assert settled is False


def _ca(key, *, name=None):
    if name is None:
        name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME,
                                             'Weak CA')])
    now = datetime.datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(5)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                           critical=True)
            .sign(key, hashes.SHA256()))


@pytest.mark.parametrize('make, kind', [
    (lambda: rsa.generate_private_key(65537, 2048), 'rsa'),
    (lambda: rsa.generate_private_key(65537, 1024), None),  # noqa: S505
    (lambda: ec.generate_private_key(ec.SECP256R1()), 'ec'),
    (lambda: ec.generate_private_key(ec.SECP384R1()), 'ec'),
    (lambda: ec.generate_private_key(ec.SECP224R1()), None),
], ids=['rsa-2048', 'rsa-1024', 'p-256', 'p-384', 'p-224'])
def test_an_issuer_key_the_path_validation_refuses_is_not_settled(make,
                                                                   kind):
    found = verifier_mod._settled_key(_ca(make()))
    assert (found[0] if found else None) == kind


def test_a_ca_with_an_empty_name_is_not_settled():
    key = rsa.generate_private_key(65537, 2048)
    assert verifier_mod._settled_key(_ca(key, name=x509.Name([]))) is None


@pytest.mark.parametrize('name', ['as issued', 'version 1',
                                  'GeneralizedTime before 2050',
                                  'outer algorithm differs'])
def test_the_fields_sliced_are_what_cryptography_encodes(world, name):
    pem, _ = _variant(world, name)
    cert = x509.load_pem_x509_certificate(pem)
    found = certs.fields_of(cert.public_bytes(serialization.Encoding.DER))
    assert found.tbs == cert.tbs_certificate_bytes
    assert found.issuer == cert.issuer.public_bytes()
    assert found.subject == cert.subject.public_bytes()
    assert found.key_info == cert.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    assert found.validity_tags[1] == (
        0x18 if name == 'GeneralizedTime before 2050' else 0x17)
    assert (found.signature_algorithm == found.outer_signature_algorithm) \
        is (name != 'outer algorithm differs')


def test_the_fields_of_a_proxy_with_an_ac_are_sliced_right(world):
    pki, _, user, _ = world
    data = pki.make_proxy(user).read_bytes()
    for cert in x509.load_pem_x509_certificates(data):
        found = certs.fields_of(cert.public_bytes(
            serialization.Encoding.DER))
        assert (found.tbs, found.issuer, found.subject) == (
            cert.tbs_certificate_bytes, cert.issuer.public_bytes(),
            cert.subject.public_bytes())
