"""Issue 15: what a returning user's login reuses, and that none of it
changes a verdict.

A user comes back with a new proxy (new key, serial, AC) and the very
same user certificate. The process keeps: that certificate as decoded
and checked, by its PEM text, once a verification of it succeeded; the
parts two ACs of the same person and server share; and, per trust
snapshot, the CRL, namespace and LSC verdicts. Each test below fails when
the rule that bounds one of these is dropped.
"""

import datetime
import logging

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support import pki as pki_mod
from tests.support.pki import write_crl_file
from tests.unit.voms.test_namespaces import example_namespace
from voms_auth.voms import TrustStore, Verifier, ac, certs, errors
from voms_auth.voms.pem import split_pem_certificates

UTC = datetime.timezone.utc
HOUR = datetime.timedelta(hours=1)


def _store(pki, **kwargs):
    return TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=3600,
                      **kwargs)


def _chain(pki, user, **kwargs):
    return split_pem_certificates(pki.make_proxy(user, **kwargs).read_bytes())


# -- the user's certificate, by its PEM text -------------------------------

def test_a_returning_users_certificate_is_not_checked_again(small,
                                                            monkeypatch):
    pki, user = small
    verifier = Verifier(_store(pki), cache_size=0)
    verifier.verify_chain(_chain(pki, user))
    seen = []
    check = certs.checked
    monkeypatch.setattr(certs, 'checked', lambda cert, what: (
        seen.append(what), check(cert, what))[1])
    credential = verifier.verify_chain(_chain(pki, user))
    assert credential.user == user.dn
    assert seen == ['certificate 0 of the chain']       # the new proxy only


def test_a_refused_login_remembers_nothing(small):
    # the user's path is valid, the proxy carries no AC: refused after the
    # certificate's checks ran, and nothing of it is kept
    pki, user = small
    verifier = Verifier(_store(pki), cache_size=0)
    refused = _chain(pki, user, vo=None)
    with pytest.raises(errors.NoVomsExtension):
        verifier.verify_chain(refused)
    assert refused[1] not in certs._known
    verifier.verify_chain(_chain(pki, user))
    assert refused[1] in certs._known


def test_a_returning_users_expired_certificate_is_refused(small, tmp_path):
    pki, _ = small
    user = pki.new_user('Sue Short', days=2 / 24)
    verifier = Verifier(_store(pki), cache_size=0)
    first = pki.make_proxy(user, hours=1)
    verifier.verify_pem(first.read_bytes())
    # the next login's proxy outlives the user's certificate (voms-proxy-
    # fake would cut it to the certificate's end)
    proxy = pki_mod.delegate(user, ac_from=first, hours=4,
                             out=tmp_path / 'proxy')
    later = datetime.datetime.now(UTC) + 3 * HOUR
    with pytest.raises(errors.CertificateExpired,
                       match='^the user certificate .*Sue Short expired'):
        verifier.verify_pem(proxy.read_bytes(), at=later)


def test_a_fact_that_raises_is_computed_again(small):
    pki, user = small
    proxy = certs.load_chain(_chain(pki, user))[0]
    calls = []

    def compute(cert):
        calls.append(cert)
        raise ValueError('no verdict')
    for _ in range(2):
        with pytest.raises(ValueError):
            certs.remembered(proxy, 'a fact', compute)
    assert len(calls) == 2
    assert certs.remembered(proxy, 'a fact', lambda cert: 7) == 7
    assert certs.remembered(proxy, 'a fact', lambda cert: 8) == 7


# -- a proxy's extensions, by their bytes (VOMS ACs cut out) --------------

VOMS_ACS_OID = pki_mod.der_tlv(0x06, certs.VOMS_ACS_OID_DER)
BASIC_CONSTRAINTS_OID = pki_mod.der_tlv(0x06, bytes.fromhex('551d13'))
PROXY_CERT_INFO_OID = pki_mod.der_tlv(0x06, bytes.fromhex('2b0601050507010e'))


