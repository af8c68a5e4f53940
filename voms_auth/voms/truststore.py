"""Trust material: the CA directory (``<hash>.0``, ``<hash>.r0``) and vomsdir.

:class:`TrustStore` loads both lazily on first use, indexes them by subject
name (so a verification costs the same with 3 or 150 CAs), keeps the result
in process, and loads them again when files change on disk (fetch-crl
rewrites CRLs every few hours). Change detection is one ``scandir`` pass
over both trees, at most once every ``refresh_interval`` seconds. Readers
never lock: they take the current immutable :class:`TrustSnapshot`.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import os
import re
import threading
import time
from typing import Dict, FrozenSet, List, Mapping, Optional, Tuple

from cryptography import x509
from cryptography.x509 import verification

from voms_auth.errors import printable
from voms_auth.voms import certs as certs_mod
from voms_auth.voms import crl as crl_rules
from voms_auth.voms import errors
from voms_auth.voms import namespaces as ns_rules
from voms_auth.voms.names import name_der, normalize_dn, slash_dn
from voms_auth.voms.problems import Problem

LOG = logging.getLogger(__name__)

_CA_FILE = re.compile(r'^[0-9a-f]{8}\.[0-9]+$')
_HASH = re.compile(r'^[0-9a-f]{8}$')
_CRL_FILE = re.compile(r'^[0-9a-f]{8}\.r[0-9]+$')
_LSC_SEPARATOR = re.compile(r'^-{3,}')
#: Revoked entries indexed between two yields of the GIL: a background
#: reload of IGTF-size CRLs (10,000 entries, ~20 ms each) must not hold
#: request threads for that long.
_YIELD_EVERY = 500
#: What an anonymous client is told when the trust material is unusable.
_TRUST_PUBLIC = 'the server cannot read its grid trust material'


@dataclasses.dataclass(frozen=True)
class LSCFile:
    """An LSC file: the accepted DN chains (server DN first, then the DN of
    each CA up the chain) of one VOMS server host."""

    path: str
    chains: Tuple[Tuple[str, ...], ...]
    #: the line number (1-based) of each DN of ``chains``
    line_numbers: Tuple[Tuple[int, ...], ...] = ()
    #: what is wrong with the file, one readable sentence each
    problems: Tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class VODirectory:
    """What ``vomsdir/<vo>/`` holds."""

    name: str
    lsc: Tuple[LSCFile, ...]
    certificates: Tuple[x509.Certificate, ...]
    #: what is wrong with the directory or its files (LSC files in the
    #: wrong DN form, files that are neither ``.lsc`` nor certificates)
    problems: Tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class TrustSnapshot:
    """Immutable view of the trust material at one moment.

    ``generation`` grows each time the material is loaded again.
    """

    generation: int
    ca_by_subject: Mapping[bytes, Tuple[x509.Certificate, ...]]
    crl_by_issuer: Mapping[bytes, Tuple[x509.CertificateRevocationList, ...]]
    anchors: Optional[verification.Store]
    vos: Mapping[str, VODirectory]
    ca_count: int
    #: what is wrong with the trust material, one sentence each (logged
    #: when it loads)
    problems: Tuple[str, ...] = ()
    #: CAs of the directory that are no trust anchor: not self-signed
    #: and their issuer is not in the directory (partial chains)
    partial_cas: Tuple[x509.Certificate, ...] = ()
    anchor_count: int = 0
    #: id(crl) -> its revoked serials (:class:`~voms_auth.voms.crl.
    #: RevokedSerials`), built once per load so a revocation lookup is one
    #: hash probe, whatever the CRL size
    revoked_by_crl: Mapping[int, crl_rules.RevokedSerials] = \
        dataclasses.field(default_factory=dict)
    #: id(crl) -> the ``<hash>`` of its ``<hash>.rN`` file name
    crl_file_hash: Mapping[int, str] = dataclasses.field(
        default_factory=dict)
    #: the trust anchors (self-signed CAs of the directory)
    anchor_set: FrozenSet[x509.Certificate] = frozenset()
    #: the IGTF namespace policies of the CA directory (parsed once per
    #: load), ``None`` when namespace checking is off
    namespaces: Optional[ns_rules.NamespacePolicies] = None
    # (id of crl, issuer signature) -> CRL signature valid; filled
    # lazily by readers (a dict set is atomic; a repeat is harmless).
    _crl_checked: Dict[Tuple[bytes, bytes], bool] = dataclasses.field(
        default_factory=dict, compare=False)
    #: id(crl) -> why it is not a complete CRL, or None (read with the
    #: file, in the loading thread: it walks every entry)
    crl_reason: Mapping[int, Optional[str]] = dataclasses.field(
        default_factory=dict)
    # (id of crl, issuer signature) -> (crl, signature valid), shared by
    # the snapshots of one store while the CRL object is loaded (a 10,000
    # entry CRL is not hashed and verified again after every reload)
    _signed: Dict[Tuple[int, bytes], tuple] = dataclasses.field(
        default_factory=dict, compare=False)
    #: what readers derive from this snapshot and keep while it is
    #: current (the verifier's settled CA links, usable CRLs per CA);
    #: filled lazily, dropped with the snapshot
    memo: Dict[str, dict] = dataclasses.field(default_factory=dict,
                                              compare=False)

    def issuer_key(self, cert: x509.Certificate) -> bytes:
        """The index key (:attr:`ca_by_subject`) of ``cert``'s issuer."""
        return certs_mod.issuer_der(cert)

    def issuers_of(self, cert: x509.Certificate):
        """CA certificates whose subject is ``cert``'s issuer."""
        return self.ca_by_subject.get(self.issuer_key(cert), ())

    def crls_for(self, issuer: x509.Certificate
                 ) -> Tuple[x509.CertificateRevocationList, ...]:
        """The complete CRLs of ``issuer`` (signature checked; deltas,
        indirect, reason-limited CRLs and CRLs with unknown critical
        extensions left out, see :func:`voms_auth.voms.crl.unusable_reason`),
        oldest first. Results are remembered for this snapshot."""
        subject = name_der(issuer.subject)
        memo = self.memo.setdefault('crls', {})
        key = (subject, issuer.signature)
        found = memo.get(key)
        if found is None:
            candidates = self.crl_by_issuer.get(subject, ())
            usable = [crl for crl in candidates
                      if self._usable(crl, issuer)]
            found = memo[key] = tuple(
                sorted(usable, key=lambda c: c.last_update_utc))
        return found

    def revocation_date(self, crl: x509.CertificateRevocationList,
                        serial: int) -> Optional[datetime.datetime]:
        """When ``crl`` (one of this snapshot's) revoked ``serial``, or
        ``None`` when it does not list it. O(1) for a serial it does not
        list: the serials are indexed when the snapshot is loaded; a
        listed one is read from the CRL (its first entry for the serial).
        """
        index = self.revoked_by_crl.get(id(crl))
        if index is None:       # a CRL from elsewhere: index it now
            index = _revoked_index(crl)
        if serial not in index:
            return None
        entry = crl.get_revoked_certificate_by_serial_number(serial)
        return entry.revocation_date_utc if entry is not None else None

    def crl_for(self, issuer: x509.Certificate):
        """The newest complete CRL of ``issuer`` (see :meth:`crls_for`), or
        ``None``."""
        crls = self.crls_for(issuer)
        return crls[-1] if crls else None

    def _usable(self, crl, issuer):
        # the CRL object lives as long as this snapshot; the issuer is
        # told apart by its signature bytes (cheaper than a digest)
        key = (id(crl), issuer.signature)
        ok = self._crl_checked.get(key)
        if ok is None:
            if id(crl) in self.crl_reason:      # read with the file
                reason = self.crl_reason[id(crl)]
            else:
                reason = crl_rules.unusable_reason(crl)
            if reason is not None:
                LOG.warning('not using a CRL of %s as its complete CRL: %s',
                            printable(slash_dn(crl.issuer)), reason)
            signed = self._signed.get(key)
            if signed is None or signed[0] is not crl:
                signed = self._signed[key] = (
                    crl, reason is None and _crl_signed_by(crl, issuer))
            ok = reason is None and signed[1]
            self._crl_checked[key] = ok
        return ok


