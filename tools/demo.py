"""The main job on an embedded default: a grid user logs in to Keystone.

Builds a throwaway grid (CA, VO ``dteam`` with its VOMS server, a user), a
local Keystone on SQLite with voms-auth enabled exactly as a site would
configure it, a mapping file; makes a real VOMS proxy with voms-proxy-fake
and logs in with it, then prints who got which project and roles. With
``--with-oidc`` it also starts the test OpenID Provider and logs in with an
access token, on ``/v3/auth/tokens`` and, as EGI FedCloud clients do,
through Keystone's federation URL with keystoneauth1's stock
``v3oidcaccesstoken`` plugin (identity provider ``egi.eu``, protocol
``openid``; see doc/source/fedcloud.rst).

When Apache with mod_ssl, mod_gridsite and mod_wsgi (for this Python) and
the ``openstack`` client are installed, Keystone runs behind Apache on
127.0.0.1 over TLS and the logins are made with the real ``openstack``
client and this package's keystoneauth1 plugins (``v3voms``,
``v3gridtoken``); otherwise (or with ``--in-process``) Keystone runs in
this process and the proxy is handed over the way mod_ssl would. Everything
lives in a temporary directory that is removed at the end (``--keep`` keeps
it); Apache is always stopped.
"""

import argparse
import json
import logging
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from tests.support import keystone as local_keystone
from tests.support import pki as grid_pki

AUDIENCE = 'https://keystone.demo.example'
#: The Keystone identity provider of the federation URLs, as at EGI sites.
IDP = 'egi.eu'
ENTITLEMENT = ('urn:mace:egi.eu:group:dteam:ibergrid:role=vm_operator'
               '#aai.egi.eu')

MAPPING = {
    'version': 1,
    'description': 'demo mapping',
    'defaults': {'domain': 'Default', 'roles': ['member']},
    'rules': [
        {'description': 'every dteam member gets member on dteam',
         'match': {'vo': 'dteam'},
         'grant': {'project': 'dteam', 'create': True}},
        # 'manager', never 'admin': under Keystone's default policies a
        # project-scoped admin is admin of the whole cloud. "kind" keeps
        # the privileged rules to one kind of credential.
        {'description': 'VM-Managers (VOMS) manage dteam-ibergrid',
         'match': {'group': '/dteam/ibergrid', 'role': 'VM-Manager',
                   'kind': 'voms'},
         'grant': {'project': 'dteam-ibergrid', 'create': True,
                   'roles': ['member', 'manager']}},
        {'description': 'vm_operators (EGI Check-in) likewise',
         'match': {'group': '/dteam/ibergrid', 'role': 'vm_operator',
                   'kind': 'oidc'},
         'grant': {'project': 'dteam-ibergrid', 'create': True,
                   'roles': ['member', 'manager']}},
    ],
}


def _report(label, response):
    if response.status_code != 201:
        print('%s: refused (%d): %s' % (label, response.status_code,
                                        response.get_data(as_text=True)))
        return False
    token = response.get_json()['token']
    print('%s: logged in' % label)
    print('  user:    %s (id %s)' % (token['user']['name'],
                                     token['user']['id']))
    print('  project: %s' % token.get('project', {}).get('name', '-'))
    print('  roles:   %s' % ', '.join(sorted(r['name'] for r in
                                             token.get('roles', []))))
    print('  expires: %s' % token['expires_at'])
    return True


def _start_provider(with_oidc):
    if not with_oidc:
        return None, {}
    from tests.support.oidc_provider import OpenIDProvider

    provider = OpenIDProvider().start()
    # identity_providers: Keystone's federation URLs of egi.eu take this
    # issuer's tokens (what the identity provider's remote_ids listed).
    return provider, {'demo': {'issuer': provider.issuer,
                               'audience': AUDIENCE,
                               'identity_providers': IDP}}


def _openstack_command():
    path = pathlib.Path(sys.executable).parent / 'openstack'
    return str(path) if path.exists() else shutil.which('openstack')


