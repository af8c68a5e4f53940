"""Fuzzing the VOMS proxy path: real voms-proxy-fake proxies, mutated.

Every entry point (``Verifier.verify_chain`` / ``verify_pem``, the AC
decoder, ``split_pem_certificates``, ``is_proxy_pem``) must raise only its
documented errors, whatever bytes it gets; ``UnprocessableCredential``
(the verifier's safety net for the unforeseen) counts as a failure here.
Crashers found are kept as ``@example`` cases or files under
``corpus/voms/`` (replayed by :func:`test_corpus`).
"""

import base64
import pathlib
import shutil

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import example, given
from hypothesis import strategies as st

from tests.support import pki as pki_mod
from voms_auth.voms import TrustStore, Verifier, ac, errors
from voms_auth.voms.pem import split_pem_certificates
from voms_auth.voms.proxy import is_proxy_pem

CORPUS = pathlib.Path(__file__).parent / 'corpus' / 'voms'
_DER = serialization.Encoding.DER


class Seeds:
    """A small grid PKI and the real proxies the mutations start from."""

    def __init__(self, root):
        pki = self.pki = pki_mod.GridPKI(root)
        self.user = pki.new_user('Fuzz User')
        path = pki.make_proxy(self.user, fqans=['/dteam', '/dteam/g/Role=r'],
                              target='keystone.example.org')
        self.text = path.read_bytes()
        chain = x509.load_pem_x509_certificates(self.text)
        self.proxy_der = chain[0].public_bytes(_DER)
        self.eec_pem = chain[1].public_bytes(serialization.Encoding.PEM)
        self.ac_value = chain[0].extensions.get_extension_for_oid(
            ac.OID_VOMS_ACS).value.value
        self.user_key = serialization.load_pem_private_key(
            self.user.key_path.read_bytes(), password=None)
        self.verifier = Verifier(TrustStore(pki.ca_path, pki.vomsdir),
                                 service_host='keystone.example.org',
                                 cache_size=0)
        assert self.verifier.verify_pem(self.text).vo == 'dteam'


@pytest.fixture(scope='module')
def seeds(tmp_path_factory):
    if shutil.which('voms-proxy-fake') is None:
        pytest.fail('voms-proxy-fake is missing: install voms-clients')
    return Seeds(tmp_path_factory.mktemp('fuzz-grid'))


# -- mutations -----------------------------------------------------------

@st.composite
def mutated(draw, data: bytes, max_mutations: int = 4) -> bytes:
    """``data`` with 1..``max_mutations`` byte-level mutations (bit flip,
    byte set, insertion, deletion, duplication, truncation)."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, max_mutations))):
        if not out:
            break
        pos = draw(st.integers(0, len(out) - 1))
        kind = draw(st.sampled_from(
            ['flip', 'set', 'insert', 'delete', 'dup', 'truncate']))
        if kind == 'flip':
            out[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == 'set':
            out[pos] = draw(st.sampled_from(
                [0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0xff, 0x30, 0x31,
                 0x04, 0x03, 0x05, 0x06, 0x0c, 0x13, 0xa0, 0xa3]))
        elif kind == 'insert':
            out[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == 'delete':
            del out[pos:pos + draw(st.integers(1, 8))]
        elif kind == 'dup':
            size = draw(st.integers(1, 64))
            out[pos:pos] = out[pos:pos + size]
        else:
            del out[pos:]
    return bytes(out)


def _pem(der):
    return (b'-----BEGIN CERTIFICATE-----\n' + base64.encodebytes(der)
            + b'-----END CERTIFICATE-----\n')


def _refused_as_documented(func, *args):
    """Call ``func``; a refusal must be a documented VomsError other than
    the safety net."""
    try:
        return func(*args)
    except errors.UnprocessableCredential as exc:
        raise AssertionError('undocumented failure: %s' % exc) from None
    except errors.VomsError:
        return None


# -- targets -------------------------------------------------------------

@given(data=st.data())
def test_mutated_proxy_certificate(seeds, data):
    der = data.draw(mutated(seeds.proxy_der))
    pem = _pem(der)
    assert is_proxy_pem(pem) in (True, False)
    _refused_as_documented(seeds.verifier.verify_chain, [pem, seeds.eec_pem])


@given(data=st.data())
def test_mutated_and_resigned_proxy(seeds, data):
    """Mutations inside the signed part, signed again with the user's key:
    they pass the signature check and reach every later check."""
    cert = pki_mod.der_children(pki_mod.der_content(seeds.proxy_der))
    tbs = data.draw(mutated(pki_mod.der_content(cert[0]), 3))
    der = pki_mod.resign_certificate(seeds.proxy_der, [tbs], seeds.user_key)
    pem = _pem(der)
    assert is_proxy_pem(pem) in (True, False)
    _refused_as_documented(seeds.verifier.verify_chain, [pem, seeds.eec_pem])


@given(data=st.data())
def test_mutated_proxy_file(seeds, data):
    text = data.draw(mutated(seeds.text, 6))
    assert isinstance(split_pem_certificates(text), list)
    _refused_as_documented(seeds.verifier.verify_pem, text)


@given(data=st.data())
def test_mutated_attribute_certificate(seeds, data):
    value = data.draw(mutated(seeds.ac_value))
    try:
        acs = ac.parse_acs(value)
    except errors.MalformedAC:
        return
    assert all(isinstance(a, ac.AttributeCertificate) for a in acs)


@given(st.binary(max_size=4096))
@example(b'-----BEGIN CERTIFICATE-----\n' * 50 + b'-----END X-----\n' * 50)
@example(b'\x30\x80' * 2000)
def test_arbitrary_bytes(seeds, blob):
    assert isinstance(split_pem_certificates(blob), list)
    assert is_proxy_pem(blob) in (True, False)
    _refused_as_documented(seeds.verifier.verify_pem, blob)
    _refused_as_documented(seeds.verifier.verify_chain, [blob])
    _refused_as_documented(ac.parse_acs, blob)


@given(st.text(max_size=2048))
def test_arbitrary_text(seeds, text):
    assert isinstance(split_pem_certificates(text), list)
    assert is_proxy_pem(text) in (True, False)
    _refused_as_documented(seeds.verifier.verify_pem, text)


def _corpus_files():
    return sorted(p for p in CORPUS.iterdir() if p.is_file()
                  and not p.name.startswith('.') and p.suffix != '.md')


@pytest.mark.parametrize('path', _corpus_files(), ids=lambda p: p.name)
def test_corpus(seeds, path):
    """Past crashers: each file is a proxy file (``*.pem``) or an AC
    extension value (``*.ac``)."""
    data = path.read_bytes()
    if path.suffix == '.ac':
        _refused_as_documented(ac.parse_acs, data)
        return
    assert is_proxy_pem(data) in (True, False)
    _refused_as_documented(seeds.verifier.verify_pem, data)
    _refused_as_documented(seeds.verifier.verify_chain,
                           split_pem_certificates(data))
