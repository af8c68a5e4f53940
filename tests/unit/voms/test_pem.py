"""The core helpers the Keystone glue uses: proxy detection, PEM split."""

import base64
import random

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from voms_auth.voms.pem import split_complete, split_pem_certificates
from voms_auth.voms.proxy import is_proxy_pem


def _pem(der):
    body = base64.encodebytes(der).decode('ascii')
    return '-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n' % (
        body)


def _with_duplicate_extension(pem):
    """``pem`` re-encoded with its first extension twice (a certificate
    cryptography loads but refuses to decode the extensions of)."""
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    cert = asn1_x509.Certificate.load(der)
    tbs = cert['tbs_certificate']
    extensions = list(tbs['extensions'])
    tbs['extensions'] = [extensions[0].copy()] + [e.copy()
                                                  for e in extensions]
    return _pem(cert.dump(force=True))


def test_split_keeps_certificates_in_order_and_skips_the_key(world, pki):
    text = pki.make_proxy(world.jane).read_text()
    blocks = split_pem_certificates(text)
    assert len(blocks) == 2 and 'PRIVATE KEY' not in ''.join(blocks)
    certs = [x509.load_pem_x509_certificate(b.encode()) for b in blocks]
    assert certs[1].subject == certs[0].issuer
    assert split_pem_certificates(text.encode()) == [
        b.encode() for b in blocks]


def test_split_of_text_without_certificates():
    assert split_pem_certificates('-----BEGIN CERTIFICATE-----\nabc') == []
    assert split_pem_certificates(b'') == []


def test_proxy_and_user_certificate(world, pki):
    proxy, user = split_pem_certificates(
        pki.make_proxy(world.jane).read_text())
    assert is_proxy_pem(proxy) and is_proxy_pem(proxy.encode())
    assert not is_proxy_pem(user)


def test_legacy_proxy_counts_as_proxy(world, pki):
    proxy = split_pem_certificates(
        pki.make_proxy(world.jane, rfc=False).read_text())[0]
    assert is_proxy_pem(proxy)


@pytest.mark.parametrize('data', [
    '', 'garbage', None, 42, '\u00e9t\u00e9',
    '-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n',
])
def test_unparseable_counts_as_proxy(data):
    assert is_proxy_pem(data) is True


def test_undecodable_extensions_count_as_proxy(world):
    user = world.jane.cert_path.read_bytes()
    broken = _with_duplicate_extension(user)
    cert = x509.load_pem_x509_certificate(broken.encode())
    with pytest.raises(x509.DuplicateExtension):
        cert.extensions              # noqa: B018 - what is_proxy_pem meets
    assert is_proxy_pem(broken) is True


@pytest.mark.parametrize('size', [300, 301, 302])
def test_only_canonical_base64_takes_the_quick_pem_decoder(size):
    """The quick decoder (``certs._canonical_pem_der``) takes a PEM block
    only in canonical base64; anything else goes to cryptography's PEM
    reader, which words the refusal. The last group decides: its unused
    bits must be zero and its padding complete."""
    from voms_auth.voms import certs

    blob = bytes(range(256)) + bytes(size - 256)
    body = base64.b64encode(blob)
    pem = b'-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n'
    assert certs._canonical_pem_der(pem % body) == blob
    tail = size % 3
    if tail:
        # the same bytes, with a non-zero unused bit in the last group
        last = body[-4:]
        index = 1 if tail == 1 else 2
        alphabet = (b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
                    b'0123456789+/')
        odd = alphabet[alphabet.index(last[index:index + 1]) + 1]
        odd_body = body[:-4] + last[:index] + bytes([odd]) + last[index + 1:]
        assert base64.b64decode(odd_body) == blob
        assert certs._canonical_pem_der(pem % odd_body) is None
        assert certs._canonical_pem_der(pem % body[:-1]) is None
    assert certs._canonical_pem_der(pem % (body + b'AAAA')) != blob


# -- split_complete: the blocks, and whether every BEGIN has its END ------

_PIECES = [b'-----BEGIN CERTIFICATE-----\n', b'-----END CERTIFICATE-----\n',
           b'-----BEGIN RSA PRIVATE KEY-----\n',
           b'-----END RSA PRIVATE KEY-----\n', b'MIIBIjAN\n', b'-', b'--',
           b'-----', b'------', b'BEGIN ', b'END ', b'BEGIN', b'\n', b'x',
           b'\r\n', b' ', b'-----BEGIN ', b'-----END ',
           b'-----END CERTIFICATE-----', b'-----BEGIN CERTIFICATE-----',
           b'CERTIFICATE-----', b'-----BEGIN CERTIFICATE-----BEGIN ',
           b'-----END CERTIFICATE-----END ']


@pytest.mark.parametrize('data', [
    b'',
    b'-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n',
    b'-----BEGIN CERTIFICATE-----\nQUJD\n',                  # truncated
    # a match that starts in the dashes ending a BEGIN line
    b'-----BEGIN CERTIFICATE-----BEGIN X-----END CERTIFICATE-----',
    # and in those ending an END line
    b'-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----END ',
    b'-----BEGIN CERTIFICATE-----\nQU-JD\n-----END CERTIFICATE-----\n',
])
def test_split_complete_is_the_split_and_the_two_counts(data):
    assert split_complete(data) == (
        split_pem_certificates(data),
        data.count(b'-----BEGIN ') == data.count(b'-----END '))


def test_split_complete_agrees_with_the_counts_on_random_texts():
    rng = random.Random(15)  # noqa: S311 - reproducible test texts
    balanced = 0
    for _ in range(30000):
        data = b''.join(rng.choice(_PIECES)
                        for _ in range(rng.randint(0, 16)))
        want = data.count(b'-----BEGIN ') == data.count(b'-----END ')
        assert split_complete(data) == (split_pem_certificates(data),
                                        want), data
        balanced += want
    assert 1000 < balanced < 29000        # both verdicts were exercised
