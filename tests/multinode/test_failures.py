"""A node killed mid-load, memcached and MariaDB restarted: logins go on,
nothing is duplicated or lost.

Runs last in the module order of the suite (it kills and restarts parts
of the session's cluster; each test brings everything back).
"""

import threading
import time

import requests

from tests.multinode.conftest import role_names, statuses, token

PEOPLE = 30


def _login_until_in(cluster, proxy, project, log, deadline=180):
    """Log in through HAProxy until a 201 (a client retrying after a
    dropped connection or a 503); records ``(time, outcome)`` in ``log``."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            response = cluster.voms_login(proxy, project=project,
                                          timeout=60)
        except requests.ConnectionError as exc:
            log.append((time.monotonic(), 'connection: %s' % type(exc)
                        .__name__))
            time.sleep(0.2)
            continue
        log.append((time.monotonic(), response.status_code))
        if response.status_code == 201:
            return response
        time.sleep(float(response.headers.get('Retry-After', 0.2)))
    raise AssertionError('no login within %ds: %s' % (deadline, log[-5:]))


def _membership_rows(cluster, user_ids):
    rows = cluster.query('SELECT user_id, group_id FROM '
                         'expiring_user_group_membership')
    return [row for row in rows if row[0] in set(user_ids)]


def test_node_killed_mid_load_the_other_serves_nothing_lost(
        cluster, pki, new_user, pool):
    proxies = [pki.make_proxy(new_user('Kill Load'), fqans=['/dteam/kill'])
               for _ in range(PEOPLE)]
    before = cluster.query('SELECT COUNT(*) FROM federated_user')[0][0]
    log = []
    start = threading.Event()

    def one(proxy):
        start.wait(60)
        first = _login_until_in(cluster, proxy, 'race-kill', log)
        again = _login_until_in(cluster, proxy, 'race-kill', log)
        return first, again

    futures = [pool.submit(one, proxy) for proxy in proxies]
    start.set()
    time.sleep(3)                       # mid-load
    killed_at = time.monotonic()
    cluster.nodes[0].kill()
    try:
        results = [future.result(timeout=600) for future in futures]
        after_kill = [outcome for at, outcome in log if at > killed_at]
        print('node0 killed mid-load: outcomes after the kill %s; before %s'
              % (_count(after_kill),
                 _count([o for at, o in log if at <= killed_at])))
        assert 500 not in [o for _, o in log]
        # each person: one user, the same at every login, one membership
        users = [token(first)['user']['id'] for first, _ in results]
        assert [token(again)['user']['id'] for _, again in results] == users
        assert len(set(users)) == PEOPLE
        assert cluster.query(
            'SELECT COUNT(*) FROM federated_user')[0][0] == before + PEOPLE
        # every person holds exactly their two groups (dteam and
        # race-kill members), the same two for all
        rows = _membership_rows(cluster, users)
        per_user = {}
        for user_id, group in rows:
            per_user.setdefault(user_id, []).append(group)
        assert set(per_user) == set(users)
        assert {len(groups) for groups in per_user.values()} == {2}
        assert len({frozenset(g) for g in per_user.values()}) == 1
        assert len(cluster.query(
            "SELECT id FROM project WHERE name = 'race-kill'")) == 1
        # the survivor serves every login now
        for _ in range(4):
            token(cluster.voms_login(proxies[0], project='race-kill'))
    finally:
        cluster.nodes[0].restart()
        cluster.haproxy.wait_for('node0', 'UP', timeout=60)
    # the restarted node serves again (Apache logs a request just after
    # answering it: wait for the line)
    served = cluster.served_by()
    token(cluster.voms_login(proxies[0], project='race-kill', node=0))
    deadline = time.monotonic() + 10
    while cluster.served_by()[0] == served[0] and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    assert cluster.served_by()[0] == served[0] + 1


def _count(outcomes):
    result = {}
    for outcome in outcomes:
        result[outcome] = result.get(outcome, 0) + 1
    return result


def test_memcached_restart_logins_resume_nothing_lost(cluster, pki,
                                                      new_user):
    person = new_user('Cache Restart')
    with_role = pki.make_proxy(person, fqans=['/dteam',
                                              '/dteam/Role=VM-Manager'])
    without_role = pki.make_proxy(person, fqans=['/dteam'])
    user = token(cluster.voms_login(with_role, project='dteam'))['user']
    cluster.memcached.restart()
    log = []
    responses = [_login_until_in(cluster, with_role, 'dteam', log, 60)
                 for _ in range(4)]
    assert statuses(responses) == {201: 4}
    assert 500 not in [o for _, o in log], log
    assert {token(r)['user']['id'] for r in responses} == {user['id']}
    assert all('manager' in role_names(r) for r in responses)
    # a removal after the restart is not hidden by anything cached before
    for node in (0, 1):
        assert 'manager' not in role_names(cluster.voms_login(
            without_role, project='dteam', node=node))
    newcomer = pki.make_proxy(new_user('Cache Newcomer'), fqans=['/dteam'])
    token(cluster.voms_login(newcomer, project='dteam'))


def test_mariadb_restart_logins_resume_nothing_lost(cluster, pki, new_user):
    person = new_user('DB Restart')
    proxy = pki.make_proxy(person, fqans=['/dteam', '/dteam/Role=VM-Manager'])
    user = token(cluster.voms_login(proxy, project='dteam'))['user']
    before = cluster.query('SELECT COUNT(*) FROM federated_user')[0][0]
    cluster.mariadb.kill()                       # a crash, not a shutdown
    down = []
    try:
        for _ in range(3):
            try:
                down.append(cluster.voms_login(proxy, project='dteam',
                                               timeout=60).status_code)
            except requests.ConnectionError:
                down.append('connection')
    finally:
        restarted = time.monotonic()
        cluster.mariadb.start()
    log = []
    back = _login_until_in(cluster, proxy, 'dteam', log, 120)
    resumed = time.monotonic() - restarted
    print('MariaDB killed: logins while down %s; after the restart %s, '
          'first 201 after %.1f s' % (down, _count([o for _, o in log]),
                                      resumed))
    assert 500 not in down and 500 not in [o for _, o in log]
    assert all(status == 503 for status in down if status != 'connection')
    assert token(back)['user']['id'] == user['id']
    assert 'manager' in role_names(back)
    assert cluster.query(
        'SELECT COUNT(*) FROM federated_user')[0][0] == before
    for node in (0, 1):
        token(cluster.voms_login(proxy, project='dteam', node=node))
