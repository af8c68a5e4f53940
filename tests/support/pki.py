"""A throwaway grid PKI in a directory, for tests, benchmarks and the demo.

Layout written under ``root`` (a directory you own, e.g. a pytest tmp dir)::

    certificates/   <hash>.0 CA certificates, <hash>.r0 CRLs (the
                    /etc/grid-security/certificates layout)
    vomsdir/<vo>/<host>.lsc
    private/        keys and certificates of users, VOMS servers and the
                    untrusted CA (never in certificates/)
    proxies/        proxies made by :meth:`GridPKI.make_proxy`

Certificates and CRLs are made with ``cryptography``; proxies with Debian's
``voms-proxy-fake`` (voms-clients), so they are what the real VOMS code
writes. Never use any of this for real trust material: keys are
unencrypted and CRLs are rewritten at will.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import itertools
import pathlib
import re
import shutil
import subprocess
from typing import Iterable, List, Optional, Sequence, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import crypto as _openssl

from voms_auth.voms.names import slash_dn

UTC = datetime.timezone.utc
DEFAULT_VO = 'dteam'
DEFAULT_VOMS_HOST = 'voms.example.org'
DEFAULT_VOMS_PORT = 15004


class ProxyToolError(RuntimeError):
    """``voms-proxy-fake`` failed or is not installed."""


def _now():
    return datetime.datetime.now(UTC).replace(microsecond=0)


def _name(*rdns):
    oids = {'DC': NameOID.DOMAIN_COMPONENT, 'O': NameOID.ORGANIZATION_NAME,
            'OU': NameOID.ORGANIZATIONAL_UNIT_NAME, 'CN': NameOID.COMMON_NAME,
            'C': NameOID.COUNTRY_NAME}
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in rdns])


def _write_key(path, key):
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    path.chmod(0o600)


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def subject_hash(cert: x509.Certificate) -> str:
    """OpenSSL's ``-subject_hash`` of a certificate (``<hash>.0`` name)."""
    return '%08x' % _openssl.X509.from_cryptography(cert).subject_name_hash()


@dataclasses.dataclass
class CA:
    """A certification authority of the throwaway PKI."""

    label: str
    cert: x509.Certificate
    key: object
    parent: Optional[CA]
    trusted: bool
    revoked: dict = dataclasses.field(default_factory=dict)
    crl_expired: bool = False

    @property
    def dn(self) -> str:
        return slash_dn(self.cert.subject)

    @property
    def hash(self) -> str:
        return subject_hash(self.cert)


@dataclasses.dataclass(frozen=True)
class User:
    """A grid user: end-entity certificate and key on disk."""

    cn: str
    cert: x509.Certificate
    cert_path: pathlib.Path
    key_path: pathlib.Path
    ca: CA

    @property
    def dn(self) -> str:
        """Subject in slash form."""
        return slash_dn(self.cert.subject)

    @property
    def ca_dn(self) -> str:
        """Issuer in slash form."""
        return slash_dn(self.cert.issuer)


@dataclasses.dataclass(frozen=True)
class VomsServer:
    """A VOMS server host certificate registered for a VO."""

    vo: str
    host: str
    port: int
    cert: x509.Certificate
    cert_path: pathlib.Path
    key_path: pathlib.Path
    ca: CA

    @property
    def dn(self) -> str:
        return slash_dn(self.cert.subject)

    @property
    def uri(self) -> str:
        return '%s:%d' % (self.host, self.port)