def _warm(snap):
    """Settle, before ``snap`` is published, which CRLs each CA of it
    uses (:meth:`TrustSnapshot.crls_for`: decoding checks and the
    signature over every entry, ~1 ms for an IGTF-size CRL), so the first
    requests on a new snapshot do not pay for it. Checks carried over
    from the previous snapshot (unchanged CRL files) are not repeated."""
    for certs in snap.ca_by_subject.values():
        for ca in certs:
            snap.crls_for(ca)
            time.sleep(0)       # a reload runs beside requests: yield


def _revoked_index(crl):
    """The :class:`~voms_auth.voms.crl.RevokedSerials` of ``crl``; empty
    when its entries do not decode (such a CRL is unusable anyway, see
    :func:`voms_auth.voms.crl.unusable_reason`)."""
    return _walk_entries(crl)[0]


def _walk_entries(crl):
    """(:func:`_revoked_index` of ``crl``, why an entry makes it unusable
    or ``None``): ONE walk over the entries for both (an IGTF CRL holds up
    to 10,000 of them; a reload of 151 such CRLs took 4.3 s of CPU with
    two walks, 3.9 to 4.1 s with one -- most of it is cryptography
    building the entry objects)."""
    serials = []
    reason = None
    try:
        for count, entry in enumerate(crl, 1):
            serials.append(entry.serial_number)
            if reason is None:
                reason = crl_rules.entry_reason(entry)
            if not count % _YIELD_EVERY:
                time.sleep(0)       # let request threads have the GIL
    except Exception as exc:  # noqa: BLE001 - undecodable: not usable
        LOG.warning('cannot index the revoked serials of a CRL of %s: %s',
                    printable(slash_dn(crl.issuer)), type(exc).__name__)
        return crl_rules.RevokedSerials(), (
            'its entries cannot be decoded (%s)' % type(exc).__name__)
    return crl_rules.RevokedSerials(serials), reason


