"""Hostile input: certificates cryptography cannot fully decode, huge or
quadratic PEM, size limits. Every entry point raises only documented
errors (issue 10)."""

import subprocess
import sys
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from tests.support import pki as pki_mod
from voms_auth import errors as root_errors
from voms_auth.voms import ac, certs, errors, names
from voms_auth.voms.pem import split_pem_certificates
from voms_auth.voms.proxy import is_proxy_pem

EXPECTED = {
    'duplicate-extension': (errors.DuplicateCertificateExtension,
                            'carries extension 1.3.6.1.4.1.8005.100.100.5 '
                            'twice'),
    'bad-version': (errors.InvalidCertificateVersion,
                    'version number 5, which is no X.509 version'),
    'x400-crl-dp': (errors.UnsupportedGeneralName, 'X.400 address'),
    'x400-san': (errors.UnsupportedGeneralName, 'X.400 address'),
    'cn-bitstring': (errors.InvalidNameValue, 'BitString'),
    'cn-bad-utf8': (errors.UndecodableCertificate, 'cannot be decoded'),
}


@pytest.fixture(scope='module')
def odd_proxies(world, pki, tmp_path_factory):
    """One proxy file of Jane per oddity, signed with her key."""
    base = pki.make_proxy(world.jane)
    out = tmp_path_factory.mktemp('odd')
    return {name: pki_mod.odd_proxy(world.jane, base, name, out / name)
            for name in pki_mod.ODDITIES}


@pytest.mark.parametrize('oddity', pki_mod.ODDITIES)
def test_odd_certificate_is_refused_with_its_reason(odd_proxies, verifier,
                                                    oddity):
    cls, reason = EXPECTED[oddity]
    data = odd_proxies[oddity].read_bytes()
    with pytest.raises(cls, match=reason) as exc:
        verifier.verify_pem(data)
    assert type(exc.value) is cls
    assert isinstance(exc.value, root_errors.CredentialError)
    with pytest.raises(cls):
        verifier.verify_chain(split_pem_certificates(data))


@pytest.mark.parametrize('oddity', pki_mod.ODDITIES)
def test_odd_certificate_counts_as_proxy(odd_proxies, oddity):
    proxy = split_pem_certificates(odd_proxies[oddity].read_text())[0]
    assert is_proxy_pem(proxy) is True


@pytest.mark.parametrize('oddity', pki_mod.ODDITIES)
def test_cli_prints_one_error_line(odd_proxies, pki, oddity):
    result = subprocess.run(
        [sys.executable, '-m', 'voms_auth', 'verify-proxy', '--ca-path',
         str(pki.ca_path), '--vomsdir', str(pki.vomsdir),
         str(odd_proxies[oddity])],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), lines
    assert EXPECTED[oddity][1].split()[0] in lines[0]
    assert 'internal error' not in lines[0]


def test_odd_server_certificate_is_refused_by_kind(pki):
    """The AC decoder checks the VOMS server certificates it carries with
    :func:`certs.checked`: a duplicated extension there is a reason too."""
    cert = x509.load_pem_x509_certificate(pki.voms_server.cert_path
                                          .read_bytes())
    der = cert.public_bytes(serialization.Encoding.DER)
    fields = pki_mod.der_children(pki_mod.der_content(
        pki_mod.der_children(pki_mod.der_content(der))[0]))
    exts = pki_mod.der_children(pki_mod.der_content(
        pki_mod.der_children(pki_mod.der_content(fields[7]))[0]))
    fields[7] = pki_mod.der_tlv(0xa3, pki_mod.der_tlv(
        0x30, b''.join(exts + exts[:1])))
    odd = x509.load_der_x509_certificate(pki_mod.resign_certificate(
        der, fields, pki.voms_server.ca.key))
    with pytest.raises(errors.DuplicateCertificateExtension,
                       match='a VOMS server certificate in the AC'):
        certs.checked(odd, 'a VOMS server certificate in the AC')