class GridPKI:
    """Builds and holds a throwaway grid PKI under ``root``.

    After construction it holds a trusted root CA (:attr:`root_ca`), an
    issuing intermediate CA under it (:attr:`issuing_ca`, which issues users
    and the VOMS server by default), a second trusted root
    (:attr:`other_ca`, for "same DN from another CA"), an untrusted CA
    (:attr:`untrusted_ca`, not in :attr:`ca_path`), fresh CRLs for the
    trusted CAs, and a VOMS server for ``vo`` listed in an LSC file.

    :param root: directory to write into (created if missing).
    :param vo: name of the VO set up at once.
    :param voms_host: host name of that VO's VOMS server.
    :param key_size: RSA size of the keys voms-proxy-fake uses (users,
        VOMS servers); CAs use EC P-256 keys, which are faster to make.
    """

    def __init__(self, root, *, vo: str = DEFAULT_VO,
                 voms_host: str = DEFAULT_VOMS_HOST, key_size: int = 2048):
        self.root = pathlib.Path(root)
        self.ca_path = self.root / 'certificates'
        self.vomsdir = self.root / 'vomsdir'
        self.private = self.root / 'private'
        self.proxies = self.root / 'proxies'
        for path in (self.ca_path, self.vomsdir, self.private, self.proxies):
            path.mkdir(parents=True, exist_ok=True)
        self.key_size = key_size
        self._serials = itertools.count(0x1000)
        self._proxy_count = itertools.count(1)
        self.cas: List[CA] = []
        self.root_ca = self.add_ca('Example Root CA')
        self.issuing_ca = self.add_ca('Example Issuing CA',
                                      parent=self.root_ca)
        self.other_ca = self.add_ca('Other Grid CA', org='other')
        self.untrusted_ca = self.add_ca('Untrusted CA', org='evil',
                                        trusted=False)
        self.voms_server = self.add_voms_server(vo, voms_host)

    # -- CAs and CRLs ------------------------------------------------------

    def add_ca(self, label: str, *, parent: Optional[CA] = None,
               trusted: bool = True, org: str = 'example',
               days: int = 3650, key_cert_sign: bool = True,
               key_type: str = 'ec') -> CA:
        """Create a CA (self-signed, or under ``parent``); trusted CAs get
        ``<hash>.0`` and a fresh ``<hash>.r0`` in :attr:`ca_path`.
        ``key_cert_sign=False`` makes a broken CA whose key usage does not
        allow signing certificates. ``key_type='rsa'`` makes an RSA CA, as
        IGTF CAs are: voms-proxy-fake signs the proxies of its users with
        SHA-256 (with SHA-1 for users of an EC CA, which OpenSSL 3 refuses
        in TLS)."""
        if key_type == 'rsa':
            key = rsa.generate_private_key(public_exponent=65537,
                                           key_size=2048)
        elif key_type == 'ec':
            key = ec.generate_private_key(ec.SECP256R1())
        else:
            raise ValueError('key_type must be "ec" or "rsa"')
        subject = _name(('DC', 'org'), ('DC', org), ('CN', label))
        signer = parent.key if parent else key
        issuer = parent.cert.subject if parent else subject
        now = _now()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(next(self._serials))
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                           critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False,
                key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=key_cert_sign,
                crl_sign=True, encipher_only=False, decipher_only=False),
                critical=True)
            .add_extension(ski, critical=False))
        if parent:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    parent.key.public_key()), critical=False)
        cert = builder.sign(signer, hashes.SHA256())
        ca = CA(label=label, cert=cert, key=key, parent=parent,
                trusted=trusted)
        self.cas.append(ca)
        if trusted:
            (self.ca_path / ('%s.0' % ca.hash)).write_bytes(_pem(cert))
            self.write_crl(ca)
        else:
            (self.private / ('%s.pem' % label.replace(' ', '_'))
             ).write_bytes(_pem(cert))
        return ca

    def write_crl(self, ca: CA, *, expired: Optional[bool] = None) -> None:
        """(Re)write ``<hash>.r0`` of ``ca`` listing its revoked serials.

        ``expired=True`` writes a CRL whose nextUpdate is in the past.
        """
        if expired is not None:
            ca.crl_expired = expired
        now = _now()
        if ca.crl_expired:
            last, nxt = now - datetime.timedelta(days=10), \
                now - datetime.timedelta(days=3)
        else:
            last, nxt = now - datetime.timedelta(hours=1), \
                now + datetime.timedelta(days=7)
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(ca.cert.subject)
                   .last_update(last).next_update(nxt))
        for serial, when in ca.revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial)
                .revocation_date(when).build())
        crl = builder.sign(ca.key, hashes.SHA256())
        (self.ca_path / ('%s.r0' % ca.hash)).write_bytes(
            crl.public_bytes(serialization.Encoding.PEM))

    def expire_crl(self, ca: CA) -> None:
        """Make the CRL of ``ca`` an expired one (as when fetch-crl stops)."""
        self.write_crl(ca, expired=True)

    def revoke(self, who) -> None:
        """Revoke a :class:`User`, :class:`VomsServer` or :class:`CA` and
        rewrite its issuer's CRL."""
        issuer = who.parent if isinstance(who, CA) else who.ca
        issuer.revoked[who.cert.serial_number] = _now() - \
            datetime.timedelta(minutes=1)
        self.write_crl(issuer)

    def add_filler_cas(self, count: int) -> List[CA]:
        """Add ``count`` unrelated trusted CAs (like the ~150 of the IGTF
        bundle), each with a CRL."""
        return [self.add_ca('Filler CA %03d' % i, org='filler%03d' % i)
                for i in range(count)]

    # -- end entities ------------------------------------------------------

    def _issue(self, ca, subject, key, *, days=365, serial=None,
               server_name=None):
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(ca.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial or next(self._serials))
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                           critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False,
                key_encipherment=True, data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca.key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                key.public_key()), critical=False))
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if server_name:
            usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(server_name)]), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages),
                                        critical=False)
        return builder.sign(ca.key, hashes.SHA256())

    def _rsa_key(self):
        return rsa.generate_private_key(65537, self.key_size)

    def new_user(self, cn: str, *, ca: Optional[CA] = None,
                 org: Optional[str] = None, days: float = 365,
                 serial: Optional[int] = None) -> User:
        """Issue a user certificate ``/DC=org/DC=<org>/OU=People/CN=<cn>``.

        ``ca`` defaults to :attr:`issuing_ca`; ``org`` defaults to
        ``example``, so two CAs can issue the very same DN. ``days`` is the
        remaining lifetime (fractions allowed); ``serial`` forces a serial
        number (e.g. the one of another CA's user).
        """
        ca = ca or self.issuing_ca
        key = self._rsa_key()
        subject = _name(('DC', 'org'), ('DC', org or 'example'),
                        ('OU', 'People'), ('CN', cn))
        cert = self._issue(ca, subject, key, days=days, serial=serial)
        stem = '%s-%x' % (_file_stem(cn), cert.serial_number)
        cert_path = self.private / ('%s-cert.pem' % stem)
        key_path = self.private / ('%s-key.pem' % stem)
        cert_path.write_bytes(_pem(cert))
        _write_key(key_path, key)
        return User(cn=cn, cert=cert, cert_path=cert_path,
                    key_path=key_path, ca=ca)

    def same_dn_user(self, user: User, ca: Optional[CA] = None) -> User:
        """A user with exactly ``user``'s DN, issued by another trusted CA
        (:attr:`other_ca` by default)."""
        ca = ca or self.other_ca
        if ca is user.ca:
            raise ValueError('pick a CA other than the user\'s own')
        key = self._rsa_key()
        cert = self._issue(ca, user.cert.subject, key)
        stem = '%s-%x' % (_file_stem(user.cn), cert.serial_number)
        cert_path = self.private / ('%s-cert.pem' % stem)
        key_path = self.private / ('%s-key.pem' % stem)
        cert_path.write_bytes(_pem(cert))
        _write_key(key_path, key)
        return User(cn=user.cn, cert=cert, cert_path=cert_path,
                    key_path=key_path, ca=ca)

    def add_voms_server(self, vo: str, host: str, *,
                        port: int = DEFAULT_VOMS_PORT,
                        ca: Optional[CA] = None, lsc: bool = True,
                        cert_in_vomsdir: bool = False) -> VomsServer:
        """Issue a VOMS host certificate for ``host`` and register it for
        ``vo``: an LSC file ``vomsdir/<vo>/<host>.lsc`` (``lsc=True``)
        and/or the certificate itself in ``vomsdir/<vo>/`` (older layout).
        With neither, the VO directory exists but does not list the server.
        """
        ca = ca or self.issuing_ca
        key = self._rsa_key()
        subject = _name(('DC', 'org'), ('DC', 'example'), ('OU', 'Hosts'),
                        ('CN', host))
        cert = self._issue(ca, subject, key, server_name=host)
        stem = '%s-%x' % (host, cert.serial_number)
        cert_path = self.private / ('%s-cert.pem' % stem)
        key_path = self.private / ('%s-key.pem' % stem)
        cert_path.write_bytes(_pem(cert))
        _write_key(key_path, key)
        server = VomsServer(vo=vo, host=host, port=port, cert=cert,
                            cert_path=cert_path, key_path=key_path, ca=ca)
        vo_dir = self.vomsdir / vo
        vo_dir.mkdir(exist_ok=True)
        if lsc:
            self.write_lsc(server)
        if cert_in_vomsdir:
            (vo_dir / ('%s.pem' % host)).write_bytes(_pem(cert))
        return server

    def write_lsc(self, server: VomsServer,
                  lines: Optional[Sequence[str]] = None) -> pathlib.Path:
        """Write ``vomsdir/<vo>/<host>.lsc``: the server DN then its CA
        chain DNs, or ``lines`` if given."""
        if lines is None:
            lines = [server.dn]
            ca = server.ca
            while ca is not None:
                lines.append(ca.dn)
                ca = ca.parent
        path = self.vomsdir / server.vo / ('%s.lsc' % server.host)
        path.parent.mkdir(exist_ok=True)
        path.write_text(''.join(line + '\n' for line in lines))
        return path

    # -- proxies -----------------------------------------------------------

    def delegate(self, issuer, **kwargs) -> pathlib.Path:
        """:func:`delegate` writing into :attr:`proxies` by default."""
        if kwargs.get('out') is None:
            kwargs['out'] = self.proxies / ('x509up_%03d'
                                            % next(self._proxy_count))
        return delegate(issuer, **kwargs)

    def make_proxy(self, user: User, *, vo: Optional[str] = DEFAULT_VO,
                   fqans: Optional[Iterable[str]] = None,
                   hours: float = 12, vomslife: Optional[float] = None,
                   pastac: Optional[str] = None,
                   pastproxy: Optional[str] = None,
                   target=None, rfc: bool = True,
                   server: Optional[VomsServer] = None,
                   extra_args: Sequence[str] = (),
                   out: Optional[pathlib.Path] = None) -> pathlib.Path:
        """Make a proxy of ``user`` with ``voms-proxy-fake``; return its path.

        :param vo: VO of the AC; ``None`` makes a proxy without AC.
        :param fqans: FQANs in AC order (default ``/<vo>``).
        :param hours: proxy lifetime; ``vomslife``: AC lifetime (hours).
        :param pastac, pastproxy: start the AC / proxy validity in the past
            (``seconds`` or ``hours:minutes``).
        :param target: host name(s) the AC is targeted at (written as a
            well-formed targets extension, see :func:`targets_extension`).
        :param rfc: RFC 3820 proxy; ``False`` makes a legacy (GT2) proxy.
        :param server: VOMS server signing the AC (default: the one made
            for ``vo`` at construction).
        :param extra_args: further ``voms-proxy-fake`` arguments.
        """
        tool = shutil.which('voms-proxy-fake')
        if tool is None:
            raise ProxyToolError('voms-proxy-fake not found: install the '
                                 'Debian package voms-clients')
        if out is None:
            out = self.proxies / ('x509up_%03d' % next(self._proxy_count))
        args = [tool, '-q', '-cert', str(user.cert_path), '-key',
                str(user.key_path), '-certdir', str(self.ca_path),
                '-out', str(out), '-hours', _hours(hours)]
        if rfc:
            args.append('-rfc')
        else:
            args += ['-proxyver', '2']
        if vo is not None:
            server = server or self.voms_server
            args += ['-voms', vo, '-uri', server.uri,
                     '-hostcert', str(server.cert_path),
                     '-hostkey', str(server.key_path)]
            for fqan in (list(fqans) if fqans is not None else ['/' + vo]):
                args += ['-fqan', fqan]
            if vomslife is not None:
                args += ['-vomslife', _hours(vomslife)]
            if pastac is not None:
                args += ['-pastac', str(pastac)]
            if target is not None:
                targets = [target] if isinstance(target, str) else target
                args += ['-acextension', targets_extension(*targets)]
        if pastproxy is not None:
            args += ['-pastproxy', str(pastproxy)]
        args += list(extra_args)
        result = subprocess.run(args, capture_output=True, text=True,
                                timeout=60, check=False)
        if result.returncode != 0 or not out.exists():
            raise ProxyToolError('voms-proxy-fake failed (%d): %s'
                                 % (result.returncode,
                                    (result.stderr or result.stdout).strip()))
        return out


