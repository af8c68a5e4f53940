"""The main job on an embedded default: a grid user logs in to Keystone.

Builds a throwaway grid (CA, VO ``dteam`` with its VOMS server, a user), a
local Keystone on SQLite with voms-auth enabled exactly as a site would
configure it, a mapping file; makes a real VOMS proxy with voms-proxy-fake,
logs in with it (the proxy presented the way mod_ssl hands it over) and
prints who got which project and roles. With ``--with-oidc`` it also starts
the test OpenID Provider and logs in with an access token. Everything lives
in a temporary directory that is removed at the end (``--keep`` keeps it).
"""

import argparse
import json
import pathlib
import shutil
import sys
import tempfile

from voms_auth.testing import keystone as local_keystone
from voms_auth.testing import pki as grid_pki

AUDIENCE = 'https://keystone.demo.example'
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
        {'description': 'VM-Managers (VOMS) administer dteam-ibergrid',
         'match': {'group': '/dteam/ibergrid', 'role': 'VM-Manager'},
         'grant': {'project': 'dteam-ibergrid', 'create': True,
                   'roles': ['member', 'admin']}},
        {'description': 'vm_operators (EGI Check-in) likewise',
         'match': {'group': '/dteam/ibergrid', 'role': 'vm_operator'},
         'grant': {'project': 'dteam-ibergrid', 'create': True,
                   'roles': ['member', 'admin']}},
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


def run(workdir, with_oidc):
    print('building a throwaway grid PKI and VO in %s' % workdir)
    pki = grid_pki.GridPKI(workdir / 'grid')
    user = pki.new_user('Jane Doe')
    proxy = pki.make_proxy(user, fqans=[
        '/dteam/ibergrid/Role=VM-Manager/Capability=NULL',
        '/dteam/Role=NULL/Capability=NULL'])
    mapping_path = workdir / 'mapping.json'
    mapping_path.write_text(json.dumps(MAPPING, indent=2))
    issuers, provider = {}, None
    if with_oidc:
        sys.path.insert(0, str(pathlib.Path(__file__).resolve()
                               .parents[2]))
        from tests.support.oidc_provider import OpenIDProvider

        provider = OpenIDProvider().start()
        issuers = {'demo': {'issuer': provider.issuer,
                            'audience': AUDIENCE}}
    try:
        print('setting up Keystone (SQLite, fernet) with voms-auth')
        keystone = local_keystone.LocalKeystone(
            workdir / 'keystone',
            voms_auth={'ca_path': pki.ca_path, 'vomsdir': pki.vomsdir,
                       'mapping_file': mapping_path},
            issuers=issuers).setup().start()
        print('keystone.conf: %s' % keystone.config_file)
        ok = _report('VOMS proxy of %s' % user.dn,
                     keystone.voms_login(proxy, project='dteam-ibergrid'))
        if provider is not None:
            token = provider.jwt_token('jane@demo', AUDIENCE,
                                       entitlements=[ENTITLEMENT])
            ok = _report('OIDC token of jane@demo',
                         keystone.oidc_login(token,
                                             project='dteam-ibergrid')) and ok
        return ok
    finally:
        if provider is not None:
            provider.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--with-oidc', action='store_true',
                        help='also log in with a token from a local '
                             'OpenID Provider (needs node)')
    parser.add_argument('--keep', action='store_true',
                        help='keep the working directory')
    args = parser.parse_args(argv)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix='voms-auth-demo-'))
    try:
        return 0 if run(workdir, args.with_oidc) else 1
    finally:
        if args.keep:
            print('kept %s' % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