def _oid_of(extension):
    return pki_mod.der_children(pki_mod.der_content(extension))[0]


def _replaced(oid, build):
    """A change of the extensions: the one with ``oid`` becomes
    ``build(its children: OID, [critical], value)``."""
    def change(exts):
        return [build(pki_mod.der_children(pki_mod.der_content(e)))
                if _oid_of(e) == oid else e for e in exts]
    return change


def _variant(pki, user, tmp_path, change):
    return split_pem_certificates(pki_mod.resigned_proxy(
        user, pki.make_proxy(user), pki_mod.with_extensions(change),
        tmp_path / 'variant.pem').read_bytes())


def test_a_persons_proxies_decode_their_other_extensions_once(
        small, monkeypatch):
    pki, user = small
    certs._profiles.clear()
    decoded = []
    decode = certs._extensions_decode
    monkeypatch.setattr(certs, '_extensions_decode', lambda cert: (
        decoded.append(certs.voms_acs_value(cert) is not None),
        decode(cert))[1])
    verifier = Verifier(_store(pki), cache_size=0)
    for fqans in (['/dteam'], ['/dteam', '/dteam/x'], ['/dteam/y']):
        chain = _chain(pki, user, fqans=fqans)
        assert verifier.verify_chain(chain).fqans == tuple(fqans)
    # the first proxy's extensions were decoded; the next two carried the
    # same other extensions (their ACs differ) and were not (the user's
    # and the VOMS server's certificates carry no VOMS AC: decoded once,
    # when first checked)
    assert decoded.count(True) == 1
    assert decoded.count(False) == 2
    # what is sliced is what cryptography reads, and cryptography keeps it
    # as bytes (what lets the profile leave it out: it never decodes it)
    loaded = certs.load_chain(chain)
    try:
        proxy = loaded[0]
        extension = proxy.extensions.get_extension_for_oid(ac.OID_VOMS_ACS)
        assert isinstance(extension.value, x509.UnrecognizedExtension)
        assert certs.voms_acs_value(proxy) == extension.value.value
        assert certs.extension_profile(loaded[1]) is None   # no VOMS AC
    finally:
        certs.forget(loaded)


def test_only_a_verification_that_succeeds_keeps_extension_facts(small):
    pki, user = small
    certs._profiles.clear()
    verifier = Verifier(_store(pki), cache_size=0)
    chain = _chain(pki, user)
    later = datetime.datetime.now(UTC) + 30 * 24 * HOUR
    with pytest.raises(errors.ProxyExpired):      # decoded, then refused
        verifier.verify_chain(chain, at=later)
    assert not certs._profiles
    verifier.verify_chain(chain)
    (facts,) = certs._profiles.values()
    assert set(facts) == {'extensions decode', 'proxy cert info',
                          'proxy extension rules'}


def _long_form(tlv):
    """``tlv`` with its length in a non-minimal long form (DER forbids
    it)."""
    content = pki_mod.der_content(tlv)
    size = len(content).to_bytes(3, 'big')       # a leading zero octet
    return bytes([tlv[0], 0x83]) + size + content


@pytest.mark.parametrize('oddity', ['explicit critical FALSE',
                                    'long-form value length',
                                    'long-form extension length'])