def delegate(issuer, *, ac_from: Optional[pathlib.Path] = None,
             corrupt_ac_signature: bool = False,
             path_length: Optional[int] = None, hours: float = 12,
             sign_with: Optional[User] = None,
             policy: Optional[str] = None, pci_critical: bool = True,
             extra_extensions: Sequence = (),
             cn: Optional[str] = None,
             out: pathlib.Path) -> pathlib.Path:
    """Write an RFC 3820 proxy signed by ``issuer`` to ``out``.

    ``issuer`` is a :class:`User` (a first proxy) or a proxy file (a proxy
    of a proxy). Made with ``cryptography`` because voms-proxy-fake cannot
    sign with its own proxies (they lack the subject key identifier its
    authorityKeyIdentifier=keyid:always needs). ``ac_from`` copies the VOMS
    ACs of that proxy file (or of several, in order: a multi-VO proxy, see
    :func:`combined_acs`) into the new proxy (an AC presented by another
    holder); ``corrupt_ac_signature`` flips the first AC's last signature
    byte. ``sign_with`` signs with that user's key instead of
    the issuer's (a forged proxy). ``policy`` (policy language OID,
    default inheritAll), ``pci_critical`` and ``extra_extensions``
    (``(extension, critical)`` pairs) make proxies that break RFC 3820.
    ``cn`` is the proxy's own CN (default: its serial number), e.g.
    ``user:jdoe`` for an EGI per-user sub-proxy of a robot.
    """
    if isinstance(issuer, User):
        issuer_cert = issuer.cert
        issuer_key = serialization.load_pem_private_key(
            issuer.key_path.read_bytes(), password=None)
        chain = [issuer.cert]
    else:
        data = pathlib.Path(issuer).read_bytes()
        chain = x509.load_pem_x509_certificates(data)
        issuer_cert = chain[0]
        issuer_key = serialization.load_pem_private_key(
            _pem_block(data, b'PRIVATE KEY'), password=None)
    key = rsa.generate_private_key(65537, 2048)
    serial = next(_proxy_serials)
    now = _now()
    pci = _proxy_cert_info(path_length, policy)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(list(issuer_cert.subject.rdns) + [
            x509.RelativeDistinguishedName([x509.NameAttribute(
                NameOID.COMMON_NAME, cn or str(serial))])]))
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key()).serial_number(serial)
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=hours))
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False,
            key_encipherment=True, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.UnrecognizedExtension(
            x509.ObjectIdentifier('1.3.6.1.5.5.7.1.14'), pci),
            critical=pci_critical))
    for extension, critical in extra_extensions:
        builder = builder.add_extension(extension, critical=critical)
    if ac_from is not None:
        sources = [ac_from] if isinstance(ac_from, (str, pathlib.Path)) \
            else list(ac_from)
        value = combined_acs(
            *sources, corrupt=[0] if corrupt_ac_signature else ())
        builder = builder.add_extension(
            x509.UnrecognizedExtension(_OID_VOMS_ACS, value),
            critical=False)
    if sign_with is not None:
        issuer_key = serialization.load_pem_private_key(
            sign_with.key_path.read_bytes(), password=None)
    cert = builder.sign(issuer_key, hashes.SHA256())
    out = pathlib.Path(out)
    out.write_bytes(_pem(cert) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()) + b''.join(_pem(c) for c in chain))
    out.chmod(0o600)
    return out


