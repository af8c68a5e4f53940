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
import logging
import os
import re
import threading
import time
from typing import Dict, List, Mapping, Optional, Tuple

from cryptography import x509
from cryptography.x509 import verification

from voms_auth.errors import printable
from voms_auth.voms import crl as crl_rules
from voms_auth.voms import errors
from voms_auth.voms.names import normalize_dn, slash_dn

LOG = logging.getLogger(__name__)

_CA_FILE = re.compile(r'^[0-9a-f]{8}\.[0-9]+$')
_CRL_FILE = re.compile(r'^[0-9a-f]{8}\.r[0-9]+$')
_LSC_SEPARATOR = re.compile(r'^-{3,}')
#: What an anonymous client is told when the trust material is unusable.
_TRUST_PUBLIC = 'the server cannot read its grid trust material'


@dataclasses.dataclass(frozen=True)
class LSCFile:
    """An LSC file: the accepted DN chains (server DN first, then the DN of
    each CA up the chain) of one VOMS server host."""

    path: str
    chains: Tuple[Tuple[str, ...], ...]


@dataclasses.dataclass(frozen=True)
class VODirectory:
    """What ``vomsdir/<vo>/`` holds."""

    name: str
    lsc: Tuple[LSCFile, ...]
    certificates: Tuple[x509.Certificate, ...]


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
    # (id of crl, issuer signature) -> CRL signature valid; filled
    # lazily by readers (a dict set is atomic; a repeat is harmless).
    _crl_checked: Dict[Tuple[bytes, bytes], bool] = dataclasses.field(
        default_factory=dict, compare=False)

    def issuers_of(self, cert: x509.Certificate):
        """CA certificates whose subject is ``cert``'s issuer."""
        return self.ca_by_subject.get(cert.issuer.public_bytes(), ())

    def crls_for(self, issuer: x509.Certificate
                 ) -> Tuple[x509.CertificateRevocationList, ...]:
        """The complete CRLs of ``issuer`` (signature checked; deltas,
        indirect, reason-limited CRLs and CRLs with unknown critical
        extensions left out, see :func:`voms_auth.voms.crl.unusable_reason`),
        oldest first. Results are remembered for this snapshot."""
        candidates = self.crl_by_issuer.get(issuer.subject.public_bytes(), ())
        usable = [crl for crl in candidates if self._usable(crl, issuer)]
        return tuple(sorted(usable, key=lambda c: c.last_update_utc))

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
            reason = crl_rules.unusable_reason(crl)
            if reason is not None:
                LOG.warning('not using a CRL of %s as its complete CRL: %s',
                            printable(slash_dn(crl.issuer)), reason)
            ok = reason is None and _crl_signed_by(crl, issuer)
            self._crl_checked[key] = ok
        return ok


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
    :param clock_skew: tolerance applied to validity periods.
    :param refresh_interval: seconds between two checks of the files.

    Thread-safe. Missing or unreadable directories raise
    :class:`~voms_auth.voms.errors.TrustStoreError` on first use (or from
    :meth:`snapshot`).
    """

    def __init__(self, ca_path, vomsdir, *, allow_expired_crl: bool = False,
                 clock_skew: datetime.timedelta = datetime.timedelta(
                     minutes=5),
                 refresh_interval: float = 5.0):
        self.ca_path = os.fspath(ca_path)
        self.vomsdir = os.fspath(vomsdir)
        self.allow_expired_crl = allow_expired_crl
        self.clock_skew = clock_skew
        self.refresh_interval = refresh_interval
        self._lock = threading.Lock()
        self._snapshot: Optional[TrustSnapshot] = None
        self._signature = None
        self._checked_at = float('-inf')
        self._generation = 0

    def snapshot(self) -> TrustSnapshot:
        """The current trust material, reloaded if files changed."""
        snap = self._snapshot
        if snap is not None and (time.monotonic() - self._checked_at
                                 < self.refresh_interval):
            return snap
        with self._lock:
            if (self._snapshot is not None and time.monotonic()
                    - self._checked_at < self.refresh_interval):
                return self._snapshot
            signature = self._scan_signature()
            if self._snapshot is None or signature != self._signature:
                self._generation += 1
                try:
                    self._snapshot = self._load(self._generation)
                except OSError as exc:
                    raise errors.TrustStoreError(
                        'cannot read trust material: %s' % exc,
                        public=_TRUST_PUBLIC) from None
                self._signature = signature
                LOG.info('loaded trust material: %d CAs from %s, %d VOs '
                         'from %s', self._snapshot.ca_count, self.ca_path,
                         len(self._snapshot.vos), self.vomsdir)
            self._checked_at = time.monotonic()
            return self._snapshot

    def invalidate(self) -> None:
        """Force a check of the files on the next use."""
        self._checked_at = float('-inf')

    # -- loading ------------------------------------------------------------

    def _scan_signature(self):
        entries = []
        for top in (self.ca_path, self.vomsdir):
            try:
                with os.scandir(top) as it:
                    for entry in it:
                        entries.append(_stat_key(entry))
                        if top == self.vomsdir and entry.is_dir():
                            with os.scandir(entry.path) as sub:
                                entries.extend(_stat_key(i) for i in sub)
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
        return tuple(sorted(entries))

    def _load(self, generation):
        by_subject: Dict[bytes, List[x509.Certificate]] = {}
        crls: Dict[bytes, List[x509.CertificateRevocationList]] = {}
        count = 0
        for name in sorted(os.listdir(self.ca_path)):
            path = os.path.join(self.ca_path, name)
            if _CA_FILE.match(name):
                for cert in _read_certs(path):
                    by_subject.setdefault(cert.subject.public_bytes(),
                                          []).append(cert)
                    count += 1
            elif _CRL_FILE.match(name):
                crl = _read_crl(path)
                if crl is not None:
                    crls.setdefault(crl.issuer.public_bytes(),
                                    []).append(crl)
        anchors = _anchors(by_subject)
        vos = {}
        for name in sorted(os.listdir(self.vomsdir)):
            path = os.path.join(self.vomsdir, name)
            if os.path.isdir(path):
                vos[name] = _load_vo(name, path)
        return TrustSnapshot(
            generation=generation,
            ca_by_subject={k: tuple(v) for k, v in by_subject.items()},
            crl_by_issuer={k: tuple(v) for k, v in crls.items()},
            anchors=verification.Store(anchors) if anchors else None,
            vos=vos, ca_count=count)


def _stat_key(entry):
    """(path, mtime, size) of a directory entry; dangling symlinks (the
    IGTF bundle is full of alias links) count as a fixed value."""
    try:
        st = entry.stat()
    except OSError:
        return (entry.path, -1, -1)
    return (entry.path, st.st_mtime_ns, st.st_size)


def _anchors(by_subject):
    """Self-signed CAs, plus CAs whose issuer is not in the directory.

    Intermediates whose issuer is present are not anchors: the path is then
    built up to the root, so the root's CRL is checked for them too.
    """
    anchors = []
    for certs in by_subject.values():
        for cert in certs:
            if cert.issuer == cert.subject or \
                    cert.issuer.public_bytes() not in by_subject:
                anchors.append(cert)
    return anchors


def _read_certs(path):
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
        if b'-----BEGIN' in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except Exception as exc:  # noqa: BLE001 - one bad file is skipped
        LOG.warning('ignoring unreadable CA file %s: %s', path, exc)
        return []


def _read_crl(path):
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
        if b'-----BEGIN' in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except Exception as exc:  # noqa: BLE001 - one bad file is skipped
        LOG.warning('ignoring unreadable CRL file %s: %s', path, exc)
        return None


def _load_vo(vo, path):
    lscs, certs = [], []
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if not os.path.isfile(full):
            continue
        if name.endswith('.lsc'):
            lsc = _read_lsc(full)
            if lsc is not None:
                lscs.append(lsc)
        else:
            certs.extend(_read_certs(full))
    return VODirectory(name=vo, lsc=tuple(lscs), certificates=tuple(certs))


def _read_lsc(path):
    """LSC: one DN per line, server first then its CAs; chains separated by
    a line of dashes; blank lines and ``#`` comments ignored."""
    try:
        with open(path, encoding='utf-8') as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        LOG.warning('ignoring unreadable LSC file %s: %s', path, exc)
        return None
    chains, current = [], []
    for line in lines:
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        if _LSC_SEPARATOR.match(line):
            if current:
                chains.append(tuple(current))
            current = []
            continue
        current.append(normalize_dn(line))
    if current:
        chains.append(tuple(current))
    return LSCFile(path=path, chains=tuple(chains))