def test_cryptography_refuses_an_odd_voms_extension_at_load(small, oddity):
    """The extension profile leaves the VOMS AC extension out of its key
    when it reads as SEQUENCE {OID, OCTET STRING}; that it then decodes
    (as raw bytes) holds because cryptography checks the DER of every
    extension when it loads a certificate. Pinned here: a cryptography
    that stopped doing so would make the profile unsound."""
    pki, user = small
    def change(exts):
        out = []
        for ext in exts:
            if _oid_of(ext) == VOMS_ACS_OID:
                parts = pki_mod.der_children(pki_mod.der_content(ext))
                if oddity == 'explicit critical FALSE':
                    ext = pki_mod.der_tlv(0x30, parts[0] + pki_mod.der_tlv(
                        0x01, b'\x00') + parts[1])
                elif oddity == 'long-form value length':
                    ext = pki_mod.der_tlv(0x30, parts[0] + _long_form(
                        parts[1]))
                else:
                    ext = _long_form(ext)
            out.append(ext)
        return out
    proxy = pki.make_proxy(user)
    data = x509.load_pem_x509_certificates(proxy.read_bytes())[0] \
        .public_bytes(serialization.Encoding.DER)
    fields = pki_mod.der_children(pki_mod.der_content(
        pki_mod.der_children(pki_mod.der_content(data))[0]))
    key = serialization.load_pem_private_key(user.key_path.read_bytes(),
                                             password=None)
    odd = pki_mod.resign_certificate(
        data, pki_mod.with_extensions(change)(fields), key)
    with pytest.raises(ValueError):
        x509.load_der_x509_certificate(odd)


@pytest.mark.parametrize('variant, refusal', [
    # the VOMS AC extension marked critical: unknown to RFC 3820
    ('critical ACs', 'unknown critical extension '
                     '1.3.6.1.4.1.8005.100.100.5'),
    # a second VOMS AC extension: cryptography refuses it
    ('ACs twice', 'carries extension 1.3.6.1.4.1.8005.100.100.5 twice'),
    # the other extensions changed: checked again
    ('a CA', 'claims to be a CA'),
    ('ProxyCertInfo not critical', 'ProxyCertInfo extension is not '
                                   'critical'),
])
def test_a_proxy_is_refused_after_proxies_of_the_same_person(
        small, tmp_path, variant, refusal):
    pki, user = small
    verifier = Verifier(_store(pki), cache_size=0)
    for _ in range(2):              # the usual extensions, known now
        verifier.verify_chain(_chain(pki, user))
    if variant == 'critical ACs':
        change = _replaced(VOMS_ACS_OID, lambda parts: pki_mod.extension_tlv(
            parts[0], pki_mod.der_content(parts[-1]), critical=True))
    elif variant == 'ACs twice':
        def change(exts):
            return exts + [e for e in exts if _oid_of(e) == VOMS_ACS_OID]
    elif variant == 'a CA':
        change = _replaced(BASIC_CONSTRAINTS_OID, lambda parts: (
            pki_mod.extension_tlv(parts[0], pki_mod.der_tlv(
                0x30, pki_mod.der_tlv(0x01, b'\xff')), critical=True)))
    else:
        change = _replaced(PROXY_CERT_INFO_OID, lambda parts: (
            pki_mod.extension_tlv(parts[0], pki_mod.der_content(parts[-1]))))
    with pytest.raises(errors.VomsError, match=refusal):
        verifier.verify_chain(_variant(pki, user, tmp_path, change))
    # and the usual ones are still accepted
    assert verifier.verify_chain(_chain(pki, user)).user == user.dn


# -- CRL verdicts, per snapshot --------------------------------------------

@pytest.mark.parametrize('warm', [False, True],
                         ids=['link verdicts computed', 'link verdicts kept'])
@pytest.mark.parametrize('revoked, cache_size', [
    ('user', 0), ('user', 16), ('voms server', 0)],
    ids=['user', 'user, result cache', 'voms server path'])
def test_a_future_dated_crl_counts_once_it_is_in_force(small, revoked,
                                                       cache_size, warm):
    # the link verdict, the result cache and the VOMS server's path (kept
    # per verifier) all end when a CRL of the issuer comes in force,
    # whether the link verdicts were computed in the call or kept in the
    # snapshot from another verifier's login ("warm")
    pki, user = small
    store = _store(pki)
    verifier = Verifier(store, cache_size=cache_size)
    now = datetime.datetime.now(UTC)
    serial = (user.cert if revoked == 'user' else
              pki.voms_server.cert).serial_number
    write_crl_file(pki, pki.issuing_ca, 'r1', revoked=[serial],
                   last_update=now + 2 * HOUR,
                   next_update=now + datetime.timedelta(days=7))
    store.refresh()
    if warm:
        Verifier(store, cache_size=0).verify_chain(_chain(pki, user))
    chain = _chain(pki, user)
    assert verifier.verify_chain(chain).user == user.dn   # not yet issued
    with pytest.raises(errors.CertificateRevoked):
        verifier.verify_chain(chain, at=now + 3 * HOUR)