_proxy_serials = itertools.count(0x51000)
_OID_VOMS_ACS = x509.ObjectIdentifier('1.3.6.1.4.1.8005.100.100.5')


def voms_extension_value(proxy_file) -> bytes:
    """The value of the VOMS extension (its ACs) of the proxy file's
    first certificate."""
    cert = x509.load_pem_x509_certificates(
        pathlib.Path(proxy_file).read_bytes())[0]
    return cert.extensions.get_extension_for_oid(_OID_VOMS_ACS).value.value


def ac_parts(value: bytes) -> Tuple[List[bytes], bytes, bytes]:
    """(acinfo's fields, the signature AlgorithmIdentifier, the signature
    BIT STRING), each a whole TLV, of the one AC of the VOMS extension
    ``value`` (to be changed and put together by :func:`ac_value`)."""
    (group,) = der_children(der_content(value))
    (attribute_cert,) = der_children(der_content(group))
    info, algorithm, signature = der_children(der_content(attribute_cert))
    return der_children(der_content(info)), algorithm, signature


def ac_value(fields: Sequence[bytes], algorithm: bytes,
             signature: bytes) -> bytes:
    """The VOMS extension value holding one AC made of the parts
    :func:`ac_parts` gives (its signature is not made again)."""
    return der_tlv(0x30, der_tlv(0x30, der_tlv(0x30, der_tlv(
        0x30, b''.join(fields)) + algorithm + signature)))


