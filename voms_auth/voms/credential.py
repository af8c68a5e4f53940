"""The result of a successful VOMS proxy verification.

A proxy's VOMS extension may hold several attribute certificates (one per
VO, as ``voms-proxy-init --voms a --voms b`` writes them). Each is verified
on its own: the valid ones are :class:`VerifiedAC` in
:attr:`VomsCredential.acs` (all their memberships count), the invalid ones
:class:`RejectedAC` in :attr:`VomsCredential.rejected_acs` (they grant
nothing). The top-level AC fields of :class:`VomsCredential` describe the
first valid AC, as they did when only one AC was read.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
from typing import Optional, Tuple

from voms_auth import identity
from voms_auth.voms import fqan

GenericAttribute = Tuple[str, str, str]  # (name, value, qualifier)

#: Largest presented proxy whose DER a :class:`VomsCredential` keeps, for
#: :attr:`~VomsCredential.proxy_fingerprint` to be hashed when read; the
#: fingerprint of a larger one is computed at once. Why: hashing at every
#: verification cost 10-13 us of ~290 in a login (issue 15; 2 us alone,
#: more among the RSA checks) for a figure Keystone never reads. What the
#: result cache (``verification_cache_size``, 4,096) holds for it: a
#: usual proxy's 2-3 KB (~10 MB for 4,096), 32 MB at most.
KEPT_PROXY_DER = 8 * 1024


@dataclasses.dataclass(frozen=True)
class VerifiedAC:
    """One valid VOMS AC of the proxy: its VO, FQANs (AC order), signing
    server (slash-form DNs), validity (aware UTC), serial, targets and
    Generic Attributes."""

    vo: str
    fqans: Tuple[str, ...]
    server: str
    server_ca: str
    uri: Optional[str]
    not_before: datetime.datetime
    not_after: datetime.datetime
    serial: int
    targets: Optional[Tuple[str, ...]]
    generic_attributes: Tuple[GenericAttribute, ...] = ()

    def as_dict(self) -> dict:
        """JSON-ready form (one item of ``verify-proxy``'s ``vos``)."""
        fmt = identity.format_time
        return {
            'vo': self.vo, 'fqans': list(self.fqans),
            'server': self.server, 'server_ca': self.server_ca,
            'uri': self.uri, 'not_before': fmt(self.not_before),
            'not_after': fmt(self.not_after), 'ac_serial': self.serial,
            'targets': list(self.targets) if self.targets is not None
            else None,
            'generic_attributes': _ga_dicts(self.generic_attributes),
        }


@dataclasses.dataclass(frozen=True)
class RejectedAC:
    """An AC of the proxy that failed a check and grants nothing:
    its position in the VOMS extension (0 = first), the VO it names (may
    be ``None`` or invalid) and the reason (the refusal's text)."""

    index: int
    vo: Optional[str]
    reason: str

    def as_dict(self) -> dict:
        return {'index': self.index, 'vo': self.vo, 'reason': self.reason}


def _ga_dicts(attributes):
    return [{'name': n, 'value': v, 'qualifier': q}
            for n, v, q in attributes]


@dataclasses.dataclass(frozen=True)
class VomsCredential:
    """A verified VOMS proxy: who the user is and what its ACs state.

    DNs are in slash form; times are aware UTC. ``acs`` holds every valid
    AC (at least one), ``rejected_acs`` the ACs that were skipped. ``vo``,
    ``fqans``, ``server``, ``server_ca``, ``uri``, ``not_before``/
    ``not_after`` (AC validity), ``ac_serial`` and ``targets`` describe the
    first valid AC (read from it). ``expires_at`` is the earliest end of
    validity of anything in the credential (proxies, user certificate, its
    CAs, every valid AC).

    ``robot``: the user certificate is a robot's (``CN=Robot: ...``,
    :func:`~voms_auth.voms.robots.is_robot`). ``pusp_subject``: the DN of
    the per-user sub-proxy when the user certificate is a robot the
    verifier lists for PUSP (:class:`~voms_auth.voms.robots.PuspRobots`),
    else ``None``; it is then the person's subject, not ``user``.
    """

    user: str
    user_ca: str
    expires_at: datetime.datetime
    user_serial: int
    #: the presented proxy's DER (``b''`` over :data:`KEPT_PROXY_DER`
    #: bytes), and its fingerprint when computed at once (see
    #: :meth:`for_proxy`, :attr:`proxy_fingerprint`)
    proxy_der: bytes = dataclasses.field(repr=False)
    proxy_sha256: str = dataclasses.field(repr=False)
    proxy_depth: int        # number of proxies in the chain
    acs: Tuple[VerifiedAC, ...]
    rejected_acs: Tuple[RejectedAC, ...] = ()
    robot: bool = False
    pusp_subject: Optional[str] = None

    def __post_init__(self):
        if not self.acs:
            raise ValueError('a VOMS credential needs a valid AC')

    # The first valid AC, as the single-AC interface always showed it.
    vo = property(lambda self: self.acs[0].vo)
    fqans = property(lambda self: self.acs[0].fqans)
    server = property(lambda self: self.acs[0].server)
    server_ca = property(lambda self: self.acs[0].server_ca)
    uri = property(lambda self: self.acs[0].uri)
    not_before = property(lambda self: self.acs[0].not_before)
    not_after = property(lambda self: self.acs[0].not_after)
    ac_serial = property(lambda self: self.acs[0].serial)
    targets = property(lambda self: self.acs[0].targets)

    @property
    def proxy_fingerprint(self) -> str:
        """SHA-256 of the presented proxy's DER, hex (hashed when read,
        unless it was computed at once: :data:`KEPT_PROXY_DER`)."""
        return self.proxy_sha256 or hashlib.sha256(self.proxy_der).hexdigest()

    @staticmethod
    def for_proxy(der: bytes) -> dict:
        """The ``proxy_der`` and ``proxy_sha256`` fields for a presented
        proxy of DER ``der``."""
        if len(der) > KEPT_PROXY_DER:
            return {'proxy_der': b'',
                    'proxy_sha256': hashlib.sha256(der).hexdigest()}
        return {'proxy_der': der, 'proxy_sha256': ''}

    @property
    def all_fqans(self) -> Tuple[str, ...]:
        """The FQANs of every valid AC, AC order then FQAN order."""
        return tuple(f for a in self.acs for f in a.fqans)

    @property
    def generic_attributes(self) -> Tuple[GenericAttribute, ...]:
        """The Generic Attributes of every valid AC, in order."""
        return tuple(g for a in self.acs for g in a.generic_attributes)

    @property
    def name(self) -> str:
        """The user's CN (the last one of the DN), else the whole DN; for
        a PUSP, its user component and the robot's CN
        (``user:jdoe (Robot: portal)``)."""
        robot = _last_cn(self.user) or self.user
        if self.pusp_subject:
            return '%s (%s)' % (self.pusp_user, robot)
        return robot

    @property
    def subject(self) -> str:
        """The person's subject: the PUSP DN, else the user's DN."""
        return self.pusp_subject or self.user

    @property
    def pusp_user(self) -> Optional[str]:
        """The user component of a PUSP (its last CN's value), or
        ``None``."""
        if not self.pusp_subject:
            return None
        return self.pusp_subject[len(self.user) + len('/CN='):]

    def identity(self) -> identity.Identity:
        """The :class:`~voms_auth.identity.Identity` this credential proves:
        the memberships of every valid AC (each once, first occurrence
        kept). ``attributes``: ``vo``, ``server``, ``uri`` of the first
        AC; ``fqans`` and ``vos`` (every valid AC); ``generic_attributes``,
        a tuple of (name, value, qualifier); ``vo_generic_attributes``, a
        frozenset of (VO of the AC, name, value); ``robot`` (bool); for a PUSP
        ``pusp_robot`` (the robot's DN) and ``pusp_user`` (the user
        component). The subject is :attr:`subject` (the PUSP DN for a
        listed robot's sub-proxy), the issuer the user's CA.

        :raises voms_auth.voms.fqan.InvalidFQAN: if an FQAN is malformed
            (the verifier has refused such ACs already).

        Built once per credential: a cached verification returns the same
        credential, so a repeat login does not parse its FQANs again.
        """
        built = self.__dict__.get('_identity')
        if built is None:
            built = self._build_identity()
            object.__setattr__(self, '_identity', built)
        return built

    def _build_identity(self) -> identity.Identity:
        fqans = self.all_fqans
        memberships = []
        for value in fqans:
            membership = fqan.parse_fqan(value)
            if membership not in memberships:
                memberships.append(membership)
        return identity.Identity(
            kind=identity.KIND_VOMS, issuer=self.user_ca,
            subject=self.subject, name=self.name,
            memberships=tuple(memberships), expires_at=self.expires_at,
            attributes={'vo': self.vo, 'server': self.server,
                        'uri': self.uri, 'fqans': fqans,
                        'vos': tuple(a.vo for a in self.acs),
                        'generic_attributes': self.generic_attributes,
                        'vo_generic_attributes': frozenset(
                            (a.vo, name, value) for a in self.acs
                            for name, value, _ in a.generic_attributes),
                        'robot': self.robot,
                        **({'pusp_robot': self.user,
                            'pusp_user': self.pusp_user}
                           if self.pusp_subject else {})})

    def as_dict(self) -> dict:
        """JSON-ready form (the ``verify-proxy`` output)."""
        fmt = identity.format_time
        return {
            'user': self.user,
            'user_ca': self.user_ca,
            'vo': self.vo,
            'fqans': list(self.fqans),
            'server': self.server,
            'server_ca': self.server_ca,
            'uri': self.uri,
            'not_before': fmt(self.not_before),
            'not_after': fmt(self.not_after),
            'expires_at': fmt(self.expires_at),
            'ac_serial': self.ac_serial,
            'targets': list(self.targets) if self.targets is not None
            else None,
            'proxy_fingerprint': self.proxy_fingerprint,
            'proxy_depth': self.proxy_depth,
            'generic_attributes': _ga_dicts(self.acs[0].generic_attributes),
            'vos': [a.as_dict() for a in self.acs],
            'rejected_acs': [r.as_dict() for r in self.rejected_acs],
            'subject': self.subject,
            'robot': self.robot,
            'pusp': ({'subject': self.pusp_subject, 'robot': self.user,
                      'user': self.pusp_user}
                     if self.pusp_subject else None),
        }


def _last_cn(dn):
    """The value of the last ``CN=`` of slash-form ``dn``, or ``None``."""
    for part in reversed(dn.split('/')):
        if part.startswith('CN='):
            return part[3:]
    return None