def test_a_crl_verdict_ends_at_the_crls_next_update(small):
    pki, user = small
    now = datetime.datetime.now(UTC)
    write_crl_file(pki, pki.issuing_ca, 'r0', last_update=now - HOUR,
                   next_update=now + 2 * HOUR)
    verifier = Verifier(_store(pki), cache_size=0)
    chain = _chain(pki, user)
    verifier.verify_chain(chain)
    with pytest.raises(errors.CRLExpired):
        verifier.verify_chain(chain, at=now + 3 * HOUR)


def test_a_crl_in_its_grace_period_warns_at_every_use(small, caplog):
    pki, user = small
    now = datetime.datetime.now(UTC)
    write_crl_file(pki, pki.issuing_ca, 'r0', last_update=now - HOUR,
                   next_update=now + 2 * HOUR)
    verifier = Verifier(_store(pki, crl_grace_period=datetime.timedelta(
        days=1)), cache_size=0)
    chain = _chain(pki, user)
    verifier.verify_chain(chain)
    for _ in range(2):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger='voms_auth'):
            verifier.verify_chain(chain, at=now + 3 * HOUR)
        assert any('CRL IN GRACE' in r.getMessage() for r in caplog.records)


# -- trust changed since: revocation, namespaces, LSC -----------------------

def _revoke(pki, user):
    pki.revoke(user)


def _narrow_the_namespace(pki, user):
    example_namespace(pki, subject='/DC=org/DC=elsewhere/.*')


def _list_another_ca_in_the_lsc(pki, user):
    pki.write_lsc(pki.voms_server,
                  [pki.voms_server.dn, '/DC=org/CN=Some Other CA'])


@pytest.mark.parametrize('change, refusal', [
    (_revoke, errors.CertificateRevoked),
    (_narrow_the_namespace, errors.NamespaceViolation),
    (_list_another_ca_in_the_lsc, errors.ACServerNotTrusted),
], ids=['revoked', 'namespace', 'lsc'])
def test_trust_changed_since_applies_to_a_returning_user(small, change,
                                                         refusal):
    pki, user = small
    store = _store(pki)
    verifier = Verifier(store, cache_size=0)
    for _ in range(2):
        verifier.verify_chain(_chain(pki, user))
    change(pki, user)
    store.refresh()
    with pytest.raises(refusal):
        verifier.verify_chain(_chain(pki, user))


def test_a_chain_of_remembered_certificates_is_still_bounded(small):
    pki, user = small
    verifier = Verifier(_store(pki), cache_size=0)
    proxy, known = _chain(pki, user)
    verifier.verify_chain([proxy, known])
    with pytest.raises(errors.CredentialTooLarge, match='more than 40'):
        certs.load_chain([proxy] + [known] * certs.MAX_CERTIFICATES)


# -- what the memos hold, and what other threads may drop -------------------

def test_a_padded_pem_text_is_not_remembered(small):
    # a canonical PEM text may hold any number of line breaks; the text is
    # the memo's key, so a long one is not kept (its login still passes)
    pki, user = small
    verifier = Verifier(_store(pki), cache_size=0)
    proxy, eec = _chain(pki, user)
    head = b'-----BEGIN CERTIFICATE-----'
    padded = head + b'\n' * 100_000 + eec[len(head):]
    assert verifier.verify_chain([proxy, padded]).user == user.dn
    assert padded not in certs._known
    assert verifier.verify_chain([proxy, eec]).user == user.dn
    assert eec in certs._known                        # control


