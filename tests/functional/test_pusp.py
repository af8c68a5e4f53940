"""EGI per-user sub-proxies through Keystone: each portal user of a
listed robot is a Keystone user of their own; an unlisted robot's
sub-proxies are all the robot."""

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
