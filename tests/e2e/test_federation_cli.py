"""Keystone's federation URLs behind Apache with the real ``openstack``
client: keystoneauth1's own OIDC plugins (``v3oidcaccesstoken`` with a JWT
of the test OpenID Provider; ``v3oidcclientcredentials``, ``v3oidcpassword``,
``v3oidcdeviceauthz`` against a second one, EGI Check-in style: opaque
tokens without audience, introspected; both issuers stand for the
identity provider ``egi.eu``), and ``v3voms`` with EGI's options
(``--os-identity-provider egi.eu --os-protocol mapped``) posting the proxy
as TLS client certificate through mod_gridsite. Every plugin gets an
unscoped token from ``/v3/OS-FEDERATION/identity_providers/<idp>/
protocols/<P>/auth`` and re-scopes it; voms-auth maps the person.
"""

import json
import os
import re
import subprocess
import time

import requests

from tests.e2e.conftest import (
    AUDIENCE,
    ENT,
    OTHER_ISSUER,
    login_body,
    openstack_command,
    project_id,
    run_openstack,
)

MEMBER = ENT + 'dteam:role=member#aai.egi.eu'
SCOPE = ('--os-project-name', 'dteam', '--os-project-domain-name', 'Default')


def _issued(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _refused(result, reason):
    """The client failed with Keystone's 401 and ``reason``; no 500, no
    traceback."""
    assert result.returncode != 0, result.stdout
    assert 'HTTP 401' in result.stderr, result.stderr
    assert reason in result.stderr, result.stderr
    assert 'HTTP 500' not in result.stderr
    assert 'Traceback' not in result.stderr


def _oidc(idp='egi.eu', protocol='openid'):
    return ('--os-identity-provider', idp, '--os-protocol', protocol)


def _client(op):
    return ('--os-client-id', op.client_id,
            '--os-client-secret', op.client_secret,
            '--os-discovery-endpoint', op.discovery_url)


# -- the stock keystoneauth1 plugins ------------------------------------------

def test_v3oidcaccesstoken_as_fedcloudclient_runs_it(apache, oidc_provider,
                                                     admin_token):
    token = oidc_provider.jwt_token('fed-cli-1@op', AUDIENCE,
                                    entitlements=[MEMBER])
    auth = ('--os-auth-type', 'v3oidcaccesstoken', *_oidc(),
            '--os-access-token', token)
    # the first login creates the mapped project (unscoped: as
    # fedcloudclient's project listing does), then the scoped one by id
    _issued(run_openstack(apache, 'token', 'issue', '-f', 'json',
                          auth=auth))
    dteam_id = project_id(apache, admin_token, 'dteam')
    issued = _issued(run_openstack(
        apache, 'token', 'issue', '-f', 'json',
        auth=(*auth, '--os-project-id', dteam_id)))
    assert issued['project_id'] == dteam_id
    # the same person through voms-auth's own oidc method: one user
    direct = requests.post(apache.auth_url + '/auth/tokens',
                           json=login_body('oidc', {'access_token': token}),
                           verify=str(apache.ca_file), timeout=60)
    assert direct.status_code == 201, direct.text
    assert direct.json()['token']['user']['id'] == issued['user_id']


def test_v3oidcaccesstoken_unscoped_then_projects(apache, oidc_provider):
    token = oidc_provider.jwt_token('fed-cli-2@op', AUDIENCE,
                                    entitlements=[MEMBER])
    unscoped = _issued(run_openstack(
        apache, 'token', 'issue', '-f', 'json',
        auth=('--os-auth-type', 'v3oidcaccesstoken', *_oidc(),
              '--os-access-token', token)))
    assert 'project_id' not in unscoped
    projects = requests.get(apache.auth_url + '/auth/projects',
                            headers={'X-Auth-Token': unscoped['id']},
                            verify=str(apache.ca_file), timeout=60)
    assert projects.status_code == 200, projects.text
    assert [p['name'] for p in projects.json()['projects']] == ['dteam']


def test_v3oidcclientcredentials_robot(apache, checkin_provider,
                                      admin_token):
    checkin_provider.set_client_claims({'eduperson_entitlement': [MEMBER]})
    issued = _issued(run_openstack(
        apache, 'token', 'issue', '-f', 'json',
        auth=('--os-auth-type', 'v3oidcclientcredentials', *_oidc(),
              *_client(checkin_provider), '--os-openid-scope', 'openid',
              *SCOPE)))
    assert issued['project_id'] == project_id(apache, admin_token, 'dteam')


def test_v3oidcpassword(apache, checkin_provider, admin_token):
    checkin_provider.add_password_user(
        'fed-pat', 'pat-secret',
        token_claims={'eduperson_entitlement': [MEMBER]})
    issued = _issued(run_openstack(
        apache, 'token', 'issue', '-f', 'json',
        auth=('--os-auth-type', 'v3oidcpassword', *_oidc(),
              *_client(checkin_provider), '--os-username', 'fed-pat',
              '--os-password', 'pat-secret', *SCOPE)))
    assert issued['project_id'] == project_id(apache, admin_token, 'dteam')


def test_v3oidcdeviceauthz(apache, checkin_provider, admin_token):
    """The client prints the verification URL with the user code and
    polls; the user approves at the provider meanwhile."""
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith('OS_')}
    command = [openstack_command(), '--os-auth-url', apache.auth_url,
               '--os-cacert', str(apache.ca_file),
               '--os-identity-api-version', '3',
               '--os-auth-type', 'v3oidcdeviceauthz', *_oidc(),
               *_client(checkin_provider), *SCOPE, 'token', 'issue', '-f',
               'json']
    process = subprocess.Popen(command, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=environ)
    try:
        seen = []
        deadline = time.monotonic() + 60
        user_code = None
        while user_code is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            seen.append(line)
            found = re.search(r'user_code=([A-Z0-9-]+)', line)
            user_code = found.group(1) if found else None
        assert user_code, ''.join(seen)
        checkin_provider.approve_device(
            user_code, 'fed-device@op',
            token_claims={'eduperson_entitlement': [MEMBER]})
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, ''.join(seen) + err
    issued = json.loads(out)
    assert issued['project_id'] == project_id(apache, admin_token, 'dteam')


