"""Robots through Keystone: each portal user of a listed robot (EGI
per-user sub-proxies) is a Keystone user of their own, an unlisted robot's
sub-proxies are all the robot; mapping rules on robots and on VOMS Generic
Attributes grant at login and stop granting at the next one."""

from tests.functional.conftest import token_body


def _login(keystone, pki, robot, portal_user):
    ac = pki.make_proxy(robot, fqans=['/dteam'])
    pusp = pki.delegate(robot, cn='user:%s' % portal_user, ac_from=ac)
    return token_body(keystone.voms_login(pusp, project='dteam'))['user']


def test_each_portal_user_is_a_keystone_user(keystone, pki, portal_robot):
    alice = _login(keystone, pki, portal_robot, 'alice')
    bob = _login(keystone, pki, portal_robot, 'bob')
    assert alice['id'] != bob['id']
    assert alice['name'].startswith(portal_robot.dn + '/CN=user:alice (')
    assert bob['name'].startswith(portal_robot.dn + '/CN=user:bob (')
    # the same portal user again is the same Keystone user
    assert _login(keystone, pki, portal_robot, 'alice')['id'] == alice['id']


def test_an_unlisted_robot_is_one_keystone_user(keystone, pki):
    robot = pki.new_user('Robot: unlisted functional portal')
    first = _login(keystone, pki, robot, 'alice')
    second = _login(keystone, pki, robot, 'bob')
    assert first['id'] == second['id']
    assert first['name'].startswith(robot.dn + ' (')


def _projects(keystone, proxy):
    response = keystone.voms_login(proxy)
    token_body(response)
    listed = keystone.get('/v3/auth/projects',
                          token=response.headers['X-Subject-Token'])
    return sorted(p['name'] for p in listed.get_json()['projects'])


def test_robot_and_generic_attribute_rules_through_keystone(
        keystone, pki, portal_robot, set_mapping):
    set_mapping({'version': 1, 'defaults': {'roles': ['member']}, 'rules': [
        {'match': {'vo': 'dteam'}, 'grant': {'project': 'dteam'}},
        {'match': {'vo': 'dteam', 'robot': True},
         'grant': {'project': 'portal-users', 'create': True}},
        {'match': {'vo': 'dteam', 'generic_attributes': {
            'nickname': ['jdoe', 'jd']}},
         'grant': {'project': 'nicknamed', 'create': True}}]})
    person = pki.new_user('Nick Named')
    tagged = pki.make_proxy(person, fqans=['/dteam'],
                            extra_args=['-ga', 'nickname=jdoe'])
    assert _projects(keystone, tagged) == ['dteam', 'nicknamed']
    other = pki.make_proxy(person, fqans=['/dteam'],
                           extra_args=['-ga', 'nickname=someone'])
    assert _projects(keystone, other) == ['dteam']
    pusp = pki.delegate(portal_robot, cn='user:carol', ac_from=pki.make_proxy(
        portal_robot, fqans=['/dteam']))
    assert _projects(keystone, pusp) == ['dteam', 'portal-users']