@pytest.mark.parametrize('value', [
    b'', b'\x30', b'\x30\x80' * 5000, b'0' * 10, 'text', None,
    b'\x30\x03\x30\x01\x00',
    # 10000 nested SEQUENCEs (a RecursionError in a naive decoder)
    b''.join(b'\x30\x84' + (4 * (9999 - i)).to_bytes(4, 'big')
             for i in range(10000)),
])
def test_ac_decoder_raises_only_malformed_ac(value):
    with pytest.raises(errors.MalformedAC):
        ac.parse_acs(value)


def test_ac_decoder_size_limit():
    with pytest.raises(errors.MalformedAC, match='at most'):
        ac.parse_acs(b'\x30' * (ac.MAX_EXTENSION_BYTES + 1))


# -- PEM: linear time, limits ------------------------------------------------

def _begin_end_flood(count):
    return (b'-----BEGIN CERTIFICATE-----\n' * count
            + b'-----END X-----\n' * count)


def test_begin_end_flood_is_linear(verifier):
    """N BEGIN lines then N END lines (352 KB) took 33.6 s with the
    regular expression; the scan is linear: well under a second."""
    data = _begin_end_flood(8000)
    assert 340_000 < len(data) < certs.MAX_PEM_BYTES
    started = time.process_time()
    assert split_pem_certificates(data) == []
    assert split_pem_certificates(data.decode()) == []
    with pytest.raises(errors.MalformedCredential, match='no PEM'):
        verifier.verify_pem(data)
    assert time.process_time() - started < 2.0


def test_split_matches_blocks_as_before():
    text = ('junk-----BEGIN CERTIFICATE-----\nA\n-----BEGIN CERTIFICATE-----'
            '\nB\n-----END CERTIFICATE-----\n-----END CERTIFICATE-----x'
            '-----BEGIN CERTIFICATE-----\nC\n-----END CERTIFICATE-----'
            '-----BEGIN CERTIFICATE-----\nD')
    assert split_pem_certificates(text) == [
        '-----BEGIN CERTIFICATE-----\nA\n-----BEGIN CERTIFICATE-----\nB\n'
        '-----END CERTIFICATE-----\n',
        '-----BEGIN CERTIFICATE-----\nC\n-----END CERTIFICATE-----\n']


@pytest.mark.parametrize('data', [None, 42, 10 ** 9, ['a'], object()])
def test_split_refuses_what_is_not_text(data):
    with pytest.raises(errors.MalformedCredential):
        split_pem_certificates(data)


def test_pem_size_limit(world, pki, verifier):
    data = pki.make_proxy(world.jane).read_bytes()
    padded = data + b'#' * (certs.MAX_PEM_BYTES - len(data) + 1)
    with pytest.raises(errors.CredentialTooLarge, match='at most 524288'):
        verifier.verify_pem(padded)
    with pytest.raises(errors.CredentialTooLarge):
        verifier.verify_chain([padded])


def test_a_block_that_fills_the_size_limit_is_refused_as_too_large(
        world, pki, verifier):
    # one block, padded with line breaks to exactly the limit and with no
    # line break after its END line: the splitter hands it over one byte
    # longer than the input
    block = split_pem_certificates(pki.make_proxy(world.jane).read_bytes())[0]
    head = b'-----BEGIN CERTIFICATE-----'
    body = block[len(head):].rstrip(b'\n')
    data = head + b'\n' * (certs.MAX_PEM_BYTES - len(head) - len(body)) + \
        body
    assert len(data) == certs.MAX_PEM_BYTES
    with pytest.raises(errors.CredentialTooLarge,
                       match='is 524289 bytes long; at most 524288'):
        verifier.verify_pem(data)