def apache_unavailable_reason():
    """Why the Apache path cannot run here, or None."""
    from tests.support import apache

    reason = apache.unavailable_reason()
    if reason is None and not _openstack_command():
        reason = 'the openstack client (python-openstackclient) is missing'
    return reason


def run(workdir, with_oidc, in_process=False):
    reason = 'asked for with --in-process' if in_process else \
        apache_unavailable_reason()
    if reason is None:
        return run_apache(workdir, with_oidc)
    print('Keystone runs in this process, not behind Apache: %s' % reason)
    return run_in_process(workdir, with_oidc)


class _Setup:
    """What both demo paths start from: grid, user, proxy, mapping, a
    Keystone set up on SQLite, and (``with_oidc``) a provider and token."""

    def __init__(self, workdir, with_oidc):
        print('building a throwaway grid PKI and VO in %s' % workdir)
        self.pki = grid_pki.GridPKI(workdir / 'grid')
        # Users of an RSA CA (as IGTF CAs are) get SHA-256-signed proxies,
        # which OpenSSL 3 accepts in TLS (see GridPKI.add_ca).
        ca = self.pki.add_ca('Demo RSA CA', org='demo', key_type='rsa')
        self.user = self.pki.new_user('Jane Doe', ca=ca, org='demo')
        self.proxy = self.pki.make_proxy(self.user, fqans=[
            '/dteam/ibergrid/Role=VM-Manager/Capability=NULL',
            '/dteam/Role=NULL/Capability=NULL'])
        mapping_path = workdir / 'mapping.json'
        mapping_path.write_text(json.dumps(MAPPING, indent=2))
        self.provider, issuers = _start_provider(with_oidc)
        self.token = None
        try:
            if self.provider is not None:
                self.token = self.provider.jwt_token(
                    'jane@demo', AUDIENCE, entitlements=[ENTITLEMENT])
            print('setting up Keystone (SQLite, fernet) with voms-auth')
            self.keystone = local_keystone.LocalKeystone(
                workdir / 'keystone',
                voms_auth={'ca_path': self.pki.ca_path,
                           'vomsdir': self.pki.vomsdir,
                           'mapping_file': mapping_path,
                           'proxy_identity_providers': IDP},
                issuers=issuers,
                methods=local_keystone.federation_methods(),
                auth_plugins=local_keystone.FEDERATION_PLUGINS).setup()
        except BaseException:
            self.close()
            raise

    def close(self):
        if self.provider is not None:
            self.provider.close()


def run_in_process(workdir, with_oidc):
    setup = _Setup(workdir, with_oidc)
    try:
        keystone = setup.keystone.start()
        print('keystone.conf: %s' % keystone.config_file)
        ok = _report('VOMS proxy of %s' % setup.user.dn,
                     keystone.voms_login(setup.proxy,
                                         project='dteam-ibergrid'))
        if setup.token is not None:
            ok = _report('OIDC token of jane@demo',
                         keystone.oidc_login(setup.token,
                                             project='dteam-ibergrid')) and ok
            unscoped = keystone.federation_login(IDP, 'openid',
                                                 token=setup.token)
            if unscoped.status_code != 201:
                return _report('OIDC token of jane@demo on the federation '
                               'URL', unscoped) and False
            ok = _report(
                'OIDC token of jane@demo on the federation URL of %s, '
                're-scoped' % IDP,
                keystone.rescope(unscoped.headers['X-Subject-Token'],
                                 'dteam-ibergrid')) and ok
        return ok
    finally:
        setup.close()


