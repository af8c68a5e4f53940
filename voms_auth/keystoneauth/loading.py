"""keystoneauth1 loaders (``keystoneauth1.plugin`` entry points):
``v3voms`` and ``v3gridtoken``. They give the CLI options
(``--os-x509-user-proxy``, ``--os-access-token``; for ``v3voms`` also
``--os-identity-provider`` and ``--os-protocol``, as EGI's plugin of the
same name) and the usual v3 scope options."""

from keystoneauth1 import exceptions, loading

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
        options.extend([
            loading.Opt(
                'identity-provider',
                help='Keystone identity provider (e.g. egi.eu): post the '
                     'proxy to Keystone\'s federation URL of it instead of '
                     'using the voms method, as EGI\'s v3voms plugin does'),
            loading.Opt(
                'protocol',
                help='Protocol of that identity provider (default '
                     'mapped); needs --os-identity-provider'),
        ])
        return options

    def create_plugin(self, **kwargs):
        """:class:`~voms_auth.keystoneauth.plugins.V3VomsFederation` when
        an identity provider is given, else
        :class:`~voms_auth.keystoneauth.plugins.V3Voms`.

        :raises OptionError: a protocol without an identity provider.
        """
        idp = kwargs.pop('identity_provider', None)
        protocol = kwargs.pop('protocol', None)
        if idp:
            kwargs.pop('unscoped', None)
            return plugins.V3VomsFederation(
                identity_provider=idp, protocol=protocol or 'mapped',
                **kwargs)
        if protocol:
            raise exceptions.OptionError(
                '--os-protocol %s needs --os-identity-provider' % protocol)
        return plugins.V3Voms(**kwargs)


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
