"""Which federation requests voms-auth serves, and with which credential.

Keystone routes ``/v3/OS-FEDERATION/identity_providers/{idp}/protocols/{P}/
auth`` (and the WebSSO URLs) to the auth method named ``P`` with the payload
``{"identity_provider": idp, "protocol": P}``. With ``[auth] openid =
voms_auth`` and ``[auth] mapped = voms_auth`` those methods are voms-auth's,
but voms-auth takes over only the identity providers a site configured for
it (:meth:`FederationRoutes.serves`); Keystone's own ``Mapped`` plugin
serves every other one, unchanged.

For an identity provider it serves, :meth:`FederationRoutes.kind` says which
credential the request must present (protocol ``openid``: an access token;
``mapped``: a VOMS proxy as TLS client certificate, or an access token where
the identity provider takes no proxies), and :meth:`FederationRoutes.check`
refuses an identity the identity provider does not stand for (a token of
another issuer, a proxy on an identity provider that takes none).

Pure: no Keystone import.
"""

from voms_auth import errors
from voms_auth.identity import KIND_OIDC, KIND_VOMS

#: Credential kinds each protocol (auth method) name can carry, preferred
#: first. ``voms`` and ``oidc`` are voms-auth's own methods, which Keystone
#: routes to as protocols of the same name.
PROTOCOL_KINDS = {
    'openid': (KIND_OIDC,),
    'mapped': (KIND_VOMS, KIND_OIDC),
    KIND_VOMS: (KIND_VOMS,),
    KIND_OIDC: (KIND_OIDC,),
}


class FederationRefused(errors.CredentialError):
    """A federation request voms-auth serves is refused before any
    credential is verified."""


class UnsupportedProtocol(FederationRefused):
    """The protocol (auth method) cannot carry a credential voms-auth
    verifies."""


class KindNotTaken(FederationRefused):
    """The identity provider takes no credential of the kind the protocol
    carries (an access token on a proxy-only identity provider, ...)."""


class IdentityProviderDisabled(FederationRefused):
    """An admin disabled the identity provider in Keystone."""


class WrongIdentityProvider(errors.CredentialError):
    """The verified credential does not belong to the identity provider
    named in the URL (a token of issuer A on identity provider B)."""


class FederationRoutes:
    """The identity providers voms-auth serves on Keystone's federation
    URLs.

    :param home: ``[voms_auth] identity_provider``: voms-auth's own
        identity provider, which takes every credential voms-auth accepts.
    :param issuers: ``{identity provider id: frozenset of issuer URLs}``
        whose access tokens it takes.
    :param proxies: identity provider ids that take VOMS proxies.
    """

    def __init__(self, home, issuers, proxies):
        self.home = home
        self.issuers = {idp: frozenset(urls) for idp, urls in
                        (issuers or {}).items()}
        self.proxies = frozenset(proxies or ())

    def serves(self, idp):
        """Whether voms-auth serves identity provider ``idp`` (a string)
        rather than Keystone's ``Mapped`` plugin."""
        return isinstance(idp, str) and (
            idp == self.home or idp in self.issuers or idp in self.proxies)

    def kinds(self, idp):
        """The credential kinds ``idp`` takes, in preference order."""
        if idp == self.home:
            return (KIND_VOMS, KIND_OIDC)
        return tuple(kind for kind, takes in (
            (KIND_VOMS, idp in self.proxies),
            (KIND_OIDC, idp in self.issuers)) if takes)

    def kind(self, idp, protocol, presents_proxy):
        """The credential kind a request on ``idp``/``protocol`` is
        verified as: the first the protocol carries and the identity
        provider takes, except that a request without a client certificate
        falls back to an access token where both are possible.

        :param presents_proxy: whether the request has a client
            certificate chain.
        :raises UnsupportedProtocol: voms-auth knows no such protocol.
        :raises KindNotTaken: ``idp`` takes nothing ``protocol`` carries.
        """
        carried = PROTOCOL_KINDS.get(protocol)
        if carried is None:
            raise UnsupportedProtocol(
                'protocol %s of identity provider %s is not one voms-auth '
                'serves (it serves %s)'
                % (protocol, idp, ', '.join(sorted(PROTOCOL_KINDS))))
        taken = self.kinds(idp)
        possible = [kind for kind in carried if kind in taken]
        if not possible:
            raise KindNotTaken(
                'identity provider %s takes %s, which protocol %s does not '
                'carry' % (idp, _describe_kinds(taken), protocol))
        if len(possible) > 1 and not presents_proxy:
            return KIND_OIDC
        return possible[0]

    def check(self, idp, identity):
        """Refuse ``identity`` when ``idp`` does not stand for it.

        :raises WrongIdentityProvider: naming the issuer and what ``idp``
            takes.
        """
        if idp == self.home:
            return
        if identity.kind == KIND_VOMS:
            if idp not in self.proxies:
                raise WrongIdentityProvider(
                    'identity provider %s does not take VOMS proxies' % idp)
            return
        allowed = self.issuers.get(idp, frozenset())
        if identity.issuer not in allowed:
            raise WrongIdentityProvider(
                'access tokens of issuer %s are not accepted on identity '
                'provider %s (it takes tokens of %s)'
                % (identity.issuer, idp,
                   ', '.join(sorted(allowed)) or 'no issuer'))


def _describe_kinds(kinds):
    names = {KIND_VOMS: 'VOMS proxies', KIND_OIDC: 'OIDC access tokens'}
    return ' and '.join(names[k] for k in kinds) or 'no credentials'