def test_a_refused_chain_leaves_no_certificate_behind(small):
    pki, user = small
    verifier = Verifier(_store(pki), cache_size=0)
    proxy, eec = _chain(pki, user)
    certs._der_memo.clear()
    with pytest.raises(errors.MalformedCredential):
        verifier.verify_chain([proxy, eec,
                               b'-----BEGIN CERTIFICATE-----\nx'])
    assert not certs._der_memo


def test_slices_dropped_by_another_thread_mid_call_refuse_nothing(
        small, monkeypatch):
    # certs._register clears the per-call slices of every chain when the
    # memo is full; a call whose slices go meanwhile takes the slower way
    pki, user = small
    verifier = Verifier(_store(pki), cache_size=0)
    chain = _chain(pki, user)
    remembered = certs.remembered

    def clearing(cert, what, compute):
        if what == 'settled profile':
            certs._der_memo.clear()          # another thread's _register
        return remembered(cert, what, compute)
    monkeypatch.setattr(certs, 'remembered', clearing)
    assert verifier.verify_chain(chain).user == user.dn


def _small_certs(count):
    """``count`` distinct small self-signed certificates, DER."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, 'x')])
    now = datetime.datetime.now(UTC)
    return [x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(serial)
            .not_valid_before(now).not_valid_after(now + HOUR)
            .sign(key, hashes.SHA256())
            .public_bytes(serialization.Encoding.DER)
            for serial in range(1, count + 1)]


def _ac_with_certs(value, blobs):
    """VOMS extension ``value`` with its AC's extensions replaced by one
    extension .10 carrying the certificates ``blobs`` (the AC's signature
    no longer verifies: only decoding is tested)."""
    tlv = pki_mod.der_tlv
    fields, algorithm, signature = pki_mod.ac_parts(value)
    extension = tlv(0x30, tlv(0x06, bytes.fromhex('2b06010401be4564640a'))
                    + tlv(0x04, tlv(0x30, tlv(0x30, b''.join(blobs)))))
    return pki_mod.ac_value(fields[:7] + [tlv(0x30, extension)], algorithm,
                            signature)


def test_an_ac_that_differs_only_inside_its_shared_part_is_decoded(small):
    # the memo finds its entry by the holder, the algorithm, the length
    # and the last bytes of the attributes-to-end part; that part is then
    # compared whole: an FQAN of the same length changed in the middle is
    # read from the AC, not from the memo
    pki, user = small
    value = pki_mod.voms_extension_value(pki.make_proxy(
        user, fqans=['/dteam', '/dteam/x']))
    ac._stable.clear()
    assert ac.parse_acs(value)[0].fqans == ('/dteam', '/dteam/x')
    changed = value.replace(b'/dteam/x', b'/dteam/y')
    assert len(changed) == len(value) and changed != value
    assert ac.parse_acs(changed)[0].fqans == ('/dteam', '/dteam/y')
    assert ac.parse_acs(value)[0].fqans == ('/dteam', '/dteam/x')


def test_the_ac_memo_holds_bytes_and_bounded_parts(small):
    # an AC may carry many certificates (64 KB of them): the memo of the
    # parts ACs share keeps their DER only, and no part over 16 KB
    pki, user = small
    value = pki_mod.voms_extension_value(pki.make_proxy(user))
    blobs = _small_certs(70)                       # ~18 KB of them
    ac._stable.clear()
    few = _ac_with_certs(value, blobs[:2])
    assert len(ac.parse_acs(few)[0].server_certs) == 2
    assert [type(b) for _, ders, _ in ac._stable.values() for b in ders] == [
        bytes, bytes]
    ac._server_cert_memo.clear()                   # looked up at each use
    assert [c.serial_number for c in ac.parse_acs(few)[0].server_certs] == [
        1, 2]
    many = ac.parse_acs(_ac_with_certs(value, blobs))
    assert len(many[0].server_certs) == 70
    assert len(ac._stable) == 1                    # not remembered
