"""The user's proxy file, checked before it is offered to a server.

The server decides; these checks only turn what would otherwise be an
obscure TLS alert ("certificate expired", "unknown ca") or a file-system
traceback into a message that says what to do.
"""

import datetime
import os
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from keystoneauth1 import exceptions


class ProxyFileError(exceptions.AuthorizationFailure):
    """The proxy file is missing, unreadable, malformed or expired."""


def default_proxy_path(environ=None):
    """``$X509_USER_PROXY``, else the grid default ``/tmp/x509up_u<uid>``."""
    environ = os.environ if environ is None else environ
    # The grid convention (voms-proxy-init writes there): not a temp file
    # we create, a path the user's tools agreed on.
    return environ.get('X509_USER_PROXY') or \
        '/tmp/x509up_u%d' % os.getuid()  # noqa: S108


_HINT = 'make one with voms-proxy-init, or point --os-x509-user-proxy ' \
        '(or X509_USER_PROXY) at it'


def check_proxy_file(path, now=None):
    """Check ``path`` holds a usable proxy; return its expiry (aware UTC).

    :raises ProxyFileError: with a reason naming the file.
    """
    path = pathlib.Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProxyFileError('no proxy file at %s: %s' % (path, _HINT)) \
            from None
    except OSError as exc:
        raise ProxyFileError('cannot read the proxy file %s: %s'
                             % (path, exc.strerror or exc)) from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ProxyFileError('%s holds no PEM certificate: %s'
                             % (path, _HINT)) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ProxyFileError('%s holds no unencrypted private key; a proxy '
                             'file has the proxy certificate, its key and '
                             'the user certificate' % path) from None
    if key.public_key() != certs[0].public_key():
        raise ProxyFileError('the private key in %s does not belong to its '
                             'first certificate' % path)
    if len(certs) < 2:
        raise ProxyFileError('%s holds no user certificate after the proxy; '
                             'the server needs the whole chain' % path)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    expiry = min(cert.not_valid_after_utc for cert in certs)
    if expiry <= now:
        raise ProxyFileError('the proxy in %s expired at %s: %s'
                             % (path, expiry.strftime('%Y-%m-%dT%H:%M:%SZ'),
                                'make a new one with voms-proxy-init'))
    return expiry