def _crl_signed_by(crl, issuer):
    try:
        return crl.is_signature_valid(issuer.public_key())
    except (TypeError, ValueError):
        return False


class TrustStore:
    """CA certificates, CRLs and vomsdir, loaded lazily and kept fresh.

    :param ca_path: OpenSSL hashed directory (``<hash>.0`` CA certificates,
        ``<hash>.r0`` CRLs), e.g. ``/etc/grid-security/certificates``.
    :param vomsdir: ``<vo>/<host>.lsc`` files and/or VOMS server
        certificates, e.g. ``/etc/grid-security/vomsdir``.
    :param allow_expired_crl: accept certificates whose CA's CRL is past
        its nextUpdate (default: refuse them).
    :param crl_grace_period: how long after its nextUpdate a CRL is still
        used (default: not at all); logged as a warning on every use.
    :param crl_grace_overrides: per-CA grace periods replacing
        ``crl_grace_period``, keyed by the CA's subject hash (the
        ``<hash>`` of its ``<hash>.0`` / ``<hash>.r0`` files).
    :param clock_skew: tolerance applied to the start of the validity of
        proxies and attribute certificates and to a CRL's thisUpdate;
        never to an end.
    :param namespace_checking: how the IGTF ``<hash>.namespaces`` and
        ``<hash>.signing_policy`` files are enforced, one of
        :data:`voms_auth.voms.namespaces.MODES` (default as canl-java:
        ``eugridpma_globus``; ``ignore`` reads none).
    :param refresh_interval: seconds between two checks of the files.
    :param reload_wait: how long (seconds) the request that notices a
        change waits for the new material; ``None`` (default): until it is
        loaded. Either way the new snapshot is built in a background
        thread from the files that changed only (parsed objects of the
        others are reused), and every other request keeps the current
        snapshot meanwhile: a reload never blocks them. A revocation takes
        effect when the new snapshot is swapped in (its ``generation``
        grows; the verifier's cache is dropped then).
    :param content_check_interval: seconds between two comparisons of the
        files' contents (``None``: never). File metadata (inode, size,
        modification and change times) is checked every
        ``refresh_interval``; the contents catch what metadata hides (a
        network file system's attribute cache), so together they bound how
        long a new CRL goes unnoticed.

    Thread-safe. Missing or unreadable directories raise
    :class:`~voms_auth.voms.errors.TrustStoreError` on first use (or from
    :meth:`snapshot`).
    """

    def __init__(self, ca_path, vomsdir, *, allow_expired_crl: bool = False,
                 clock_skew: datetime.timedelta = datetime.timedelta(
                     minutes=5),
                 refresh_interval: float = 5.0,
                 crl_grace_period: datetime.timedelta = datetime.timedelta(
                     0),
                 crl_grace_overrides: Optional[
                     Mapping[str, datetime.timedelta]] = None,
                 namespace_checking: str = ns_rules.DEFAULT_MODE,
                 reload_wait: Optional[float] = None,
                 content_check_interval: Optional[float] = 60.0):
        self.ca_path = os.fspath(ca_path)
        self.vomsdir = os.fspath(vomsdir)
        self.allow_expired_crl = allow_expired_crl
        self.clock_skew = clock_skew
        self.refresh_interval = refresh_interval
        self.crl_grace_period = crl_grace_period
        self.crl_grace_overrides = {
            str(k).lower(): v for k, v in (crl_grace_overrides or {}).items()}
        for key, value in self.crl_grace_overrides.items():
            if not _HASH.match(key) or value < datetime.timedelta(0):
                raise errors.TrustStoreError(
                    'CRL grace override %r: expected an 8-digit hex CA '
                    'subject hash and a period of 0 seconds or more' % key)
        if namespace_checking not in ns_rules.MODES:
            raise errors.TrustStoreError(
                'namespace checking mode %r: expected one of %s' % (
                    namespace_checking, ', '.join(ns_rules.MODES)))
        self.namespace_checking = namespace_checking
        self.reload_wait = reload_wait
        self.content_check_interval = content_check_interval
        self._content_checked_at = float('-inf')
        self._digests: Dict[str, bytes] = {}   # path -> SHA-256 of content
        self._epochs: Dict[str, int] = {}      # path -> content changes seen
        self._lock = threading.Lock()
        self._snapshot: Optional[TrustSnapshot] = None
        self._checked_at = float('-inf')
        self._generation = 0
        # path -> ((mtime, size, inode), what was read from it)
        self._files: Dict[str, Tuple[tuple, object]] = {}
        self._stats: Optional[Dict[str, tuple]] = None
        self._refresh: Optional[_Refresh] = None
        # CRL signature checks carried from one snapshot to the next
        self._signed: Dict[Tuple[int, bytes], tuple] = {}
        #: seconds the last load took and files it (re)read
        self.last_load_seconds = 0.0
        self.last_load_files = 0

    def snapshot(self) -> TrustSnapshot:
        """The current trust material; when ``refresh_interval`` has passed
        since the last check, the files are checked (and what changed
        loaded) in the background, see ``reload_wait``."""
        snap = self._snapshot
        if snap is not None and (time.monotonic() - self._checked_at
                                 < self.refresh_interval):
            return snap
        with self._lock:
            snap = self._snapshot
            if snap is not None and (time.monotonic() - self._checked_at
                                     < self.refresh_interval):
                return snap
            running = self._refresh
            if running is None:
                self._checked_at = time.monotonic()
                running = self._refresh = _Refresh(self)
                running.start()
            elif snap is not None:
                return snap        # another request is refreshing
        if snap is None or self.reload_wait is None:
            running.done.wait()
        else:
            running.done.wait(self.reload_wait)
        if running.done.is_set() and running.error is not None and (
                snap is None or self.reload_wait is None):
            raise running.error
        return self._snapshot or snap

    def refresh(self) -> TrustSnapshot:
        """Check the files now and wait for what changed to be loaded
        (for callers that must see a change at once, e.g. right after
        fetch-crl ran); a check already running is waited for, then a new
        one runs. Returns the resulting snapshot.

        :raises TrustStoreError: the material cannot be read.
        """
        while True:
            with self._lock:
                running = self._refresh
                mine = running is None
                if mine:
                    self._checked_at = time.monotonic()
                    running = self._refresh = _Refresh(self)
                    running.start()
            running.done.wait()
            if mine:
                if running.error is not None:
                    raise running.error
                return self._snapshot

    def _run_refresh(self, job):
        """Body of a background refresh: scan, load what changed, swap."""
        try:
            stats = self._check_contents(self._scan())
            self.last_load_files = 0
            if self._snapshot is None or stats != self._stats:
                started = time.monotonic()
                try:
                    snap = self._load(self._generation + 1, stats)
                except OSError as exc:
                    raise errors.TrustStoreError(
                        'cannot read trust material: %s' % exc,
                        public=_TRUST_PUBLIC) from None
                _warm(snap)
                self.last_load_seconds = time.monotonic() - started
                self._generation += 1
                self._stats = stats
                self._signed = snap._signed
                self._snapshot = snap           # the atomic swap
                _log_summary(snap, self.ca_path, self.vomsdir)
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            if not isinstance(exc, errors.TrustStoreError):
                LOG.exception('loading the trust material failed')
                exc = errors.TrustStoreError(
                    'cannot load trust material (%s)' % type(exc).__name__,
                    public=_TRUST_PUBLIC)
            job.error = exc
            if self._snapshot is not None:
                LOG.error('keeping the trust material loaded before: %s',
                          exc)
        finally:
            with self._lock:
                self._refresh = None
            job.done.set()

    def crl_grace(self, ca_hash: Optional[str]) -> datetime.timedelta:
        """The grace period after nextUpdate of the CRLs of the CA whose
        subject hash is ``ca_hash`` (override, else the default)."""
        return self.crl_grace_overrides.get(ca_hash or '',
                                            self.crl_grace_period)

    def invalidate(self) -> None:
        """Force a check of the files on the next use."""
        self._checked_at = float('-inf')

    # -- loading ------------------------------------------------------------

    def _scan(self):
        """{path: (mtime, size, inode)} of every file of both trees (one
        ``scandir`` pass; vomsdir one level of VO directories down)."""
        stats = {}
        for top in (self.ca_path, self.vomsdir):
            try:
                with os.scandir(top) as it:
                    for entry in it:
                        if top == self.vomsdir and entry.is_dir():
                            stats[entry.path + os.sep] = ('dir',)
                            with os.scandir(entry.path) as sub:
                                for item in sub:
                                    stats[item.path] = _stat_key(item)
                        else:
                            stats[entry.path] = _stat_key(entry)
            except FileNotFoundError:
                raise errors.TrustStoreError(
                    'trust directory %s does not exist' % top,
                    public=_TRUST_PUBLIC) from None
            except NotADirectoryError:
                raise errors.TrustStoreError(
                    'trust directory %s is not a directory' % top,
                    public=_TRUST_PUBLIC) from None
            except OSError as exc:
                raise errors.TrustStoreError(
                    'cannot read trust directory %s: %s'
                    % (top, exc.strerror or exc),
                    public=_TRUST_PUBLIC) from None
        return stats

    def _check_contents(self, stats):
        """``stats`` with each file's count of content changes appended to
        its key. Every ``content_check_interval`` (and at the first load)
        the contents are hashed: a file whose content changed while its
        metadata did not is then read again like any changed file."""
        interval = self.content_check_interval
        now = time.monotonic()
        if interval is not None and (
                self._snapshot is None
                or now - self._content_checked_at >= interval):
            self._content_checked_at = now
            for path, key in stats.items():
                if key == ('dir',):
                    continue
                digest = _content_digest(path)
                old = self._digests.get(path)
                if old is not None and old != digest:
                    self._epochs[path] = self._epochs.get(path, 0) + 1
                    LOG.info('%s changed without a change of its metadata',
                             path)
                self._digests[path] = digest
            for path in set(self._digests) - set(stats):
                del self._digests[path]
        return {path: key if key == ('dir',)
                else key + (self._epochs.get(path, 0),)
                for path, key in stats.items()}

    def _read(self, path, stats, reader):
        """What ``reader(path)`` returns, reused from the previous load
        when the file's (mtime, size, inode) did not change."""
        key = stats.get(path)
        cached = self._files.get(path)
        if cached is not None and key is not None and cached[0] == key \
                and key[0] != -1:
            self._files_kept[path] = cached
            return cached[1]
        value = reader(path)
        self.last_load_files += 1
        time.sleep(0)           # a reload runs beside requests: yield
        self._files_kept[path] = (key, value)
        return value

    def _load(self, generation, stats):
        """A new snapshot from the files listed in ``stats``: files whose
        stat key is unchanged are not read again."""
        self._files_kept = {}
        self.last_load_files = 0
        by_subject: Dict[bytes, List[x509.Certificate]] = {}
        crls: Dict[bytes, List[x509.CertificateRevocationList]] = {}
        revoked: Dict[int, Dict[int, datetime.datetime]] = {}
        crl_hash: Dict[int, str] = {}
        reasons: Dict[int, Optional[str]] = {}
        alive: Dict[int, x509.CertificateRevocationList] = {}
        self_signed = set()
        ca_files: Dict[str, List[x509.Certificate]] = {}
        unreadable: List[str] = []
        count = 0
        names = sorted(os.listdir(self.ca_path))
        for name in names:
            path = os.path.join(self.ca_path, name)
            if _CA_FILE.match(name):
                found, trouble = self._read(path, stats, _read_cas)
                unreadable.extend(trouble)
                for cert, is_root in found:
                    by_subject.setdefault(name_der(cert.subject),
                                          []).append(cert)
                    ca_files.setdefault(name.split('.', 1)[0],
                                        []).append(cert)
                    if is_root:
                        self_signed.add(id(cert))
                    count += 1
            elif _CRL_FILE.match(name):
                crl, index, reason, trouble = self._read(
                    path, stats, _read_indexed_crl)
                unreadable.extend(trouble)
                if crl is not None:
                    crls.setdefault(name_der(crl.issuer),
                                    []).append(crl)
                    revoked[id(crl)] = index
                    reasons[id(crl)] = reason
                    alive[id(crl)] = crl
                    crl_hash[id(crl)] = name.split('.', 1)[0]
        anchors, partial = _anchors(by_subject, self_signed)
        vos = {}
        for name in sorted(os.listdir(self.vomsdir)):
            path = os.path.join(self.vomsdir, name)
            if os.path.isdir(path):
                vos[name] = self._read_vo(name, path, stats)
        self._files = self._files_kept
        policies = ns_rules.load(self.ca_path, self.namespace_checking,
                                 ca_files, names)
        problems = list(unreadable)
        problems += ['the CA %s is not a trust anchor: its issuer %s is '
                     'not in %s' % (slash_dn(c.subject), slash_dn(c.issuer),
                                    self.ca_path) for c in partial]
        problems += ['the CA %s has no CRL in %s: run fetch-crl'
                     % (slash_dn(certs[0].subject), self.ca_path)
                     for subject, certs in sorted(by_subject.items())
                     if subject not in crls]
        problems.extend(policies.problems)
        for vo_dir in vos.values():
            problems.extend(vo_dir.problems)
        return TrustSnapshot(
            generation=generation,
            ca_by_subject={k: tuple(v) for k, v in by_subject.items()},
            crl_by_issuer={k: tuple(v) for k, v in crls.items()},
            anchors=verification.Store(anchors) if anchors else None,
            vos=vos, ca_count=count, partial_cas=tuple(partial),
            problems=tuple(problems), anchor_count=len(anchors),
            anchor_set=frozenset(anchors),
            revoked_by_crl=revoked,
            crl_file_hash=crl_hash, crl_reason=reasons,
            namespaces=policies if policies.mode.order else None,
            _signed={k: v for k, v in self._signed.items()
                     if alive.get(k[0]) is v[0]})

    def _read_vo(self, vo, path, stats):
        """The :class:`VODirectory` of ``path``, reused when none of its
        files changed."""
        prefix = path + os.sep
        key = tuple(sorted((p, k) for p, k in stats.items()
                           if p.startswith(prefix) and p != prefix))
        return self._read(prefix, {prefix: key},
                          lambda _: _load_vo(vo, path))


