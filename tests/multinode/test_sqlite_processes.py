"""The embedded default (SQLite) under Apache + mod_wsgi with several daemon
processes: documented as single-process, it must still never answer 500.

SQLite lets one writer in at a time and answers the others "database is
locked". voms-auth retries its own writes; what still fails (a lock that
outlasts the retries, or hits Keystone's own reads while another process
commits) is a 503 with ``Retry-After``, and the client that waits that
long and tries again gets in. Statuses are counted, never assumed.
"""

import json
import time

import pytest

from tests.multinode.conftest import MAPPING, parallel, statuses, token
from tests.support import apache as apache_harness
from tests.support import keystone as local_keystone

LOGINS = 50
PROCESSES = 4


@pytest.fixture(scope='module')
def sqlite_node(tmp_path_factory, pki):
    reason = apache_harness.unavailable_reason()
    if reason:
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp('sqlite-node')
    mapping = directory / 'mapping.json'
    mapping.write_text(json.dumps(MAPPING))
    keystone = local_keystone.LocalKeystone(
        directory / 'keystone', voms_auth={
            'ca_path': pki.ca_path, 'vomsdir': pki.vomsdir,
            'mapping_file': mapping}).setup()
    node = apache_harness.ApacheKeystone(
        keystone, directory / 'apache', ca_path=pki.ca_path,
        processes=PROCESSES, threads=8)
    node.start(timeout=300)  # four daemons import Keystone first
    try:
        yield node
    finally:
        node.close(remove=False)


def _login(node, proxy, project):
    import requests

    return requests.post(
        node.auth_url + '/auth/tokens', cert=str(proxy),
        verify=str(node.ca_file), timeout=300,
        json=local_keystone.LocalKeystone._body(
            ['voms'], local_keystone.LocalKeystone.project_scope(project),
            voms={}))


def _check(responses):
    """No 500; every refusal a 503 with Retry-After; the counts."""
    counted = statuses(responses)
    assert set(counted) <= {201, 503}, (counted, [
        r.text[:300] for r in responses if r.status_code not in (201, 503)])
    for response in responses:
        if response.status_code == 503:
            assert int(response.headers['Retry-After']) > 0
            assert 'try again' in response.json()['error']['message']
    return counted


def _until_in(node, proxy, project, attempts=10):
    """Log in again, waiting Retry-After between 503s; the 201."""
    for _ in range(attempts):
        response = _login(node, proxy, project)
        if response.status_code != 503:
            return response
        time.sleep(int(response.headers['Retry-After']))
    return response


def test_parallel_first_logins_of_one_person_never_500(sqlite_node, pki,
                                                       new_user, pool):
    proxy = pki.make_proxy(new_user('SQLite One'), fqans=['/dteam/one'])
    responses = parallel(pool, [
        lambda: _login(sqlite_node, proxy, 'race-one')] * LOGINS)
    counted = _check(responses)
    print('SQLite, %d processes, 50 first logins of one person: %s'
          % (PROCESSES, counted))
    users = {token(r)['user']['id'] for r in responses
             if r.status_code == 201}
    users.add(token(_until_in(sqlite_node, proxy, 'race-one'))['user']['id'])
    assert len(users) == 1


def test_parallel_first_logins_of_fifty_people_never_500(sqlite_node, pki,
                                                         new_user, pool):
    proxies = [pki.make_proxy(new_user('SQLite Many'), fqans=['/dteam/many'])
               for _ in range(LOGINS)]
    responses = parallel(pool, [
        lambda p=p: _login(sqlite_node, p, 'race-many') for p in proxies])
    counted = _check(responses)
    print('SQLite, %d processes, 50 first logins of 50 people: %s'
          % (PROCESSES, counted))
    retried = [_until_in(sqlite_node, p, 'race-many')
               for p, r in zip(proxies, responses, strict=True)
               if r.status_code == 503]
    assert all(r.status_code == 201 for r in retried), statuses(retried)
    users = {token(r)['user']['id'] for r in responses + retried
             if r.status_code == 201}
    assert len(users) == LOGINS
