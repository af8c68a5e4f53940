"""keystoneauth1 plugins for voms-auth's ``voms`` and ``oidc`` methods.

Registered under the ``keystoneauth1.plugin`` entry points, so the
``openstack`` client and every keystoneauth1 user can pick them:

``v3voms``
    Presents a VOMS proxy file as the TLS client certificate and asks for
    ``{"methods": ["voms"], "voms": {}}``. Option ``x509-user-proxy``
    (default: ``$X509_USER_PROXY``, else ``/tmp/x509up_u<uid>``)::

        openstack --os-auth-type v3voms --os-auth-url https://.../v3 \\
            --os-project-name dteam --os-project-domain-name Default \\
            token issue

    With ``--os-identity-provider egi.eu`` (and ``--os-protocol mapped``,
    the default) it posts the proxy to Keystone's federation URL instead,
    as EGI's ``openstack-voms-auth-type`` plugin of the same name does, and
    re-scopes the unscoped token: a ``clouds.yaml`` written for EGI's
    plugin works unchanged.

``v3gridtoken``
    Sends an OIDC access token: ``{"methods": ["oidc"], "oidc":
    {"access_token": ...}}``. Option ``access-token``
    (``--os-access-token "$(oidc-token egi)"``). Not to be confused with
    keystoneauth1's ``v3oidcaccesstoken``, which drives Keystone
    federation (OS-FEDERATION), not voms-auth.
"""

from voms_auth.keystoneauth.plugins import (  # noqa: F401 - the public API
    V3GridToken,
    V3Voms,
    V3VomsFederation,
)
from voms_auth.keystoneauth.proxyfile import (  # noqa: F401
    ProxyFileError,
    default_proxy_path,
)