class _Refresh:
    """One background check-and-load of a :class:`TrustStore`."""

    def __init__(self, store):
        self.done = threading.Event()
        self.error = None
        self._thread = threading.Thread(
            target=store._run_refresh, args=(self,),
            name='voms-auth-trust-reload', daemon=True)

    def start(self):
        self._thread.start()


def _stat_key(entry):
    """(mtime, size, inode, ctime) of a directory entry (following links):
    a file replaced by rename, or copied with its old timestamp kept
    (``rsync -t``, ``cp -p``), changes inode or ctime. Dangling symlinks
    (the IGTF bundle is full of alias links) count as a fixed value."""
    try:
        st = entry.stat()
    except OSError:
        return (-1, -1, -1, -1)
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def _content_digest(path):
    """SHA-256 of a file's content; unreadable files (directories,
    dangling links, races) count as a fixed value."""
    try:
        with open(path, 'rb') as handle:
            return hashlib.sha256(handle.read()).digest()
    except OSError:
        return b'unreadable'


def _anchors(by_subject, self_signed):
    """(anchors, partial): the self-signed CAs of the directory (ids in
    ``self_signed``), the only trust anchors, as in
    OpenSSL (no ``X509_V_FLAG_PARTIAL_CHAIN``). A CA whose issuer is
    missing from the directory is no anchor (a partial chain): logged,
    and certificates under it are refused.

    Intermediates whose issuer is present are not anchors either: the
    path is built up to the root, so the root's CRL is checked for them.
    """
    anchors, partial = [], []
    for certs in by_subject.values():
        for cert in certs:
            if id(cert) in self_signed:
                anchors.append(cert)
            elif name_der(cert.issuer) not in by_subject:
                partial.append(cert)
                LOG.warning(
                    'the CA %s is not a trust anchor: its issuer %s is not '
                    'in the CA directory (only self-signed CAs are anchors)',
                    printable(slash_dn(cert.subject)),
                    printable(slash_dn(cert.issuer)))
    return anchors, partial


