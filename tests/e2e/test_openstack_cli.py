"""The real ``openstack`` client with this package's keystoneauth1 plugins
(``v3voms``, ``v3gridtoken``) against Keystone behind Apache."""

import json

from tests.e2e.conftest import AUDIENCE, ENT, project_id, run_openstack

VOMS = ('--os-auth-type', 'v3voms')
SCOPE = ('--os-project-name', 'dteam', '--os-project-domain-name', 'Default')


def _issued(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_token_issue_with_a_proxy_file(apache, pki, user, admin_token):
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    token = _issued(run_openstack(
        apache, 'token', 'issue', '-f', 'json',
        auth=(*VOMS, '--os-x509-user-proxy', str(proxy), *SCOPE)))
    assert token['project_id'] == project_id(apache, admin_token, 'dteam')
    assert token['id'] and token['user_id']


def test_proxy_defaults_to_x509_user_proxy(apache, pki, user):
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    result = run_openstack(apache, 'token', 'issue', '-f', 'json',
                           auth=(*VOMS, *SCOPE),
                           env={'X509_USER_PROXY': str(proxy)})
    assert _issued(result)['id']


def test_token_works_for_further_commands(apache, pki, user, admin_token):
    # The catalog names the Apache URL; the token scoped by a proxy is
    # used for a second call through it.
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    dteam_id = project_id(apache, admin_token, 'dteam')
    result = run_openstack(
        apache, 'project', 'show', dteam_id, '-f', 'json',
        auth=(*VOMS, '--os-x509-user-proxy', str(proxy), *SCOPE))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)['name'] == 'dteam'


def test_missing_proxy_file_is_reported(apache, tmp_path):
    missing = tmp_path / 'x509up_none'
    result = run_openstack(
        apache, 'token', 'issue',
        auth=(*VOMS, '--os-x509-user-proxy', str(missing), *SCOPE))
    assert result.returncode != 0
    assert 'no proxy file at %s' % missing in result.stderr
    assert 'Traceback' not in result.stderr


def test_expired_proxy_is_reported_before_connecting(apache, pki, user):
    proxy = pki.make_proxy(user, hours=1, pastproxy='2:00', fqans=['/dteam'])
    result = run_openstack(
        apache, 'token', 'issue',
        auth=(*VOMS, '--os-x509-user-proxy', str(proxy), *SCOPE))
    assert result.returncode != 0
    assert 'expired at' in result.stderr
    assert 'Traceback' not in result.stderr


def test_refusal_reason_reaches_the_user(apache, pki, user):
    rogue = pki.add_voms_server('dteam', 'rogue-cli.example.org', lsc=False)
    proxy = pki.make_proxy(user, fqans=['/dteam'], server=rogue)
    result = run_openstack(
        apache, 'token', 'issue',
        auth=(*VOMS, '--os-x509-user-proxy', str(proxy), *SCOPE))
    assert result.returncode != 0
    assert 'rogue-cli.example.org, which no LSC file' in result.stderr
    assert 'Traceback' not in result.stderr


def test_token_issue_with_an_access_token(apache, oidc_provider,
                                          admin_token):
    token = oidc_provider.jwt_token(
        'cli-user@op', AUDIENCE,
        entitlements=[ENT + 'dteam:role=member#aai.egi.eu'])
    issued = _issued(run_openstack(
        apache, 'token', 'issue', '-f', 'json',
        auth=('--os-auth-type', 'v3gridtoken', '--os-access-token', token,
              *SCOPE)))
    assert issued['project_id'] == project_id(apache, admin_token, 'dteam')


def test_access_token_for_another_audience_is_refused(apache,
                                                      oidc_provider):
    token = oidc_provider.jwt_token(
        'cli-other@op', 'https://elsewhere.example',
        entitlements=[ENT + 'dteam:role=member#aai.egi.eu'])
    result = run_openstack(
        apache, 'token', 'issue',
        auth=('--os-auth-type', 'v3gridtoken', '--os-access-token', token,
              *SCOPE))
    assert result.returncode != 0
    assert 'audience' in result.stderr
    assert token not in result.stderr
