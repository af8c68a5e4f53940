"""The result of a successful VOMS proxy verification."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Optional, Tuple

from voms_auth import identity
from voms_auth.voms import fqan


@dataclasses.dataclass(frozen=True)
class VomsCredential:
    """A verified VOMS proxy: who the user is and what the AC states.

    DNs are in slash form; times are aware UTC. ``not_before`` /
    ``not_after`` are the AC's validity; ``expires_at`` is the earliest
    end of validity of anything in the credential (proxies, user
    certificate, its CAs, the AC).
    """

    user: str
    user_ca: str
    vo: str
    fqans: Tuple[str, ...]
    server: str
    server_ca: str
    uri: Optional[str]
    not_before: datetime.datetime
    not_after: datetime.datetime
    expires_at: datetime.datetime
    ac_serial: int
    targets: Optional[Tuple[str, ...]]
    user_serial: int
    proxy_fingerprint: str  # SHA-256 of the presented proxy, hex
    proxy_depth: int        # number of proxies in the chain

    @property
    def name(self) -> str:
        """The user's CN (the last one of the DN), else the whole DN."""
        for part in reversed(self.user.split('/')):
            if part.startswith('CN='):
                return part[3:]
        return self.user

    def identity(self) -> identity.Identity:
        """The :class:`~voms_auth.identity.Identity` this credential proves.

        :raises voms_auth.voms.fqan.InvalidFQAN: if an FQAN is malformed
            (the verifier has refused such ACs already).
        """
        return identity.Identity(
            kind=identity.KIND_VOMS, issuer=self.user_ca, subject=self.user,
            name=self.name,
            memberships=tuple(fqan.parse_fqan(f) for f in self.fqans),
            expires_at=self.expires_at,
            attributes={'vo': self.vo, 'server': self.server,
                        'uri': self.uri, 'fqans': self.fqans})

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
        }