def _read_cas(path):
    """(((certificate, self-signed), ...), problems) of a CA file: its
    self-signature is checked once per file version, not per load."""
    problems = []
    certs = _read_certs(path, problems)
    return tuple((cert, is_self_signed(cert)) for cert in certs), problems


def _read_indexed_crl(path):
    """(CRL, {revoked serial: date}, why it is no complete CRL or
    ``None``, problems) of a CRL file, ``(None, {}, None, problems)``
    when unreadable: built once per file version, in the loading
    thread."""
    problems = []
    crl = _read_crl(path, problems)
    if crl is None:
        return None, {}, None, problems
    index, entry_reason = _walk_entries(crl)
    return (crl, index, crl_rules.unusable_reason(crl, entries=False)
            or entry_reason, problems)


def is_self_signed(cert: x509.Certificate) -> bool:
    """Whether ``cert`` names itself as issuer and its signature verifies
    with its own key. Never raises."""
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # noqa: BLE001 - any failure: not self-signed
        return False
    return True


def _read_certs(path, problems):
    """The certificates of a CA file; an unreadable one is logged, added
    to ``problems`` and skipped."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
        if b'-----BEGIN' in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except Exception as exc:  # noqa: BLE001 - one bad file is skipped
        LOG.warning('ignoring unreadable CA file %s: %s', path, exc)
        problems.append('the CA file %s cannot be read (%s): ignored, '
                        'its users are refused'
                        % (path, _why(exc, 'certificate')))
        return []


def _read_crl(path, problems):
    """The CRL of a CRL file, or ``None`` (logged, added to
    ``problems``) when it cannot be read."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
        if b'-----BEGIN' in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except Exception as exc:  # noqa: BLE001 - one bad file is skipped
        LOG.warning('ignoring unreadable CRL file %s: %s', path, exc)
        problems.append('the CRL file %s cannot be read (%s): ignored'
                        % (path, _why(exc, 'CRL')))
        return None