def combined_acs(*proxies, corrupt: Iterable[int] = ()) -> bytes:
    """A VOMS extension value (SEQUENCE OF SEQUENCE OF AC) holding every
    AC of the proxy files ``proxies``, in order, in one AC sequence as
    ``voms-proxy-init --voms a --voms b`` writes them. voms-clients 2.1.0~rc3
    ``voms-proxy-fake`` cannot make this: ``-voms`` twice gives one AC
    (last VO, every FQAN) and ``-voinfo`` crashes. The ACs themselves are
    voms-proxy-fake's, byte for byte, except for the positions listed in
    ``corrupt``, whose last signature byte is flipped (a forged AC)."""
    corrupt = set(corrupt)
    acs = []
    for path in proxies:
        value = voms_extension_value(path)
        for group in der_children(der_content(value)):
            acs.extend(der_children(der_content(group)))
    for index in corrupt:
        ac = bytearray(acs[index])
        ac[-1] ^= 0x01
        acs[index] = bytes(ac)
    return der_tlv(0x30, der_tlv(0x30, b''.join(acs)))


def _proxy_cert_info(path_length, policy=None):
    """DER ProxyCertInfo (policy language default inheritAll)."""
    from pyasn1.codec.der import encoder
    from pyasn1_modules import rfc3820

    info = rfc3820.ProxyCertInfoExtension()
    if path_length is not None:
        info['pCPathLenConstraint'] = path_length
    info['proxyPolicy']['policyLanguage'] = (
        policy or rfc3820.id_ppl_inheritAll)
    return encoder.encode(info)


