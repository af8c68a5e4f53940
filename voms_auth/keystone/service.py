"""The one place that turns a request into an :class:`~voms_auth.identity.
Identity`.

A :class:`GridAuthService` per process and configuration owns the cores
built from ``[voms_auth]``: the VOMS verifier (with its trust store and the
one cache of VOMS results, dropped when a CRL or vomsdir file changes), the
OIDC token validator (with the one cache of token results) and the mapping
file. No Keystone import: the auth handlers call it.
"""

import logging
import threading

from voms_auth import conf as voms_conf
from voms_auth import errors
from voms_auth.keystone import federation
from voms_auth.keystone import request as request_creds

LOG = logging.getLogger(__name__)

VOMS = 'voms'
OIDC = 'oidc'
#: Identities of VOMS credentials kept (see ``_identity_of``).
_IDENTITIES_KEPT = 4096


class GridAuthService:
    """Verifies the credential a request presents for a method.

    :param conf: a ``ConfigOpts`` with the ``[voms_auth]`` options
        registered (Keystone's ``CONF`` inside Keystone).
    """

    def __init__(self, conf):
        self._conf = conf
        self._lock = threading.Lock()
        self._verifier = None
        self._validator = None
        self._mapping_file = None
        self._federation = None
        self._identities = {}

    @property
    def options(self):
        """The ``[voms_auth]`` option group."""
        return self._conf.voms_auth

    # -- cores, built on first use --------------------------------------------
    def _built(self, attribute, build):
        value = getattr(self, attribute)
        if value is None:
            with self._lock:
                value = getattr(self, attribute)
                if value is None:
                    value = build(self._conf)
                    setattr(self, attribute, value)
        return value

    def verifier(self):
        """The VOMS :class:`~voms_auth.voms.Verifier`."""
        return self._built('_verifier', voms_conf.build_verifier)

    def token_validator(self):
        """The OIDC :class:`~voms_auth.oidc.TokenValidator`.

        :raises OIDCConfigurationError: no issuer is configured.
        """
        return self._built('_validator', voms_conf.build_token_validator)

    def mapping_file(self):
        """The :class:`~voms_auth.mapping.MappingFile` (reloads in the
        background when the file changes).

        :raises MappingError: the file was never loadable.
        """
        return self._built('_mapping_file', voms_conf.build_mapping_file)

    def federation(self):
        """The :class:`~voms_auth.keystone.federation.FederationRoutes`:
        which identity providers voms-auth serves on Keystone's federation
        URLs.

        :raises OIDCConfigurationError: an issuer section is unusable.
        """
        return self._built('_federation', _build_federation)

    def mapping(self):
        """The mapping in force: the last good one while a changed file
        loads in the background.

        :raises MappingError: the file was never loadable.
        """
        return self.mapping_file().current()

    # -- the request -> identity path ----------------------------------------
    def presents_proxy(self, environ):
        """Whether the request has a client certificate chain (as
        :meth:`identify` would read it for ``voms``)."""
        opts = self.options
        return bool(request_creds.proxy_chain(
            environ, opts.trusted_frontends, opts.client_cert_header))

    def identify(self, kind, environ, payload):
        """The :class:`~voms_auth.identity.Identity` the request proves.

        :param kind: the credential kind to read and verify: ``voms`` (the
            TLS client certificate chain) or ``oidc``
            (``payload['access_token']`` or a Bearer header), whichever
            auth method or federation protocol the request came by.
        :raises voms_auth.errors.CredentialError: nothing usable presented,
            or the credential is refused.
        :raises voms_auth.errors.ConfigurationError: this server cannot
            verify such credentials.
        """
        if kind == VOMS:
            return self._identify_proxy(environ)
        return self._identify_token(environ, payload)

    def _identify_proxy(self, environ):
        opts = self.options
        chain = request_creds.proxy_chain(
            environ, opts.trusted_frontends, opts.client_cert_header)
        if not chain:
            raise errors.CredentialError(
                'no VOMS proxy was presented: use the proxy as the TLS '
                'client certificate of the request')
        identity = self._identity_of(self.verifier().verify_chain(chain))
        if LOG.isEnabledFor(logging.INFO):
            LOG.info('verified VOMS proxy of %s (CA %s)',
                     errors.printable(identity.subject),
                     errors.printable(identity.issuer))
        return identity

    def _identity_of(self, credential):
        """``credential.identity()``, built once per credential: a repeat
        login gets the very credential object the verifier cached, so the
        repeat costs no FQAN parsing (the entry holds the credential, so
        its id cannot name another object while the entry exists)."""
        entry = self._identities.get(id(credential))
        if entry is not None and entry[0] is credential:
            return entry[1]
        identity = credential.identity()
        if len(self._identities) >= _IDENTITIES_KEPT:
            self._identities.clear()
        self._identities[id(credential)] = (credential, identity)
        return identity

    def _identify_token(self, environ, payload):
        token = payload.get('access_token')
        if token is not None and not isinstance(token, str):
            raise errors.CredentialError('access_token must be a string')
        token = (token or request_creds.module_access_token(environ)
                 or request_creds.bearer_token(environ))
        if not token:
            raise errors.CredentialError(
                'no access token was presented: send it as '
                '{"oidc": {"access_token": ...}} or Authorization: Bearer, '
                'or sign in through the WebSSO URL')
        identity = self.token_validator().validate(token)
        LOG.info('validated access token of %s from %s',
                 errors.printable(identity.subject),
                 errors.printable(identity.issuer))
        return identity


def _build_federation(conf):
    issuers, proxies = voms_conf.federation_identity_providers(conf)
    return federation.FederationRoutes(
        conf[voms_conf.GROUP].identity_provider, issuers, proxies)


_INSTANCES = {}
_INSTANCES_LOCK = threading.Lock()


def get_service(conf):
    """The process-wide :class:`GridAuthService` for ``conf``."""
    key = id(conf)
    service = _INSTANCES.get(key)
    if service is None:
        with _INSTANCES_LOCK:
            service = _INSTANCES.get(key)
            if service is None:
                voms_conf.register_opts(conf)  # idempotent
                service = _INSTANCES[key] = GridAuthService(conf)
    return service


def reset():
    """Forget every process-wide service (tests, configuration reload)."""
    with _INSTANCES_LOCK:
        _INSTANCES.clear()
