"""The credential a request presents, read from its WSGI environ.

Pure WSGI: no Keystone import. A VOMS proxy arrives as the TLS client
certificate, exported by mod_ssl (``SSL_CLIENT_CERT`` and
``SSL_CLIENT_CERT_CHAIN_0..n``; mod_gridsite makes OpenSSL 3 accept proxies).
HTTP headers are read only from front ends the admin trusts explicitly.
An OIDC access token arrives as ``Authorization: Bearer``, or (Keystone's
WebSSO URLs behind Apache's mod_auth_openidc) in the environ variable the
module sets for the session it authenticated.
"""

import ipaddress
import logging
import urllib.parse

from voms_auth.voms import pem

LOG = logging.getLogger(__name__)

_MAX_CHAIN = 32
_CHAIN_KEYS = tuple('SSL_CLIENT_CERT_CHAIN_%d' % i for i in range(_MAX_CHAIN))

#: The WSGI environ key where Apache's mod_auth_openidc puts the access
#: token of the session it authenticated (``OIDCPassClaimsAs environment``
#: or ``both``). Not an ``HTTP_*`` key: no request header can set it (a
#: client's ``OIDC-access-token`` header arrives as
#: ``HTTP_OIDC_ACCESS_TOKEN`` and is never read).
MOD_AUTH_OPENIDC_TOKEN = 'OIDC_access_token'  # noqa: S105 - a key name


def _address_trusted(remote_addr, trusted):
    try:
        address = ipaddress.ip_address(remote_addr or '')
    except ValueError:
        return False
    for entry in trusted:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            LOG.warning('ignoring invalid trusted_frontends entry %r', entry)
    return False


def proxy_chain(environ, trusted_frontends=(), header=None):
    """The presented certificate chain as PEM strings, proxy first.

    Returns an empty tuple when the request presents no client certificate.
    The header named by ``header`` is read only when ``REMOTE_ADDR`` is in
    ``trusted_frontends`` (addresses or networks).
    """
    leaf = environ.get('SSL_CLIENT_CERT') or ''
    if leaf and not leaf.isspace():
        chain = [leaf]
        for key in _CHAIN_KEYS:
            item = environ.get(key)
            if not item:
                break
            chain.append(item)
        return tuple(chain)
    if header and trusted_frontends:
        key = 'HTTP_' + header.upper().replace('-', '_')
        value = environ.get(key)
        if value and _address_trusted(environ.get('REMOTE_ADDR'),
                                      trusted_frontends):
            return tuple(pem.split_pem_certificates(
                urllib.parse.unquote(value)))
        if value:
            LOG.warning('ignoring %s header from untrusted address %s',
                        header, environ.get('REMOTE_ADDR'))
    return ()


def bearer_token(environ):
    """The token of an ``Authorization: Bearer`` header, or ``None``."""
    value = environ.get('HTTP_AUTHORIZATION') or ''
    scheme, _, token = value.strip().partition(' ')
    if scheme.lower() == 'bearer' and token.strip():
        return token.strip()
    return None


def module_access_token(environ):
    """The access token mod_auth_openidc authenticated for this request
    (:data:`MOD_AUTH_OPENIDC_TOKEN`), or ``None``.

    The token is verified like any other: the claims the module also
    exports (``OIDC_CLAIM_*``) are not used.
    """
    value = environ.get(MOD_AUTH_OPENIDC_TOKEN)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
