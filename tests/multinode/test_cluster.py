"""Several nodes, one truth: logins through HAProxy over two Keystone nodes.

Every login here goes over TLS with the proxy as the client certificate,
either through HAProxy (round robin over the nodes, a fresh connection
per login) or to one node directly. Outcomes are read from the responses
(status, token user, token roles) and from the database itself.
"""

import time

from tests.multinode.conftest import (
    MAPPING_RELOAD,
    mapping,
    parallel,
    role_names,
    statuses,
    token,
)

LOGINS = 50


def _projects(cluster, name):
    return cluster.query('SELECT id FROM project WHERE name = %s', (name,))


def _federated_users(cluster):
    return cluster.query('SELECT COUNT(*) FROM federated_user')[0][0]


def test_fifty_parallel_first_logins_of_one_person(cluster, pki, new_user,
                                                   pool):
    proxy = pki.make_proxy(new_user('One Racer'), fqans=['/dteam/one'])
    before_users = _federated_users(cluster)
    before_served = cluster.served_by()
    responses = parallel(pool, [
        lambda: cluster.voms_login(proxy, project='race-one')] * LOGINS)
    assert statuses(responses) == {201: LOGINS}, [
        r.text[:300] for r in responses if r.status_code != 201][:3]
    assert len({token(r)['user']['id'] for r in responses}) == 1
    assert _federated_users(cluster) == before_users + 1
    assert len(_projects(cluster, 'race-one')) == 1
    served = [after - before for after, before in
              zip(cluster.served_by(), before_served, strict=True)]
    assert all(count > 0 for count in served), served


def test_fifty_parallel_first_logins_of_fifty_people(cluster, pki, new_user,
                                                     pool):
    proxies = [pki.make_proxy(new_user('Many Racer'), fqans=['/dteam/many'])
               for _ in range(LOGINS)]
    before_users = _federated_users(cluster)
    before_served = cluster.served_by()
    responses = parallel(pool, [
        lambda p=p: cluster.voms_login(p, project='race-many')
        for p in proxies])
    assert statuses(responses) == {201: LOGINS}, [
        r.text[:300] for r in responses if r.status_code != 201][:3]
    assert len({token(r)['user']['id'] for r in responses}) == LOGINS
    assert _federated_users(cluster) == before_users + LOGINS
    assert len(_projects(cluster, 'race-many')) == 1
    served = [after - before for after, before in
              zip(cluster.served_by(), before_served, strict=True)]
    assert all(count > 0 for count in served), served


def test_removed_vo_role_is_gone_at_the_next_login_on_either_node(
        cluster, pki, new_user):
    person = new_user('Role Leaver')
    with_role = pki.make_proxy(person, fqans=['/dteam',
                                              '/dteam/Role=VM-Manager'])
    without_role = pki.make_proxy(person, fqans=['/dteam'])
    # Warm every cache there is: the role is held on both nodes.
    for node in (0, 1, 0, 1):
        assert 'manager' in role_names(
            cluster.voms_login(with_role, project='dteam', node=node))
    # The VO removed the role: the next login on either node lacks it.
    for node in (1, 0, 1, 0):
        roles = role_names(cluster.voms_login(without_role, project='dteam',
                                              node=node))
        assert 'manager' not in roles, (node, roles)
        assert 'member' in roles


def test_rule_removed_from_the_mapping_is_gone_on_either_node(
        cluster, pki, new_user):
    person = new_user('Rule Leaver')
    proxy = pki.make_proxy(person, fqans=['/dteam', '/dteam/Role=VM-Manager'])
    for node in (0, 1, 0, 1):
        assert 'manager' in role_names(
            cluster.voms_login(proxy, project='dteam', node=node))
    changed = mapping()
    changed['rules'] = [rule for rule in changed['rules']
                        if rule['match'].get('role') != 'VM-Manager']
    cluster.write_mapping(changed)
    try:
        time.sleep(MAPPING_RELOAD * 3)
        for node in (1, 0, 1, 0):
            roles = role_names(cluster.voms_login(proxy, project='dteam',
                                                  node=node))
            assert 'manager' not in roles, (node, roles)
    finally:
        cluster.write_mapping(mapping())
        time.sleep(MAPPING_RELOAD * 3)
