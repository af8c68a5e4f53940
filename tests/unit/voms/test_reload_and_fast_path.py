"""Issue 15: what a reload re-reads, reloads off the request path, CA links
settled once per trust snapshot, the cache keyed on the texts received,
the hand-written DER reading (against asn1crypto as the reference)."""

import datetime
import time
import weakref

import pytest
from asn1crypto import cms, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support import pki as pki_mod
from tests.support.pki import GridPKI
from voms_auth.voms import (
    TrustStore,
    Verifier,
    ac,
    certs,
    crl,
    der,
    errors,
    names,
)
from voms_auth.voms.pem import split_pem_certificates

UTC = datetime.timezone.utc


# -- reloads -----------------------------------------------------------------

def test_a_changed_crl_is_the_only_file_read_again(small):
    pki, user = small
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=3600)
    data = pki.make_proxy(user).read_bytes()
    Verifier(store, cache_size=0).verify_pem(data)
    before = store.snapshot()
    assert store.last_load_files > 4          # everything, the first time
    pki.revoke(user)                          # rewrites one CRL
    after = store.refresh()
    assert after.generation == before.generation + 1
    assert store.last_load_files == 1
    # unchanged CAs and CRLs are the very objects loaded before
    root = pki.root_ca.cert.subject.public_bytes()
    assert after.ca_by_subject[root][0] is before.ca_by_subject[root][0]
    assert after.crl_by_issuer[root][0] is before.crl_by_issuer[root][0]
    with pytest.raises(errors.CertificateRevoked):
        Verifier(store, cache_size=0).verify_pem(data)


def test_a_new_lsc_file_reads_only_its_vo_directory(small):
    pki, user = small
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=3600)
    store.snapshot()
    pki.add_voms_server('atlas', 'voms.atlas.example')
    assert 'atlas' in store.refresh().vos
    assert store.last_load_files == 1
    store.refresh()                            # nothing changed
    assert store.last_load_files == 0


def test_nothing_changed_keeps_the_snapshot(small):
    pki, _ = small
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=3600)
    first = store.snapshot()
    assert store.refresh() is first


def _big_crl(pki, ca, serials):
    """Rewrite ``ca``'s CRL with ``serials`` revoked serials (DER built
    directly; slow to index on purpose)."""
    tlv = pki_mod.der_tlv
    now = datetime.datetime.now(UTC)

    def utc(when):
        return tlv(0x17, when.strftime('%y%m%d%H%M%SZ').encode())

    date = utc(now - datetime.timedelta(days=1))
    entries = b''.join(tlv(0x30, tlv(0x02, (10 ** 9 + i).to_bytes(
        5, 'big')) + date) for i in range(serials))
    algorithm = tlv(0x30, tlv(0x06, bytes.fromhex('2a8648ce3d040302')))
    tbs = tlv(0x30, tlv(0x02, b'\x01') + algorithm +
              ca.cert.subject.public_bytes() +
              utc(now - datetime.timedelta(minutes=5)) +
              utc(now + datetime.timedelta(days=7)) + tlv(0x30, entries))
    signature = ca.key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    (pki.ca_path / ('%s.r0' % ca.hash)).write_bytes(
        tlv(0x30, tbs + algorithm + tlv(0x03, b'\x00' + signature)))


def test_other_requests_keep_the_current_snapshot_during_a_reload(small):
    """With a bounded wait the request that notices a slow reload gets the
    current snapshot back long before the reload ends, and the new one is
    swapped in once loaded."""
    pki, user = small
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=3600,
                       reload_wait=0)
    data = pki.make_proxy(user).read_bytes()
    verifier = Verifier(store, cache_size=0)
    verifier.verify_pem(data)
    before = store.snapshot()
    for ca in (pki.root_ca, pki.issuing_ca, pki.other_ca):
        _big_crl(pki, ca, 100_000)              # ~seconds to index
    store.invalidate()
    started = time.monotonic()
    served = store.snapshot()
    waited = time.monotonic() - started
    assert served is before
    assert waited < 0.5
    assert verifier.verify_pem(data).user == user.dn   # old snapshot
    after = store.refresh()                     # waits for the load
    assert after.generation > before.generation
    assert store.snapshot() is after