# -- refusals, with the reason, never a 500 ----------------------------------

def test_token_on_the_identity_provider_of_another_issuer(apache,
                                                          oidc_provider):
    token = oidc_provider.jwt_token('fed-cli-3@op', AUDIENCE,
                                    entitlements=[MEMBER])
    _refused(run_openstack(
        apache, 'token', 'issue',
        auth=('--os-auth-type', 'v3oidcaccesstoken',
              *_oidc('elsewhere.eu'), '--os-access-token', token, *SCOPE)),
        'access tokens of issuer %s are not accepted on identity provider '
        'elsewhere.eu (it takes tokens of %s)'
        % (oidc_provider.issuer, OTHER_ISSUER))


def test_unmapped_person_is_refused(apache, oidc_provider):
    token = oidc_provider.jwt_token(
        'fed-cli-4@op', AUDIENCE,
        entitlements=[ENT + 'lhcb:role=member#aai.egi.eu'])
    _refused(run_openstack(
        apache, 'token', 'issue',
        auth=('--os-auth-type', 'v3oidcaccesstoken', *_oidc(),
              '--os-access-token', token, *SCOPE)),
        'no rule of the mapping grants access to fed-cli-4@op')


def test_expired_token_is_refused(apache, oidc_provider):
    token = oidc_provider.jwt_token('fed-cli-5@op', AUDIENCE,
                                    entitlements=[MEMBER], ttl=1)
    time.sleep(32)  # beyond the default oidc_leeway of 30 s
    _refused(run_openstack(
        apache, 'token', 'issue',
        auth=('--os-auth-type', 'v3oidcaccesstoken', *_oidc(),
              '--os-access-token', token, *SCOPE)), 'expired')


# -- v3voms on the federation URL ---------------------------------------------