def _pem_block(data, label):
    begin = data.index(b'-----BEGIN ')
    while True:
        end_label = data.index(b'-----', begin + 11)
        name = data[begin + 11:end_label]
        end = data.index(b'-----END ' + name + b'-----', end_label)
        if name.endswith(label):
            return data[begin:end + len(name) + 14]
        begin = data.index(b'-----BEGIN ', end)


def _file_stem(name):
    """``name`` made safe for a file name (CNs may hold anything)."""
    return re.sub(r'[^A-Za-z0-9.-]', '_', name)


def _hours(value):
    value = float(value)
    return str(int(value)) if value == int(value) else str(value)


def targets_extension(*hosts: str) -> str:
    """A ``voms-proxy-fake -acextension`` argument putting a well-formed
    id-ce-targetInformation (URIs) into the AC.

    voms-clients 2.1.0~rc3 on Debian 12 writes an empty target list for
    ``-target`` (and crashes on names longer than 15 characters), so
    :meth:`GridPKI.make_proxy` builds the extension itself.
    """
    from pyasn1.codec.der import encoder
    from pyasn1.type import univ
    from pyasn1_modules import rfc5755

    targets = rfc5755.Targets()
    for host in hosts:
        target = rfc5755.Target()
        name = target['targetName']
        name['uniformResourceIdentifier'] = host
        targets.append(target)
    outer = univ.SequenceOf(componentType=rfc5755.Targets())
    outer.append(targets)
    return '2.5.29.55/true~%s' % encoder.encode(outer).hex()


# -- odd certificates and CRLs (hostile input) -----------------------------