def _why(exc, what):
    """A short reason for a file that cannot be read or decoded."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return 'it is not a PEM or DER %s' % what


def _log_summary(snap, ca_path, vomsdir):
    """One INFO line per load (CAs, CRLs, VOs, problems), then one
    WARNING per problem."""
    LOG.info('loaded trust material: %d CAs (%d anchors) and %d CRLs from '
             '%s, %d VOs from %s; %d problem(s)', snap.ca_count,
             snap.anchor_count,
             sum(len(v) for v in snap.crl_by_issuer.values()), ca_path,
             len(snap.vos), vomsdir, len(snap.problems))
    for problem in snap.problems:
        LOG.warning('trust material: %s', printable(problem))


def _load_vo(vo, path):
    lscs, certs, problems = [], [], []
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if not os.path.isfile(full):
            continue
        if name.endswith('.lsc'):
            lsc = _read_lsc(full)
            if lsc is not None:
                lscs.append(lsc)
                problems.extend(lsc.problems)
            continue
        found = _read_vomsdir_certs(full)
        if isinstance(found, str):
            problems.append(found)
        else:
            certs.extend(found)
    if not lscs and not certs:
        problems.append('the VO directory %s holds no LSC file '
                        '(<host>.lsc) and no VOMS server certificate: every '
                        'AC of VO %s is refused' % (path, vo))
    return VODirectory(name=vo, lsc=tuple(lscs), certificates=tuple(certs),
                       problems=tuple(problems))


def _read_vomsdir_certs(path):
    """The certificates of a vomsdir file not named ``.lsc``, or a
    readable sentence saying why it is neither a certificate nor
    (properly named) an LSC file."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except OSError as exc:
        return 'cannot read %s: %s' % (path, exc.strerror or exc)
    try:
        if b'-----BEGIN' in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except Exception as exc:  # noqa: BLE001 - explained below
        LOG.debug('%s is no certificate: %s', path, type(exc).__name__)
    text = data.decode('utf-8', 'replace')
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.strip().startswith('#')]
    if lines and (lines[0].startswith('/') or _OPENSSL3_DN.match(lines[0])):
        return ('%s looks like an LSC file (DN lines) but its name does not '
                'end in .lsc, so it is read as a certificate and ignored: '
                'rename it to <VOMS server host>.lsc' % path)
    return Problem.warning(
        '%s is neither an LSC file (<VOMS server host>.lsc) nor a PEM or '
        'DER certificate: ignored' % path)


