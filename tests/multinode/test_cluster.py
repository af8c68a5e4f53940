"""Several nodes, one truth: logins through HAProxy over two Keystone nodes.

Every login here goes over TLS with the proxy as the client certificate,
either through HAProxy (round robin over the nodes, a fresh connection
per login) or to one node directly. Outcomes are read from the responses
(status, token user, token roles) and from the database itself.
"""

import os
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


# -- revocation ---------------------------------------------------------------

def _refused_everywhere(cluster, proxy, bound, settle=6):
    """Seconds until every node refuses ``proxy`` as revoked ``settle``
    times in a row (so every daemon process of the node has), polled
    for at most ``bound`` + 30 s; ``{node: seconds}``."""
    start = time.monotonic()
    seen, first = {}, {}
    streak = {node: 0 for node in range(len(cluster.nodes))}
    while len(seen) < len(streak) and time.monotonic() - start < bound + 30:
        for node in streak:
            if node in seen:
                continue
            response = cluster.voms_login(proxy, project='dteam', node=node)
            assert response.status_code in (201, 401), response.text[:300]
            if response.status_code == 401:
                assert 'revoked' in response.json()['error']['message']
                streak[node] += 1
                if streak[node] == 1:
                    first[node] = time.monotonic() - start
                if streak[node] >= settle:
                    seen[node] = round(first[node], 1)
            else:
                streak[node] = 0
        time.sleep(0.2)
    return seen


def _warm(cluster, proxy):
    """Log in a few times on each node: the verified proxy is in the
    verification cache of every process that served it."""
    for node in (0, 1) * 4:
        token(cluster.voms_login(proxy, project='dteam', node=node))


#: The documented bound with voms-auth's defaults (trust_reload_interval
#: 5 s when the file's metadata changes, trust_content_check_interval 60 s
#: when it does not).
DEFAULT_BOUND = 60.0


def test_revoked_certificate_is_refused_on_every_node_within_the_bound(
        cluster, pki, new_user):
    person = new_user('Revoked Person')
    proxy = pki.make_proxy(person, fqans=['/dteam'])
    _warm(cluster, proxy)
    pki.revoke(person)                   # the new CRL lands (fetch-crl)
    seen = _refused_everywhere(cluster, proxy, DEFAULT_BOUND)
    print('revoked certificate refused after %s s (node: seconds)' % seen)
    assert set(seen) == {0, 1}, seen
    assert max(seen.values()) <= DEFAULT_BOUND


def test_crl_copied_with_its_old_timestamp_is_noticed_too(
        cluster, pki, new_user):
    # rsync -t / cp -p keep the source's modification time: the file
    # changes, its mtime does not.
    person = new_user('Revoked Copy')
    proxy = pki.make_proxy(person, fqans=['/dteam'])
    _warm(cluster, proxy)
    path = pki.ca_path / ('%s.r0' % person.ca.hash)
    info = path.stat()
    pki.revoke(person)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    seen = _refused_everywhere(cluster, proxy, DEFAULT_BOUND)
    print('CRL copied with its old mtime: refused after %s s' % seen)
    assert set(seen) == {0, 1}, seen
    assert max(seen.values()) <= DEFAULT_BOUND