def test_certificate_count_limit(world, pki, verifier):
    data = pki.make_proxy(world.jane).read_bytes()
    blocks = split_pem_certificates(data)
    many = blocks + [blocks[1]] * certs.MAX_CERTIFICATES
    with pytest.raises(errors.CredentialTooLarge, match='at most 40'):
        verifier.verify_chain(many)
    with pytest.raises(errors.CredentialTooLarge, match='more than 40'):
        verifier.verify_chain([b''.join(many)])
    # (a file's blocks are counted before any is decoded)
    with pytest.raises(errors.CredentialTooLarge,
                       match='holds 42 certificates; at most 40'):
        verifier.verify_pem(b''.join(many))


def test_der_size_limit(world, verifier):
    key = pki_mod.serialization.load_pem_private_key(
        world.jane.key_path.read_bytes(), password=None)
    big = (x509.CertificateBuilder()
           .subject_name(world.jane.cert.subject)
           .issuer_name(world.jane.cert.subject)
           .public_key(key.public_key()).serial_number(7)
           .not_valid_before(world.jane.cert.not_valid_before_utc)
           .not_valid_after(world.jane.cert.not_valid_after_utc)
           .add_extension(x509.UnrecognizedExtension(
               x509.ObjectIdentifier('1.3.6.1.4.1.99999.1'),
               b'\x04\x83\x01\x20\x00' + b'x' * 0x12000), critical=False)
           .sign(key, hashes.SHA256()))
    pem = big.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(errors.CredentialTooLarge, match='at most 65536'):
        verifier.verify_chain([pem])


@pytest.mark.parametrize('certs_arg', ['-----BEGIN', b'x', 42, None])
def test_verify_chain_wants_a_list(verifier, certs_arg):
    with pytest.raises(errors.MalformedCredential):
        verifier.verify_chain(certs_arg)


@pytest.mark.parametrize('item', [42, 3.5, object(), ['x']])
def test_verify_chain_items_must_be_pem(verifier, item):
    with pytest.raises(errors.MalformedCredential):
        verifier.verify_chain([item])


@pytest.mark.parametrize('oddity', pki_mod.ODDITIES)
def test_an_odd_proxy_is_refused_after_its_user_logged_in(
        odd_proxies, verifier, pki, world, oddity):
    """A login makes the user's own names known, so a later proxy's name
    (theirs plus a CN) is not decoded in full again, and the proxy's
    extensions but its VOMS ACs (the same bytes in each of her proxies)
    are not decoded again; each oddity is still refused for its reason."""
    for _ in range(2):
        verifier.verify_pem(pki.make_proxy(world.jane).read_bytes())
    cls, reason = EXPECTED[oddity]
    with pytest.raises(cls, match=reason):
        verifier.verify_pem(odd_proxies[oddity].read_bytes())


def test_a_returning_users_proxy_name_is_checked_without_decoding(
        verifier, pki, world):
    verifier.verify_pem(pki.make_proxy(world.jane).read_bytes())
    data = pki.make_proxy(world.jane).read_bytes()
    subject = x509.load_pem_x509_certificates(data)[0].subject.public_bytes()
    assert verifier.verify_pem(data).user == world.jane.dn
    assert not names.decoded_before(subject)


def test_cli_prints_a_warning_of_the_decoder_on_one_line(pki, world,
                                                        tmp_path):
    """cryptography warns (and decodes) a country name of three letters;
    the CLI shows that as one ``warning:`` line, the refusal as one
    ``error:`` line, and nothing of Python's warning format."""
    odd = pki_mod.odd_proxy(world.jane, pki.make_proxy(world.jane),
                            'c-not-cn', tmp_path / 'c-not-cn')
    result = subprocess.run(
        [sys.executable, '-m', 'voms_auth', 'verify-proxy', '--ca-path',
         str(pki.ca_path), '--vomsdir', str(pki.vomsdir), str(odd)],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[-1].startswith('error: ') and 'plus one CN' in lines[-1]
    assert lines[:-1] and all(line.startswith('warning: ')
                              for line in lines[:-1]), lines
    assert "length must be" in lines[0]
    assert 'UserWarning' not in result.stderr
