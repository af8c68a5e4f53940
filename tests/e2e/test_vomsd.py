"""A real VOMS server: Debian's vomsd with the MySQL plugin on a private
MariaDB, two VOs (one vomsd each) in a private network namespace, proxies
made by the real ``voms-proxy-init`` (see :mod:`tests.support.vomsd`).

A proxy with one AC per VO (``voms-proxy-init --voms dteam --voms atlas``)
is verified AC by AC and both VOs' memberships count, in voms-auth and in
Keystone behind Apache; a role a VO admin removes in the VOMS database is
gone from Keystone at the next login with a new proxy."""

import json
import subprocess
import sys

import pytest

from tests.e2e.conftest import token_body, voms_login
from tests.support import local
from tests.support import vomsd as harness
from tests.support.mariadb import mariadb  # noqa: F401 - fixture
from voms_auth.voms import TrustStore, Verifier

PILOT = '/dteam/ops/Role=pilot'


@pytest.fixture(scope='module')
def vos(tmp_path_factory, pki, mariadb):  # noqa: F811
    reason = harness.unavailable_reason()
    if reason:
        pytest.fail('a real VOMS server cannot run here: %s (install '
                    'tools/install-deps.sh\'s packages, run as root)'
                    % reason)
    directory = tmp_path_factory.mktemp('vomsd')
    atlas = pki.add_voms_server('atlas', 'voms.atlas.example.org',
                                port=local.free_port())
    with harness.NetworkNamespace() as netns:
        daemons = {
            'dteam': harness.VomsDaemon(mariadb, netns, pki,
                                        pki.voms_server, directory),
            'atlas': harness.VomsDaemon(mariadb, netns, pki, atlas,
                                        directory)}
        try:
            for daemon in daemons.values():
                daemon.start()
            yield netns, daemons, directory
        finally:
            for daemon in daemons.values():
                daemon.stop()


@pytest.fixture
def member(pki, vos, user):
    """The test's user, in dteam (group ops, role pilot) and atlas
    (group prod)."""
    _, daemons, _ = vos
    daemons['dteam'].add_user(user, ['/dteam/ops', PILOT],
                              attributes={'nickname': 'pilot-%d'
                                          % user.cert.serial_number})
    daemons['atlas'].add_user(user, ['/atlas/prod'])
    return user


def proxy(pki, vos, user, *voms, order=()):
    netns, daemons, directory = vos
    return harness.proxy_init(
        netns, pki, user, list(daemons.values()), voms,
        directory / ('x509up_%x_%d' % (user.cert.serial_number,
                                       len(list(directory.iterdir())))),
        order=order)


