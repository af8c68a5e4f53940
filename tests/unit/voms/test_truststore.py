"""Trust material: lazy loading, refresh on change, configuration errors,
the result cache."""

import datetime
import os
import shutil
import threading
import time

import pytest

from voms_auth import errors as root_errors
from voms_auth.voms import TrustStore, Verifier, errors, truststore

UTC = datetime.timezone.utc


def test_missing_ca_directory_is_a_configuration_error(tmp_path):
    (tmp_path / 'vomsdir').mkdir()
    store = TrustStore(tmp_path / 'nope', tmp_path / 'vomsdir')
    with pytest.raises(errors.TrustStoreError, match='does not exist') as e:
        store.snapshot()
    assert isinstance(e.value, root_errors.ConfigurationError)
    assert not isinstance(e.value, root_errors.CredentialError)


def test_missing_vomsdir_is_a_configuration_error(small, tmp_path):
    pki, user = small
    store = TrustStore(pki.ca_path, tmp_path / 'nope')
    with pytest.raises(errors.TrustStoreError, match='nope'):
        Verifier(store).verify_pem(pki.make_proxy(user).read_bytes())


def test_dangling_links_and_other_files_are_ignored(small):
    pki, user = small
    (pki.ca_path / 'gone.pem').symlink_to(pki.ca_path / 'missing')
    (pki.ca_path / 'deadbeef.0').symlink_to(pki.ca_path / 'missing2')
    (pki.ca_path / 'Example.signing_policy').write_text('junk')
    (pki.ca_path / '12345678.r0').write_text('not a CRL')
    (pki.vomsdir / 'dteam' / 'README').write_text('not a certificate')
    verifier = Verifier(TrustStore(pki.ca_path, pki.vomsdir))
    assert verifier.verify_pem(pki.make_proxy(user).read_bytes()).user \
        == user.dn


def test_loading_is_lazy(tmp_path):
    TrustStore(tmp_path / 'a', tmp_path / 'b')   # no error until used


def test_index_holds_every_ca(small):
    pki, _ = small
    extra = pki.add_filler_cas(5)
    snap = TrustStore(pki.ca_path, pki.vomsdir).snapshot()
    assert snap.ca_count == 3 + 5   # root, issuing, other, fillers
    for ca in extra:
        assert snap.ca_by_subject[ca.cert.subject.public_bytes()][0] == \
            ca.cert
    assert snap.crl_for(extra[0].cert) is not None


def test_revocation_is_picked_up_without_restart(small):
    pki, user = small
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=0)
    verifier = Verifier(store)   # with its result cache
    data = pki.make_proxy(user).read_bytes()
    assert verifier.verify_pem(data).user == user.dn
    assert verifier.verify_pem(data).user == user.dn      # cached
    pki.revoke(user)                                       # fetch-crl
    with pytest.raises(errors.CertificateRevoked):
        verifier.verify_pem(data)


def test_refresh_interval_limits_rescans(small):
    pki, user = small
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=3600)
    data = pki.make_proxy(user).read_bytes()
    Verifier(store, cache_size=0).verify_pem(data)
    generation = store.snapshot().generation
    pki.revoke(user)
    # within the interval the old snapshot is served ...
    assert store.snapshot().generation == generation
    # ... until the interval passes (forced here)
    store.invalidate()
    assert store.snapshot().generation == generation + 1
    with pytest.raises(errors.CertificateRevoked):
        Verifier(store, cache_size=0).verify_pem(data)


def test_new_vo_and_lsc_are_picked_up(small):
    pki, user = small
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=0)
    verifier = Verifier(store, cache_size=0)
    shutil.rmtree(pki.vomsdir / 'dteam')
    data = pki.make_proxy(user).read_bytes()
    with pytest.raises(errors.UnknownVO):
        verifier.verify_pem(data)
    pki.write_lsc(pki.voms_server)
    assert verifier.verify_pem(data).vo == 'dteam'


def test_wrong_lsc_chain_is_refused(small):
    pki, user = small
    pki.write_lsc(pki.voms_server, [pki.voms_server.dn,
                                    pki.other_ca.dn])
    verifier = Verifier(TrustStore(pki.ca_path, pki.vomsdir))
    with pytest.raises(errors.ACServerNotTrusted, match='no LSC file'):
        verifier.verify_pem(pki.make_proxy(user).read_bytes())


def test_lsc_with_several_chains_and_comments(small):
    pki, user = small
    server = pki.voms_server
    pki.write_lsc(server, ['# old CA', server.dn, pki.other_ca.dn,
                           '------ NEXT CHAIN ------', '',
                           server.dn, pki.issuing_ca.dn, pki.root_ca.dn])
    verifier = Verifier(TrustStore(pki.ca_path, pki.vomsdir))
    assert verifier.verify_pem(pki.make_proxy(user).read_bytes()).server \
        == server.dn


def test_missing_crl_is_refused(small):
    pki, user = small
    (pki.ca_path / ('%s.r0' % pki.issuing_ca.hash)).unlink()
    verifier = Verifier(TrustStore(pki.ca_path, pki.vomsdir))
    with pytest.raises(errors.CRLMissing, match='no valid CRL of '
                       '/DC=org/DC=example/CN=Example Issuing CA'):
        verifier.verify_pem(pki.make_proxy(user).read_bytes())