#: A DN as OpenSSL 3 prints it by default (``DC = org, DC = example, CN =
#: x``) or in RFC 2253 form (``CN=x,DC=example``), not the slash form.
_OPENSSL3_DN = re.compile(r'^[A-Za-z][A-Za-z0-9.]*\s*=\s*[^,/]*,')
FIX_LSC = ('write the LSC lines in slash form with: openssl x509 -noout '
           '-subject -issuer -nameopt compat -in <VOMS server certificate>')


def _read_lsc(path):
    """LSC: one DN per line, server first then its CAs; chains separated by
    a line of dashes; blank lines and ``#`` comments ignored. A line not in
    slash form is kept (it matches nothing) and reported in ``problems``."""
    try:
        with open(path, encoding='utf-8') as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        LOG.warning('ignoring unreadable LSC file %s: %s', path, exc)
        return None
    chains, numbers, problems = [], [], []
    current, current_numbers = [], []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        if _LSC_SEPARATOR.match(line):
            if current:
                chains.append(tuple(current))
                numbers.append(tuple(current_numbers))
            current, current_numbers = [], []
            continue
        if not line.startswith('/'):
            problems.append(
                '%s line %d is not a slash-form DN%s: %s' % (
                    path, number, " (it is in OpenSSL 3's 'DC = org, ...' "
                    "form)" if _OPENSSL3_DN.match(line) else '', FIX_LSC))
        current.append(normalize_dn(line))
        current_numbers.append(number)
    if current:
        chains.append(tuple(current))
        numbers.append(tuple(current_numbers))
    return LSCFile(path=path, chains=tuple(chains),
                   line_numbers=tuple(numbers), problems=tuple(problems))