def _openstack_login(server, label, auth_args, shown_args, env=None):
    """``openstack token issue`` with ``auth_args``; print what it got."""
    import requests

    command = [_openstack_command(), '--os-auth-url', server.auth_url,
               '--os-cacert', str(server.ca_file),
               '--os-project-name', 'dteam-ibergrid',
               '--os-project-domain-name', 'Default', *auth_args,
               'token', 'issue', '-f', 'json']
    shown = ['openstack', '--os-auth-url', server.auth_url,
             '--os-cacert', str(server.ca_file),
             '--os-project-name', 'dteam-ibergrid',
             '--os-project-domain-name', 'Default', *shown_args,
             'token', 'issue']
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_') and k != 'X509_USER_PROXY'}
    environ.update(env or {})
    print('$ %s%s' % (''.join('%s=%s ' % item for item in
                              (env or {}).items()), ' '.join(shown)))
    proc = subprocess.run(command, capture_output=True, text=True,
                          env=environ, timeout=120, check=False)
    if proc.returncode != 0:
        print('%s: refused: %s' % (label, proc.stderr.strip()))
        return False
    issued = json.loads(proc.stdout)
    # The token's details (names, roles), from Keystone itself.
    response = requests.get(
        server.auth_url + '/auth/tokens', verify=str(server.ca_file),
        headers={'X-Auth-Token': issued['id'],
                 'X-Subject-Token': issued['id']}, timeout=60)
    return _report(label, _Response(response))


class _Response:
    """requests' response seen through the Flask-style API _report uses."""

    def __init__(self, response):
        self.status_code = 201 if response.status_code == 200 else \
            response.status_code
        self._response = response

    def get_json(self):
        return self._response.json()

    def get_data(self, as_text=True):
        return self._response.text


def run_apache(workdir, with_oidc):
    from tests.support import apache

    # The harness logs to stderr what it changes; keep it in step with
    # our own lines on stdout.
    sys.stdout.reconfigure(line_buffering=True)
    logging.basicConfig(format='  [%(name)s] %(message)s')
    logging.getLogger('tests.support.apache').setLevel(logging.INFO)
    setup = _Setup(workdir, with_oidc)
    server = None
    try:
        print('starting Apache (mod_ssl, mod_gridsite, mod_wsgi) in %s'
              % (workdir / 'apache'))
        server = apache.ApacheKeystone(setup.keystone, workdir / 'apache',
                                       ca_path=setup.pki.ca_path).start()
        print('Keystone with voms-auth at %s (keystone.conf: %s, Apache '
              'configuration: %s)' % (server.auth_url,
                                      setup.keystone.config_file,
                                      server.config_file))
        ok = _openstack_login(
            server, 'VOMS proxy of %s' % setup.user.dn,
            ['--os-auth-type', 'v3voms'], ['--os-auth-type', 'v3voms'],
            env={'X509_USER_PROXY': str(setup.proxy)})
        if setup.token is not None:
            ok = _openstack_login(
                server, 'OIDC token of jane@demo',
                ['--os-auth-type', 'v3gridtoken', '--os-access-token',
                 setup.token],
                ['--os-auth-type', 'v3gridtoken', '--os-access-token',
                 '<access token>']) and ok
            # EGI FedCloud clients (fedcloudclient): keystoneauth1's own
            # plugin on Keystone's federation URL.
            federation = ['--os-auth-type', 'v3oidcaccesstoken',
                          '--os-identity-provider', IDP,
                          '--os-protocol', 'openid', '--os-access-token']
            ok = _openstack_login(
                server, 'OIDC token of jane@demo, stock v3oidcaccesstoken',
                [*federation, setup.token],
                [*federation, '<access token>']) and ok
        return ok
    finally:
        if server is not None:
            server.stop()
            print('Apache stopped')
        setup.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--with-oidc', action='store_true',
                        help='also log in with a token from a local '
                             'OpenID Provider (needs node)')
    parser.add_argument('--keep', action='store_true',
                        help='keep the working directory')
    parser.add_argument('--in-process', action='store_true',
                        help='run Keystone in this process even when '
                             'Apache is available')
    args = parser.parse_args(argv)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix='voms-auth-demo-'))
    try:
        return 0 if run(workdir, args.with_oidc, args.in_process) else 1
    finally:
        if args.keep:
            print('kept %s' % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
