"""keystoneauth1 identity plugins for voms-auth (``v3voms``,
``v3gridtoken``)."""

from keystoneauth1 import access, exceptions
from keystoneauth1.identity.v3 import base, federation

from voms_auth.keystoneauth import proxyfile

_SCOPE_ARGS = ('unscoped', 'trust_id', 'system_scope', 'domain_id',
               'domain_name', 'project_id', 'project_name',
               'project_domain_id', 'project_domain_name',
               'reauthenticate', 'include_catalog')


class VomsMethod(base.AuthMethod):
    """The ``voms`` method: the proxy file becomes the TLS client cert.

    The file (proxy, key, user certificate) is handed to requests as
    ``cert=``; OpenSSL loads the key and every certificate after the first
    as the chain it sends, so the server gets the user certificate too.
    """

    def __init__(self, *, x509_user_proxy=None):
        super().__init__()
        self.x509_user_proxy = x509_user_proxy or \
            proxyfile.default_proxy_path()

    def get_auth_data(self, session, auth, headers, request_kwargs):
        proxyfile.check_proxy_file(self.x509_user_proxy)
        request_kwargs['cert'] = str(self.x509_user_proxy)
        return 'voms', {}

    def get_cache_id_elements(self):
        return {'voms_x509_user_proxy': str(self.x509_user_proxy)}


class AccessTokenMethod(base.AuthMethod):
    """The ``oidc`` method of voms-auth: an OIDC access token in the body."""

    def __init__(self, *, access_token):
        super().__init__()
        if not access_token or not access_token.strip():
            raise exceptions.OptionError(
                'an access token is required (--os-access-token)')
        self.access_token = access_token.strip()

    def get_auth_data(self, session, auth, headers, request_kwargs):
        return 'oidc', {'access_token': self.access_token}

    def get_cache_id_elements(self):
        return {'gridtoken_access_token': self.access_token}


class _SingleMethodAuth(base.Auth):
    def __init__(self, auth_url, method, **kwargs):
        unknown = set(kwargs) - set(_SCOPE_ARGS)
        if unknown:
            raise TypeError('unexpected arguments: %s'
                            % ', '.join(sorted(unknown)))
        super().__init__(auth_url, [method], **kwargs)


class V3Voms(_SingleMethodAuth):
    """Log in with a VOMS proxy (voms-auth's ``voms`` method).

    :param auth_url: Keystone's v3 URL.
    :param x509_user_proxy: proxy file; default ``$X509_USER_PROXY``, else
        ``/tmp/x509up_u<uid>``.
    Scope arguments are those of every v3 plugin (``project_name``...).
    """

    def __init__(self, auth_url, x509_user_proxy=None, **kwargs):
        super().__init__(auth_url,
                         VomsMethod(x509_user_proxy=x509_user_proxy),
                         **kwargs)


class V3GridToken(_SingleMethodAuth):
    """Log in with an OIDC access token (voms-auth's ``oidc`` method).

    :param auth_url: Keystone's v3 URL.
    :param access_token: the access token (e.g. from ``oidc-token``).
    """

    def __init__(self, auth_url, access_token=None, **kwargs):
        super().__init__(auth_url,
                         AccessTokenMethod(access_token=access_token),
                         **kwargs)


class V3VomsFederation(federation.FederationBaseAuth):
    """Log in with a VOMS proxy through Keystone's federation URL, as EGI's
    ``openstack-voms-auth-type`` plugin does: the proxy is the TLS client
    certificate of ``POST /v3/OS-FEDERATION/identity_providers/
    <identity_provider>/protocols/<protocol>/auth``; the unscoped token is
    then re-scoped (keystoneauth1's federation flow).

    :param auth_url: Keystone's v3 URL.
    :param identity_provider: Keystone identity provider id (``egi.eu``).
    :param protocol: its protocol (``mapped``).
    :param x509_user_proxy: proxy file; default ``$X509_USER_PROXY``, else
        ``/tmp/x509up_u<uid>``.
    Scope arguments are those of every federation plugin.
    """

    def __init__(self, auth_url, identity_provider, protocol='mapped',
                 x509_user_proxy=None, **kwargs):
        super().__init__(auth_url, identity_provider, protocol, **kwargs)
        self.x509_user_proxy = x509_user_proxy or \
            proxyfile.default_proxy_path()

    def get_unscoped_auth_ref(self, session):
        """Post the proxy to the federation URL; the unscoped token.

        :raises ProxyFileError: the proxy file is missing, unreadable or
            expired (checked before connecting).
        """
        proxyfile.check_proxy_file(self.x509_user_proxy)
        response = session.post(self.federated_token_url,
                                authenticated=False,
                                cert=str(self.x509_user_proxy))
        return access.create(resp=response)

    def get_unscoped_cache_id_elements(self):
        elements = super().get_unscoped_cache_id_elements()
        elements['voms_x509_user_proxy'] = str(self.x509_user_proxy)
        return elements
