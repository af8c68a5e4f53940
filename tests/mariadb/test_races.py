"""Concurrent logins over several Keystone processes (issue 9, 4).

A per-process lock does nothing across processes: these tests send
parallel logins of one person to :data:`~tests.mariadb.conftest.PROCESSES`
Keystone server processes on one MariaDB database and check, with
Keystone's *effective* role assignments (groups, inheritance, implied
roles), that exactly one user exists and that the person holds exactly
what the mapping grants -- no record lost, nothing left over.
"""

import concurrent.futures
import os
import threading

import pytest

from tests.mariadb.conftest import (
    BULK_PROJECTS,
    BULK_RUNS,
    PROCESSES,
    admin_token,
    effective_roles,
    unique,
    user_count,
)

#: Repetitions of each race, with fresh people each time (the
#: environment variable VOMS_AUTH_RACE_RUNS overrides it: more for a
#: soak, fewer while developing).
RUNS = int(os.environ.get('VOMS_AUTH_RACE_RUNS', '20'))
FIRST_LOGINS = 50
MANAGER_LOGINS = 8

MANAGER = ['/dteam', '/dteam/Role=VM-Manager']
PLAIN = ['/dteam']
RACER = ['/dteam', '/dteam/racers']


@pytest.fixture(scope='module')
def pool():
    with concurrent.futures.ThreadPoolExecutor(FIRST_LOGINS) as executor:
        yield executor


def parallel_logins(cluster, pool, proxies, project):
    """Log in once per proxy, all released at the same moment, spread
    round robin over the processes; the ``requests`` responses."""
    barrier = threading.Barrier(len(proxies))

    def one(index, proxy):
        barrier.wait(timeout=60)
        return cluster.voms_login(proxy, project=project,
                                  node=index % PROCESSES)

    futures = [pool.submit(one, i, p) for i, p in enumerate(proxies)]
    return [f.result(timeout=300) for f in futures]


def describe(responses):
    failed = [(r.status_code, r.text[:300]) for r in responses
              if r.status_code != 201]
    return '%d of %d logins failed, e.g. %s' % (
        len(failed), len(responses), failed[:3])


def test_parallel_first_logins_make_one_user_with_every_role(
        keystone, cluster, pki, pool, role_closure):
    expected = {('dteam', role) for role in role_closure({'member'})} | {
        ('dteam-racers', role) for role in role_closure({'member',
                                                         'manager'})}
    after_leaving = {('dteam', role) for role in role_closure({'member'})}
    problems = []
    for run in range(RUNS):
        person = pki.new_user(unique('Racer'))
        proxy = pki.make_proxy(person, fqans=RACER)
        users_before = user_count(keystone)

        responses = parallel_logins(cluster, pool, [proxy] * FIRST_LOGINS,
                                    'dteam-racers')

        if any(r.status_code != 201 for r in responses):
            problems.append('run %d: %s' % (run, describe(responses)))
        user_ids = {r.json()['token']['user']['id'] for r in responses
                    if r.status_code == 201}
        if len(user_ids) != 1:
            problems.append('run %d: %d user ids in the tokens'
                            % (run, len(user_ids)))
        created = user_count(keystone) - users_before
        if created != 1:
            problems.append('run %d: %d users created' % (run, created))
        for user_id in user_ids:
            held = effective_roles(keystone, user_id)
            if held != expected:
                problems.append('run %d: user %s holds %s, the mapping '
                                'grants %s' % (run, user_id, sorted(held),
                                               sorted(expected)))
        # Every grant was recorded: leaving the racers group takes away
        # everything the 50 logins gave on its project.
        left = cluster.voms_login(pki.make_proxy(person, fqans=PLAIN),
                                  project='dteam')
        if left.status_code != 201:
            problems.append('run %d: login after leaving racers: HTTP %d %s'
                            % (run, left.status_code, left.text[:300]))
            continue
        held = effective_roles(keystone, left.json()['token']['user']['id'])
        if held != after_leaving:
            problems.append('run %d: after leaving racers the person holds '
                            '%s (expected %s)' % (run, sorted(held),
                                                  sorted(after_leaving)))
    assert not problems, '\n'.join(problems)


def test_parallel_logins_of_a_manager_then_role_revoked_leaves_member(
        keystone, cluster, pki, pool, role_closure):
    member_only = role_closure({'member'})
    problems = []
    for run in range(RUNS):
        person = pki.new_user(unique('VO Manager'))
        with_role = pki.make_proxy(person, fqans=MANAGER)
        without_role = pki.make_proxy(person, fqans=PLAIN)
        if run % 2:
            # Half of the runs race on a user who already manages dteam.
            first = cluster.voms_login(with_role, project='dteam')
            assert first.status_code == 201, first.text

        proxies = [with_role if i % 2 == 0 else without_role
                   for i in range(MANAGER_LOGINS)]
        responses = parallel_logins(cluster, pool, proxies, 'dteam')
        if any(r.status_code != 201 for r in responses):
            problems.append('run %d: %s' % (run, describe(responses)))

        # The VO revoked the role: the next login has none.
        last = cluster.voms_login(without_role, project='dteam')
        if last.status_code != 201:
            problems.append('run %d: login without the role: HTTP %d %s'
                            % (run, last.status_code, last.text[:300]))
            continue
        token = last.json()['token']
        in_token = {r['name'] for r in token['roles']}
        if in_token != member_only:
            problems.append('run %d: token after revocation has roles %s'
                            % (run, sorted(in_token)))
        held = effective_roles(keystone, token['user']['id'],
                               project='dteam')
        if held != member_only:
            problems.append('run %d: effective roles on dteam after '
                            'revocation: %s (expected %s)' % (
                                run, sorted(held), sorted(member_only)))
    assert not problems, '\n'.join(problems)


def test_parallel_first_logins_creating_the_same_projects_in_bulk(
        keystone, cluster, pki, pool):
    """People whose first login creates the same 20 projects, all at
    once over the processes: every login succeeds, each project exists
    once, and everyone holds every one (the projects, groups, grants and
    memberships of a login are written in one transaction, run again when
    another process wrote the same rows first)."""
    problems = []
    for run in range(BULK_RUNS):
        groups = ['/dteam/bulk%dx%d' % (run, i) for i in range(BULK_PROJECTS)]
        names = {'bulk-%d-%d' % (run, i) for i in range(BULK_PROJECTS)}
        proxies = [pki.make_proxy(pki.new_user(unique('Bulk')), fqans=groups)
                   for _ in range(MANAGER_LOGINS)]
        responses = parallel_logins(cluster, pool, proxies,
                                    'bulk-%d-0' % run)
        if any(r.status_code != 201 for r in responses):
            problems.append('run %d: %s' % (run, describe(responses)))
            continue
        found = [p['name'] for p in keystone.get(
            '/v3/projects', token=admin_token(keystone)).get_json()[
            'projects'] if p['name'] in names]
        if sorted(found) != sorted(names):
            problems.append('run %d: projects %s' % (run, sorted(found)))
        for response in responses:
            held = {project for project, _ in effective_roles(
                keystone, response.json()['token']['user']['id'])}
            if not names <= held:
                problems.append('run %d: a person lacks %s' % (
                    run, sorted(names - held)))
    assert not problems, '\n'.join(problems)