def test_a_reload_error_keeps_the_loaded_material(small, tmp_path):
    pki, user = small
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=3600)
    data = pki.make_proxy(user).read_bytes()
    Verifier(store, cache_size=0).verify_pem(data)
    moved = tmp_path / 'moved'
    pki.vomsdir.rename(moved)
    with pytest.raises(errors.TrustStoreError, match='does not exist'):
        store.refresh()                  # the waiting caller is told
    moved.rename(pki.vomsdir)
    assert Verifier(store, cache_size=0).verify_pem(data).user == user.dn


# -- CA links settled once per snapshot ---------------------------------------

def test_a_verification_leaves_nothing_behind_in_the_memos(small):
    # Per-call objects kept in process-wide memos survived into the cyclic
    # GC's oldest generation; its full passes over the heap then ran
    # inside requests (40-90 ms with 100,000 tracked objects): the bench's
    # stalls. Names of the trust material stay memoized, those of the
    # presented chain leave with it.
    pki, user = small
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=3600)
    verifier = Verifier(store, cache_size=0)
    data = pki.make_proxy(user).read_bytes()
    verifier.verify_pem(data)
    ders, named = len(certs._der_memo), len(names._memo)
    for _ in range(5):
        verifier.verify_pem(data)
        verifier.verify_chain(split_pem_certificates(data))
    assert len(certs._der_memo) == ders
    assert len(names._memo) == named
    # a CA name still hits the memo: encoded once per Name object
    ca = store.snapshot().issuers_of(
        x509.load_pem_x509_certificate(split_pem_certificates(data)[1]))[0]
    assert names._memo[id(ca.subject)][0]() is ca.subject


def test_the_crls_each_ca_uses_are_settled_before_publication(small):
    # the first requests on a new snapshot find the CRL checks (signature
    # over every entry) done by the reload thread
    pki, user = small
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=3600)
    store.snapshot()
    pki.revoke(user)
    snap = store.refresh()
    settled = snap.memo.get('crls', {})
    for subject, cas in snap.ca_by_subject.items():
        for ca in cas:
            if subject in snap.crl_by_issuer:
                assert (subject, ca.signature) in settled
    crls = [c for group in snap.crl_by_issuer.values() for c in group]
    assert all((id(c), ca.signature) in snap._crl_checked
               for c in crls for ca in snap.ca_by_subject[
                   c.issuer.public_bytes()])
    with pytest.raises(errors.CertificateRevoked):
        Verifier(store, cache_size=0).verify_pem(
            pki.make_proxy(user).read_bytes())


def test_a_retired_snapshot_goes_with_the_last_request_holding_it(small):
    # Its revoked-serial indexes are flat tables (no Python object per
    # entry), so whichever thread drops the last reference frees them
    # with a few ``free`` calls; nothing waits for the requests to end.
    pki, user = small
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=3600)
    old = store.snapshot()
    assert all(isinstance(index, crl.RevokedSerials)
               for index in old.revoked_by_crl.values())
    gone = weakref.ref(old)
    held = [old]                        # a verification holding it
    del old
    pki.revoke(user)
    assert store.refresh().generation > 1
    assert gone() is not None, 'freed while a request still held it'
    held.clear()
    assert gone() is None


def test_the_issuing_ca_link_is_settled_once_per_snapshot(small):
    pki, user = small
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=3600)
    verifier = Verifier(store, cache_size=0)
    verifier.verify_pem(pki.make_proxy(user).read_bytes())
    links = store.snapshot().memo['ca-links']
    issuing = store.snapshot().issuers_of(user.cert)[0]
    path, *_ = links[id(issuing)]
    assert [c.subject for c in path] == [pki.issuing_ca.cert.subject,
                                         pki.root_ca.cert.subject]
    other = pki.new_user('Olga Other')
    credential = verifier.verify_pem(pki.make_proxy(other).read_bytes())
    assert credential.user == other.dn
    assert store.snapshot().memo['ca-links'][id(issuing)][0] is path
    pki.revoke(user)
    assert 'ca-links' not in store.refresh().memo   # a new snapshot


def test_a_revoked_issuing_ca_is_refused_on_the_settled_path(small):
    pki, user = small
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=3600)
    verifier = Verifier(store, cache_size=0)
    data = pki.make_proxy(user).read_bytes()
    verifier.verify_pem(data)                  # the link is settled
    pki.revoke(pki.issuing_ca)                 # in the root's CRL
    store.refresh()
    with pytest.raises(errors.CertificateRevoked, match='Issuing CA'):
        verifier.verify_pem(data)