def test_both_acs_of_a_real_two_vo_proxy_count(pki, vos, member):
    path = proxy(pki, vos, member, 'dteam:' + PILOT, 'atlas')
    credential = Verifier(TrustStore(pki.ca_path, pki.vomsdir),
                          cache_size=0).verify_pem(path.read_bytes())
    assert [a.vo for a in credential.acs] == ['dteam', 'atlas']
    assert credential.rejected_acs == ()
    _, daemons, _ = vos
    assert credential.acs[1].server == daemons['atlas'].server.dn
    assert credential.acs[1].uri == daemons['atlas'].server.uri
    groups = [(m.group, m.role) for m in credential.identity().memberships]
    # the requested role first (vomsd's order), then the groups
    assert groups[0] == ('/dteam/ops', 'pilot')
    assert set(groups) == {('/dteam/ops', 'pilot'), ('/dteam/ops', None),
                           ('/dteam', None), ('/atlas', None),
                           ('/atlas/prod', None)}
    # the CLI contract: every VO with its FQANs
    result = subprocess.run(
        [sys.executable, '-m', 'voms_auth', 'verify-proxy', '--ca-path',
         str(pki.ca_path), '--vomsdir', str(pki.vomsdir), str(path)],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert [v['vo'] for v in shown['vos']] == ['dteam', 'atlas']
    assert shown['vos'][1]['fqans'] == [
        '/atlas/Role=NULL/Capability=NULL',
        '/atlas/prod/Role=NULL/Capability=NULL']
    assert shown['vo'] == 'dteam'
    # The user's Generic Attribute arrives by name, qualified by its VO.
    # Its value does not: Debian's voms-mysql-plugin fetches the a_value
    # column into an unallocated buffer and sends every value empty (a
    # plugin bug; voms-proxy-fake -ga covers values, test_multi_ac.py).
    assert [(n, q) for n, _, q in credential.acs[0].generic_attributes] == [
        ('nickname', 'dteam')]


def test_order_puts_the_chosen_fqan_first(pki, vos, member):
    path = proxy(pki, vos, member, 'dteam', order=['/dteam/ops'])
    credential = Verifier(TrustStore(pki.ca_path, pki.vomsdir),
                          cache_size=0).verify_pem(path.read_bytes())
    assert credential.fqans[0] == '/dteam/ops/Role=NULL/Capability=NULL'


def project_names(apache, token):
    import requests
    response = requests.get(
        apache.auth_url + '/auth/projects', verify=str(apache.ca_file),
        headers={'X-Auth-Token': token}, timeout=60)
    assert response.status_code == 200, response.text
    return sorted(p['name'] for p in response.json()['projects'])


def test_a_two_vo_login_through_apache_grants_both_vos(apache, pki, vos,
                                                       member):
    path = proxy(pki, vos, member, 'dteam:' + PILOT, 'atlas')
    response = voms_login(apache, path)
    token_body(response)
    assert project_names(apache, response.headers['X-Subject-Token']) == [
        'atlas', 'dteam', 'dteam-pilots']


def test_a_role_removed_in_vomsd_is_gone_at_the_next_login(apache, pki, vos,
                                                           member):
    _, daemons, _ = vos
    before = voms_login(apache, proxy(pki, vos, member, 'dteam:' + PILOT))
    token_body(before)
    assert project_names(apache, before.headers['X-Subject-Token']) == [
        'dteam', 'dteam-pilots']
    daemons['dteam'].remove_role(member, '/dteam/ops', 'pilot')
    # vomsd now refuses the role; the plain VO request still works
    with pytest.raises(harness.VomsdError):
        proxy(pki, vos, member, 'dteam:' + PILOT)
    after = voms_login(apache, proxy(pki, vos, member, 'dteam'))
    token_body(after)
    assert project_names(apache, after.headers['X-Subject-Token']) == [
        'dteam']


def test_an_ac_the_server_does_not_trust_grants_nothing(apache, pki, vos,
                                                         member):
    # Keystone stops trusting atlas's VOMS server (its LSC file goes);
    # the atlas AC of a two-VO proxy is skipped, the dteam AC still counts.
    path = proxy(pki, vos, member, 'dteam:' + PILOT, 'atlas')
    _, daemons, _ = vos
    lsc = pki.vomsdir / 'atlas' / ('%s.lsc' % daemons['atlas'].server.host)
    hidden = lsc.with_name(lsc.name + '.off')
    lsc.rename(hidden)
    try:
        response = voms_login(apache, path)
        token_body(response)
        assert project_names(apache, response.headers['X-Subject-Token']) \
            == ['dteam', 'dteam-pilots']
    finally:
        hidden.rename(lsc)


def test_per_user_sub_proxies_with_a_real_vomsd_ac(apache, pki, vos,
                                                   portal_robot):
    # The portal robot asks vomsd for its dteam AC; each portal user gets
    # a per-user sub-proxy carrying it (voms-proxy-init cannot make a
    # proxy of a proxy, FACTS.md), and is a Keystone user of their own.
    _, daemons, _ = vos
    daemons['dteam'].add_user(portal_robot, [])
    robot_proxy = proxy(pki, vos, portal_robot, 'dteam')
    users = {}
    for name in ('alice', 'bob', 'alice'):
        pusp = pki.delegate(portal_robot, cn='user:%s' % name,
                            ac_from=robot_proxy)
        response = voms_login(apache, pusp, project='dteam')
        user = token_body(response)['user']
        assert user['name'].startswith(
            '%s/CN=user:%s (' % (portal_robot.dn, name))
        users.setdefault(name, set()).add(user['id'])
    assert len(users['alice']) == 1
    assert users['alice'] != users['bob']