def test_v3voms_with_egi_options_posts_the_proxy(apache, pki, user,
                                                 admin_token):
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    voms = ('--os-auth-type', 'v3voms', '--os-x509-user-proxy', str(proxy))
    issued = _issued(run_openstack(
        apache, 'token', 'issue', '-f', 'json',
        auth=(*voms, *_oidc('egi.eu', 'mapped'), *SCOPE)))
    assert issued['project_id'] == project_id(apache, admin_token, 'dteam')
    # the voms method of /v3/auth/tokens gives the same user
    direct = _issued(run_openstack(apache, 'token', 'issue', '-f', 'json',
                                   auth=(*voms, *SCOPE)))
    assert direct['user_id'] == issued['user_id']
    # and the federation login was the mapped method
    federated = requests.post(
        apache.auth_url + '/OS-FEDERATION/identity_providers/egi.eu/'
        'protocols/mapped/auth', cert=str(proxy),
        verify=str(apache.ca_file), timeout=60)
    assert federated.status_code == 201, federated.text
    assert federated.json()['token']['methods'] == ['mapped']


def test_forged_proxy_on_mapped_is_refused(apache, pki, user):
    rogue = pki.add_voms_server('dteam', 'rogue-fed-cli.example.org',
                                lsc=False)
    proxy = pki.make_proxy(user, fqans=['/dteam'], server=rogue)
    _refused(run_openstack(
        apache, 'token', 'issue',
        auth=('--os-auth-type', 'v3voms', '--os-x509-user-proxy',
              str(proxy), *_oidc('egi.eu', 'mapped'), *SCOPE)),
        'rogue-fed-cli.example.org, which no LSC file')


def test_proxy_on_an_identity_provider_taking_tokens_only(apache, pki,
                                                          user):
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    _refused(run_openstack(
        apache, 'token', 'issue',
        auth=('--os-auth-type', 'v3voms', '--os-x509-user-proxy',
              str(proxy), *_oidc('elsewhere.eu', 'mapped'), *SCOPE)),
        'no access token was presented')


# -- EGI's plugin of the same name --------------------------------------------

EGI_PLUGIN = 'openstack-voms-auth-type==3.0.1'


def test_egi_v3voms_plugin_beside_ours_breaks_the_client(tmp_path, pki,
                                                        user):
    """What doc/source/fedcloud.rst says about EGI's openstack-voms-auth-
    type 3.0.1 (from PyPI, into a directory put on the client's path):
    beside ours, every openstack command ends in its import error; the
    same command without it works. If this fails, EGI's plugin changed:
    update the warning in the docs."""
    import sys

    target = tmp_path / 'egi'
    installed = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps',
         '--target', str(target), EGI_PLUGIN],
        capture_output=True, text=True, timeout=300, check=False)
    assert installed.returncode == 0, installed.stderr
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    command = [openstack_command(), '--os-auth-url', 'https://127.0.0.1:9/v3',
               '--os-auth-type', 'password', '--os-username', 'x',
               '--os-password', 'y', 'token', 'issue']
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith('OS_')}
    beside = subprocess.run(command, capture_output=True, text=True,
                            timeout=120, check=False,
                            env=dict(environ, PYTHONPATH=str(target)))
    assert beside.returncode != 0
    assert "ModuleNotFoundError: No module named 'utils'" in beside.stderr
    assert 'openstack_voms_auth_type' in beside.stderr
    alone = subprocess.run(
        [openstack_command(), '--os-auth-url', 'https://127.0.0.1:9/v3',
         '--os-auth-type', 'v3voms', '--os-x509-user-proxy', str(proxy),
         '--os-identity-provider', 'egi.eu', '--os-protocol', 'mapped',
         'token', 'issue'], capture_output=True, text=True, timeout=120,
        check=False, env=environ)
    # ours alone gets as far as connecting (nothing listens on port 9)
    assert 'Unable to establish connection' in alone.stderr, alone.stderr
    assert 'Traceback' not in alone.stderr