def _reissue(pki, ca, signer, *, extra=(), path_length='keep'):
    """Re-issue ``ca``'s certificate (same name and key) signed by
    ``signer``, with extensions ``extra`` added and optionally another
    basicConstraints path length, and write it over ``<hash>.0``."""
    cert = ca.cert
    builder = (x509.CertificateBuilder().subject_name(cert.subject)
               .issuer_name(cert.issuer).public_key(cert.public_key())
               .serial_number(cert.serial_number + 7)
               .not_valid_before(cert.not_valid_before_utc)
               .not_valid_after(cert.not_valid_after_utc))
    for ext in cert.extensions:
        value = ext.value
        if isinstance(value, x509.BasicConstraints) and \
                path_length != 'keep':
            value = x509.BasicConstraints(ca=True, path_length=path_length)
        builder = builder.add_extension(value, ext.critical)
    for value in extra:
        builder = builder.add_extension(value, critical=True)
    ca.cert = builder.sign(signer.key, hashes.SHA256())
    (pki.ca_path / ('%s.0' % ca.hash)).write_bytes(
        ca.cert.public_bytes(serialization.Encoding.PEM))


def test_a_name_constrained_ca_is_left_to_the_full_validation(tmp_path):
    pki = GridPKI(tmp_path / 'grid')
    constrained = pki.add_ca('Constrained CA', parent=pki.root_ca)
    _reissue(pki, constrained, pki.root_ca, extra=[x509.NameConstraints(
        permitted_subtrees=[x509.DNSName('example.org')],
        excluded_subtrees=None)])
    user = pki.new_user('Nora Named', ca=constrained)
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=3600)
    verifier = Verifier(store, cache_size=0)
    data = pki.make_proxy(user).read_bytes()
    try:
        outcome = verifier.verify_pem(data).user
    except errors.VomsError as exc:
        outcome = type(exc)
    snap = store.snapshot()
    assert snap.memo['ca-links'][id(snap.issuers_of(user.cert)[0])] is None
    # the full validation decided, as it did before the fast path
    assert outcome in (user.dn, errors.CertificateInvalid)


def test_a_root_path_length_of_zero_still_refuses_its_sub_ca(small):
    """Settling the issuing CA's link with the CA as the leaf would pass a
    root allowing no CA below it; the settled path must not."""
    pki, user = small
    _reissue(pki, pki.root_ca, pki.root_ca, path_length=0)
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=3600)
    with pytest.raises(errors.CertificateInvalid):
        Verifier(store, cache_size=0).verify_pem(
            pki.make_proxy(user).read_bytes())
    snap = store.snapshot()
    assert snap.memo['ca-links'][id(snap.issuers_of(user.cert)[0])] is None


# -- the cache keyed on what was received ------------------------------

def test_the_cache_is_keyed_on_the_texts_received(small):
    pki, user = small
    verifier = Verifier(TrustStore(pki.ca_path, pki.vomsdir))
    text = pki.make_proxy(user).read_text()
    blocks = x509.load_pem_x509_certificates(text.encode())
    pems = [c.public_bytes(serialization.Encoding.PEM).decode()
            for c in blocks]
    first = verifier.verify_chain(pems)
    assert verifier.verify_chain(list(pems)) is first
    assert verifier.verify_chain(tuple(pems)) is first
    altered = [pems[0] + '\n', pems[1]]          # same certificates
    assert verifier.verify_chain(altered) is not first
    assert verifier.verify_pem(text) is verifier.verify_pem(text)


# -- the DER reader -----------------------------------------------------

@pytest.mark.parametrize('blob, reason', [
    (b'\x30', 'truncated'),
    (b'\x30\x80\x00\x00', 'indefinite'),
    (b'\x1f\x01\x00', 'high tag'),
    (b'\x30\x05\x02\x01', 'runs past'),
    (b'\x30\x85\x00\x00\x00\x00\x01', 'length'),
])
def test_der_reader_refuses_bad_framing(blob, reason):
    with pytest.raises(der.DERError, match=reason):
        der.read(blob, 0, len(blob))
    with pytest.raises(der.DERError):
        der.children(blob, 0, len(blob))