def der_tlv(tag: int, content: bytes) -> bytes:
    """One DER TLV (definite length)."""
    size = len(content)
    if size < 0x80:
        head = bytes([size])
    else:
        raw = size.to_bytes((size.bit_length() + 7) // 8, 'big')
        head = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + head + content


def der_children(der: bytes) -> List[bytes]:
    """The TLVs (whole, tag included) one after another in ``der``
    (single-byte tags, definite lengths: enough for certificates)."""
    out, i = [], 0
    while i < len(der):
        size, j = der[i + 1], i + 2
        if size & 0x80:
            count = size & 0x7f
            size, j = int.from_bytes(der[j:j + count], 'big'), j + count
        out.append(der[i:j + size])
        i = j + size
    return out


def der_content(tlv: bytes) -> bytes:
    """The content octets of one TLV."""
    size, j = tlv[1], 2
    if size & 0x80:
        j += size & 0x7f
    return tlv[j:]


#: Oddities :func:`odd_proxy` can put into a proxy certificate.
ODDITIES = ('duplicate-extension', 'bad-version', 'x400-crl-dp',
            'x400-san', 'cn-bitstring', 'cn-bad-utf8')

_X400 = der_tlv(0xa3, der_tlv(0x30, b''))      # [3] x400Address, empty


def _oid_tlv(*arcs):
    return der_tlv(0x06, bytes(arcs))


def _extension_tlv(oid_tlv, value, critical=False):
    flag = der_tlv(0x01, b'\xff') if critical else b''
    return der_tlv(0x30, oid_tlv + flag + der_tlv(0x04, value))


def _odd_tbs(fields: List[bytes], oddity: str) -> List[bytes]:
    """TBSCertificate fields (version first) with ``oddity`` applied."""
    fields = list(fields)
    exts_seq = der_children(der_content(fields[7]))[0]
    exts = der_children(der_content(exts_seq))

    def with_extensions(extra):
        return der_tlv(0xa3, der_tlv(0x30, b''.join(exts + extra)))

    if oddity == 'duplicate-extension':
        fields[7] = with_extensions([exts[0]])
    elif oddity == 'bad-version':
        fields[0] = der_tlv(0xa0, der_tlv(0x02, b'\x05'))
    elif oddity == 'x400-crl-dp':
        point = der_tlv(0x30, der_tlv(0xa0, der_tlv(0xa0, _X400)))
        fields[7] = with_extensions([_extension_tlv(
            _oid_tlv(0x55, 0x1d, 0x1f), der_tlv(0x30, point))])
    elif oddity == 'x400-san':
        fields[7] = with_extensions([_extension_tlv(
            _oid_tlv(0x55, 0x1d, 0x11), der_tlv(0x30, _X400))])
    elif oddity == 'cn-bitstring':
        rdn = der_tlv(0x31, der_tlv(0x30, _oid_tlv(0x55, 0x04, 0x03)
                                    + der_tlv(0x03, b'\x00proxy')))
        fields[5] = der_tlv(0x30, der_content(fields[5]) + rdn)
    elif oddity == 'cn-bad-utf8':        # the proxy's own CN, not UTF-8
        rdns = der_children(der_content(fields[5]))
        rdns[-1] = der_tlv(0x31, der_tlv(0x30, _oid_tlv(0x55, 0x04, 0x03)
                                         + der_tlv(0x0c, b'\xff\xfe12')))
        fields[5] = der_tlv(0x30, b''.join(rdns))
    elif oddity == 'c-not-cn':
        # C=XYZ where the proxy's CN was: not in ODDITIES (the proxy rules
        # refuse it; cryptography only warns about the name)
        rdns = der_children(der_content(fields[5]))
        rdns[-1] = der_tlv(0x31, der_tlv(0x30, _oid_tlv(0x55, 0x04, 0x06)
                                         + der_tlv(0x13, b'XYZ')))
        fields[5] = der_tlv(0x30, b''.join(rdns))
    else:
        raise ValueError('unknown oddity %r (one of %s)'
                         % (oddity, ', '.join(ODDITIES)))
    return fields


def resign_certificate(der: bytes, fields: List[bytes], key) -> bytes:
    """``der`` with its TBSCertificate replaced by ``fields`` (DER TLVs),
    signed again with ``key`` (RSA PKCS #1 v1.5 or ECDSA) and the hash of
    its original signature algorithm."""
    from cryptography.hazmat.primitives.asymmetric import padding

    cert = x509.load_der_x509_certificate(der)
    algorithm = cert.signature_hash_algorithm
    _, sig_alg, _ = der_children(der_content(der))
    tbs = der_tlv(0x30, b''.join(fields))
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(tbs, padding.PKCS1v15(), algorithm)
    else:
        signature = key.sign(tbs, ec.ECDSA(algorithm))
    return der_tlv(0x30, tbs + sig_alg + der_tlv(0x03, b'\x00' + signature))


def odd_proxy(user: User, proxy: pathlib.Path, oddity: str,
              out: pathlib.Path) -> pathlib.Path:
    """Write to ``out`` the proxy file ``proxy`` (made for ``user``) whose
    proxy certificate carries ``oddity`` (one of :data:`ODDITIES`), signed
    again with the user's key: what a user can present with nothing but
    their own grid certificate. ``cryptography`` loads such certificates
    but raises ``DuplicateExtension``, ``InvalidVersion``,
    ``UnsupportedGeneralNameType`` or ``TypeError`` when reading them."""
    return resigned_proxy(user, proxy, lambda fields: _odd_tbs(fields,
                                                              oddity), out)


def resigned_proxy(user: User, proxy: pathlib.Path, change,
                   out: pathlib.Path) -> pathlib.Path:
    """Write to ``out`` the proxy file ``proxy`` (made for ``user``) whose
    proxy certificate's TBSCertificate fields (DER TLVs, version first)
    are ``change(fields)``, signed again with the user's key."""
    data = pathlib.Path(proxy).read_bytes()
    chain = x509.load_pem_x509_certificates(data)
    der = chain[0].public_bytes(serialization.Encoding.DER)
    fields = der_children(der_content(der_children(der_content(der))[0]))
    user_key = serialization.load_pem_private_key(
        user.key_path.read_bytes(), password=None)
    odd = resign_certificate(der, change(fields), user_key)
    pem = b'-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n' % (
        _base64_lines(odd))
    rest = data[data.index(b'-----END CERTIFICATE-----') + 26:]
    out = pathlib.Path(out)
    out.write_bytes(pem + rest)
    return out


def with_extensions(change):
    """A ``change`` for :func:`resigned_proxy`: the certificate's
    extensions (each Extension's DER, in order) become ``change(exts)``."""
    def apply(fields):
        fields = list(fields)
        exts = der_children(der_content(der_children(der_content(
            fields[7]))[0]))
        fields[7] = der_tlv(0xa3, der_tlv(0x30, b''.join(change(exts))))
        return fields
    return apply


def extension_tlv(oid_tlv: bytes, value: bytes, critical=False) -> bytes:
    """An Extension's DER: ``oid_tlv`` (an OID's DER), the critical flag
    when ``critical``, the OCTET STRING of ``value``."""
    return _extension_tlv(oid_tlv, value, critical)


def _base64_lines(der):
    return base64.encodebytes(der)


def write_crl_file(pki: GridPKI, ca: CA, suffix: str, *,
                   revoked: Iterable[int] = (),
                   extensions: Sequence = (),
                   last_update: Optional[datetime.datetime] = None,
                   next_update: Optional[datetime.datetime] = None
                   ) -> pathlib.Path:
    """Write one more CRL of ``ca`` as ``<hash>.<suffix>`` (e.g. ``r1``)
    into ``pki``'s CA directory,
    signed by ``ca``: listing ``revoked`` serials, with ``extensions``
    (``(extension, critical)`` pairs: DeltaCRLIndicator,
    IssuingDistributionPoint, ``x509.UnrecognizedExtension``, ...), issued
    at ``last_update`` (default: now, newer than the ``.r0``)."""
    now = _now()
    last = last_update or now
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(ca.cert.subject).last_update(last)
               .next_update(next_update or last + datetime.timedelta(days=7)))
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial)
            .revocation_date(now - datetime.timedelta(minutes=1)).build())
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    crl = builder.sign(ca.key, hashes.SHA256())
    path = pki.ca_path / ('%s.%s' % (ca.hash, suffix))
    path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    return path


