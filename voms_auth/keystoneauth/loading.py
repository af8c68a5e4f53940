"""keystoneauth1 loaders (``keystoneauth1.plugin`` entry points):
``v3voms`` and ``v3gridtoken``. They give the CLI options
(``--os-x509-user-proxy``, ``--os-access-token``) and the usual v3
scope options."""

from keystoneauth1 import loading

from voms_auth.keystoneauth import plugins, proxyfile


class V3VomsLoader(loading.BaseV3Loader):
    """Authenticate with a VOMS proxy presented as TLS client certificate."""

    @property
    def plugin_class(self):
        return plugins.V3Voms

    def get_options(self):
        options = super().get_options()
        options.append(loading.Opt(
            'x509-user-proxy', default=proxyfile.default_proxy_path(),
            help='VOMS proxy file (proxy, key and user certificate); '
                 'default $X509_USER_PROXY, else /tmp/x509up_u<uid>'))
        return options


class V3GridTokenLoader(loading.BaseV3Loader):
    """Authenticate with an OIDC access token (voms-auth ``oidc`` method)."""

    @property
    def plugin_class(self):
        return plugins.V3GridToken

    def get_options(self):
        options = super().get_options()
        options.append(loading.Opt(
            'access-token', secret=True, required=True,
            help='OIDC access token, e.g. "$(oidc-token <account>)"'))
        return options