def test_der_oid_and_integer():
    assert der.oid(b'\x55\x04\x03', 0, 3) == '2.5.4.3'
    assert der.oid(bytes.fromhex('2a864886f70d01010b'), 0, 9) == \
        '1.2.840.113549.1.1.11'
    assert der.integer(b'\xff', 0, 1) == -1
    with pytest.raises(der.DERError):
        der.oid(b'\x86', 0, 1)                 # a truncated arc


class _ACs(core.SequenceOf):
    _child_spec = cms.AttributeCertificateV2


class _Groups(core.SequenceOf):
    _child_spec = _ACs


def _reference(extension_value):
    """The AC fields as asn1crypto reads them (the decoder used before)."""
    found = []
    for group in _Groups.load(extension_value, strict=True):
        for attribute_cert in group:
            info = attribute_cert['ac_info']
            fqans = []
            for attribute in info['attributes']:
                if attribute['type'].dotted != ac.OID_VOMS_FQANS:
                    continue
                for value in attribute['values']:
                    syntax = cms.IetfAttrSyntax.load(value.dump())
                    fqans += [v.native.decode() for v in syntax['values']]
            validity = info['att_cert_validity_period']
            found.append((info.dump(),
                          attribute_cert['signature'].native,
                          info['serial_number'].native,
                          validity['not_before_time'].native,
                          validity['not_after_time'].native,
                          tuple(fqans)))
    return found


def test_the_ac_decoder_agrees_with_asn1crypto(small):
    pki, user = small
    atlas = pki.add_voms_server('atlas', 'voms.atlas.example')
    proxies = [pki.make_proxy(user, fqans=['/dteam', '/dteam/g/Role=r'],
                              target='keystone.example.org'),
               pki_mod.combined_acs(
                   pki.make_proxy(user, fqans=['/dteam']),
                   pki.make_proxy(user, vo='atlas', server=atlas,
                                  fqans=['/atlas/x']))]
    for item in proxies:
        value = item if isinstance(item, bytes) else \
            pki_mod.voms_extension_value(item)
        ours = [(a.tbs, a.signature, a.serial, a.not_before, a.not_after,
                 a.fqans) for a in ac.parse_acs(value)]
        assert ours == _reference(value)


def test_acs_sharing_their_stable_part_keep_their_own_fields(small):
    # What two ACs of one person and server share is decoded once
    # (ac._stable_part). Each AC keeps its own serial, validity and
    # signature; another FQAN list or holder is decoded anew.
    pki, user = small
    other = pki.new_user('Olga Other')
    for who, fqans in ((user, ['/dteam']), (user, ['/dteam']),
                       (user, ['/dteam', '/dteam/g']), (other, ['/dteam'])):
        value = pki_mod.voms_extension_value(pki.make_proxy(who, fqans=fqans))
        parsed = ac.parse_acs(value)
        assert [(a.tbs, a.signature, a.serial, a.not_before, a.not_after,
                 a.fqans) for a in parsed] == _reference(value)
        assert parsed[0].fqans == tuple(fqans)
        assert parsed[0].holder_serial == who.cert.serial_number


def test_an_outer_algorithm_changed_after_the_ac_was_read_is_refused(
        small):
    pki, user = small
    value = pki_mod.voms_extension_value(pki.make_proxy(user))
    # the signature OID's DER, and another of the same length
    used, other = {
        '1.2.840.113549.1.1.5': ('06092a864886f70d010105',     # SHA-1
                                 '06092a864886f70d01010b'),    # SHA-256
        '1.2.840.113549.1.1.11': ('06092a864886f70d01010b',
                                  '06092a864886f70d01010c'),   # SHA-384
        '1.2.840.10045.4.3.2': ('06082a8648ce3d040302',
                                '06082a8648ce3d040303'),
    }[ac.parse_acs(value)[0].signature_oid]
    used, other = bytes.fromhex(used), bytes.fromhex(other)
    # the outer AlgorithmIdentifier: the last one, before the signature
    at = value.rindex(used)
    with pytest.raises(errors.MalformedAC, match='algorithms .* differ'):
        ac.parse_acs(value[:at] + other + value[at + len(used):])