# -- IGTF namespace policy files ----------------------------------------------

def igtf_namespaces(ca: CA, rules: Sequence[tuple], *,
                    alias: str = 'TEST') -> str:
    """A ``<hash>.namespaces`` file as the IGTF distribution writes it
    (EUGridPMA format 1.0): a header of comments, then one rule per
    ``(issuer DN or 'SELF', 'PERMIT'|'DENY', subject regex)``, each
    continued over two lines with a backslash."""
    lines = ['#' * 78, '#NAMESPACES-VERSION: 1.0', '#',
             '# @(#)%s.namespaces' % ca.hash, '# CA alias    : %s' % alias,
             '#    subord_of: %s' % (ca.parent.dn if ca.parent else ''),
             '#    subjectDN: %s' % ca.dn, '#    hash     : %s' % ca.hash,
             '#']
    for issuer, verdict, subject in rules:
        issuer_text = 'SELF' if issuer == 'SELF' else '"%s"' % issuer
        lines += ['TO Issuer %s \\' % issuer_text,
                  '  %s Subject "%s"' % (verdict, subject), '']
    return '\n'.join(lines) + '\n'


def igtf_signing_policy(blocks: Sequence[tuple]) -> str:
    """A ``<hash>.signing_policy`` file as the IGTF distribution writes it
    (Globus EACL): an RCS id comment, then one block per ``(CA DN,
    [subject wildcard, ...])``."""
    lines = ['# @(#)$Id: test.signing_policy,v 1.2 2016/01/27 17:00:22 '
             'pmacvsdg Exp $', '#']
    for issuer, subjects in blocks:
        lines += [" access_id_CA      X509         '%s'" % issuer,
                  ' pos_rights        globus        CA:sign',
                  " cond_subjects     globus       '%s'"
                  % ' '.join('"%s"' % s for s in subjects)]
    return '\n'.join(lines) + '\n'
