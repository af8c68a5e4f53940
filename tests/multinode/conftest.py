"""Two Keystone nodes behind HAProxy on MariaDB + memcached, for the session.

:class:`~tests.support.multinode.MultiNodeKeystone`: two Apache + mod_ssl +
mod_gridsite + mod_wsgi nodes (``processes=2`` each) on one private MariaDB
and one memcached (Keystone ``[cache]`` on ``oslo_cache.memcache_pool``),
behind HAProxy in TCP mode. Users come from an RSA CA (see
:func:`~tests.support.apache.add_rsa_ca`). Skipped when a package is
missing, failed instead under ``CI=true``.

The nodes run voms-auth's defaults except ``mapping_reload_interval``
(1 s, so a test waits less for both nodes to read a changed mapping).
"""

import concurrent.futures
import copy
import itertools
import os
import threading
import uuid

import pytest

from tests.support import apache as apache_harness
from tests.support import multinode
from tests.support import pki as grid_pki

#: Never ``admin``: a project-scoped admin is admin of the whole cloud.
MAPPING = {
    'version': 1,
    'defaults': {'domain': 'Default', 'roles': ['member']},
    'rules': [
        {'description': 'every dteam member',
         'match': {'vo': 'dteam'},
         'grant': {'project': 'dteam', 'create': True}},
        {'description': 'VM managers manage dteam (VOMS role)',
         'match': {'group': '/dteam', 'role': 'VM-Manager'},
         'grant': {'project': 'dteam', 'roles': ['manager']}},
        {'description': 'one racer group: a project made at first login',
         'match': {'group': '/dteam/one'},
         'grant': {'project': 'race-one', 'create': True}},
        {'description': 'many racers: a project made at first login',
         'match': {'group': '/dteam/many'},
         'grant': {'project': 'race-many', 'create': True}},
        {'description': 'kill group: a project made at first login',
         'match': {'group': '/dteam/kill'},
         'grant': {'project': 'race-kill', 'create': True}},
    ],
}

MAPPING_RELOAD = 1.0
_names = itertools.count(1)


def mapping():
    """A copy of :data:`MAPPING` to change."""
    return copy.deepcopy(MAPPING)


@pytest.fixture(scope='session')
def pki(tmp_path_factory):
    grid = grid_pki.GridPKI(tmp_path_factory.mktemp('grid'))
    grid.rsa_ca = apache_harness.add_rsa_ca(grid)
    return grid


@pytest.fixture(scope='session')
def cluster(tmp_path_factory, pki):
    reason = multinode.unavailable_reason()
    if reason:
        if os.environ.get('CI', '').lower() == 'true':
            pytest.fail('the multinode suite is required under CI=true: %s'
                        % reason)
        pytest.skip(reason)
    running = multinode.MultiNodeKeystone(
        tmp_path_factory.mktemp('multinode'), pki=pki, mapping=MAPPING,
        voms_auth={'mapping_reload_interval': MAPPING_RELOAD})
    with running:
        yield running


@pytest.fixture
def new_user(pki):
    """Make a fresh user of the RSA CA."""
    def make(label='Node User'):
        return pki.new_user('%s %d-%s' % (label, next(_names),
                                          uuid.uuid4().hex[:4]),
                            ca=pki.rsa_ca, org='rsa')
    return make


@pytest.fixture(scope='session')
def pool():
    with concurrent.futures.ThreadPoolExecutor(50) as executor:
        yield executor


def parallel(pool, calls):
    """Run ``calls`` (callables) at once, released together by a barrier;
    their results in order."""
    barrier = threading.Barrier(len(calls))

    def one(call):
        barrier.wait(timeout=120)
        return call()

    futures = [pool.submit(one, call) for call in calls]
    return [future.result(timeout=600) for future in futures]


def statuses(responses):
    """``{status: count}``."""
    result = {}
    for response in responses:
        result[response.status_code] = result.get(response.status_code,
                                                  0) + 1
    return result


def token(response):
    assert response.status_code == 201, '%d %s' % (response.status_code,
                                                    response.text[:500])
    return response.json()['token']


def role_names(response):
    return {role['name'] for role in token(response).get('roles', [])}