def test_crl_signed_by_another_ca_is_ignored(small):
    pki, user = small
    # a CRL claiming to be the issuing CA's, signed by another key
    forged = pki.add_ca('Example Issuing CA', parent=pki.root_ca,
                        trusted=False)
    forged.revoked[user.cert.serial_number] = datetime.datetime.now(UTC)
    pki.write_crl(forged)      # overwrites <hash>.r0 of the same DN
    verifier = Verifier(TrustStore(pki.ca_path, pki.vomsdir))
    with pytest.raises(errors.CRLMissing):
        verifier.verify_pem(pki.make_proxy(user).read_bytes())


def test_cache_respects_expiry(small):
    pki, user = small
    verifier = Verifier(TrustStore(pki.ca_path, pki.vomsdir))
    data = pki.make_proxy(user, hours=1).read_bytes()
    now = datetime.datetime.now(UTC)
    assert verifier.verify_pem(data, at=now).vo == 'dteam'
    with pytest.raises(errors.ProxyExpired):
        verifier.verify_pem(data, at=now + datetime.timedelta(hours=2))


def test_concurrent_verifications(small):
    pki, user = small
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=0)
    verifier = Verifier(store, cache_size=2)
    proxies = [pki.make_proxy(user, fqans=['/dteam/g%d' % i]).read_bytes()
               for i in range(4)]
    results, failures = [], []

    def work(n):
        try:
            for _ in range(10):
                results.append(verifier.verify_pem(proxies[n % 4]).fqans)
        except Exception as exc:  # noqa: BLE001 - collected and asserted
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert sorted(set(results)) == [('/dteam/g%d' % i,) for i in range(4)]
    assert len(results) == 80


def test_cache_serves_the_same_result(small):
    pki, user = small
    verifier = Verifier(TrustStore(pki.ca_path, pki.vomsdir,
                                   refresh_interval=3600))
    data = pki.make_proxy(user).read_bytes()
    assert verifier.verify_pem(data) is verifier.verify_pem(data)


@pytest.mark.parametrize('kwargs', [{'cache_size': 0}, {'cache_ttl': 0}])
def test_cache_size_or_ttl_zero_disables_the_cache(small, kwargs):
    pki, user = small
    verifier = Verifier(TrustStore(pki.ca_path, pki.vomsdir,
                                   refresh_interval=3600), **kwargs)
    data = pki.make_proxy(user).read_bytes()
    first = verifier.verify_pem(data)
    assert verifier.verify_pem(data) is not first
    assert verifier.verify_pem(data) == first


def test_cache_ttl_bounds_reuse(small):
    pki, user = small
    verifier = Verifier(TrustStore(pki.ca_path, pki.vomsdir,
                                   refresh_interval=3600), cache_ttl=0.5)
    data = pki.make_proxy(user).read_bytes()
    first = verifier.verify_pem(data)
    assert verifier.verify_pem(data) is first
    time.sleep(0.6)
    assert verifier.verify_pem(data) is not first


def test_new_trust_generation_empties_the_cache(small):
    pki, user = small
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=3600)
    verifier = Verifier(store)
    data = pki.make_proxy(user).read_bytes()
    first = verifier.verify_pem(data)
    pki.revoke(pki.new_user('Olga Other'))    # a new CRL, not Fred's
    store.invalidate()
    generation = store.snapshot().generation
    assert verifier.verify_pem(data) is not first
    assert store.snapshot().generation == generation


def _same_size_revocation(pki, user):
    """Revoke ``user`` with a CRL file of the same size and modification
    time as the one before (as ``rsync -t`` / ``cp -p`` of a CRL padded to
    the same length would leave it)."""
    path = pki.ca_path / ('%s.r0' % user.ca.hash)
    before = path.read_bytes()
    info = path.stat()
    pki.revoke(user)
    revoked = path.read_bytes()
    assert len(revoked) > len(before)
    # pad the old CRL (PEM ignores trailing blank lines) to the new size
    path.write_bytes(before + b'\n' * (len(revoked) - len(before)))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    return path, revoked, info


def test_revocation_with_the_old_timestamp_and_size_is_picked_up(small):
    pki, user = small
    data = pki.make_proxy(user).read_bytes()
    path, revoked, info = _same_size_revocation(pki, user)
    store = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=0,
                       content_check_interval=None)
    verifier = Verifier(store)
    assert verifier.verify_pem(data).user == user.dn
    # the revoking CRL lands: same size, same mtime; only inode/ctime move
    path.write_bytes(revoked)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert path.stat().st_size == len(revoked)
    with pytest.raises(errors.CertificateRevoked):
        verifier.verify_pem(data)


def test_content_check_catches_what_metadata_hides(small, monkeypatch):
    # A network file system's attribute cache can show old metadata for a
    # file whose content changed; that cannot be produced on a local file
    # system, so the metadata is frozen here instead.
    pki, user = small
    data = pki.make_proxy(user).read_bytes()
    monkeypatch.setattr(truststore, '_stat_key',
                        lambda entry: (entry.path, 0, 0, 0, 0))
    blind = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=0,
                       content_check_interval=None)
    checked = TrustStore(pki.ca_path, pki.vomsdir, refresh_interval=0,
                         content_check_interval=0.2)
    blind_verifier, checked_verifier = Verifier(blind), Verifier(checked)
    assert blind_verifier.verify_pem(data).user == user.dn
    assert checked_verifier.verify_pem(data).user == user.dn
    pki.revoke(user)
    assert blind_verifier.verify_pem(data).user == user.dn  # never noticed
    time.sleep(0.3)
    with pytest.raises(errors.CertificateRevoked):
        checked_verifier.verify_pem(data)
