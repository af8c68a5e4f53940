"""The embedded default (SQLite, as the demo runs it) under several
Keystone processes: SQLite lets one writer in at a time and answers the
others "database is locked"; parallel first logins must still all succeed
(voms-auth retries its writes) and make one user."""

import concurrent.futures
import json

import pytest

from tests.mariadb.conftest import MAPPING
from tests.support import cluster as keystone_cluster
from tests.support import keystone as local_keystone

LOGINS = 50


@pytest.fixture(scope='module')
def pool():
    with concurrent.futures.ThreadPoolExecutor(LOGINS) as executor:
        yield executor


@pytest.fixture(scope='module')
def sqlite_cluster(tmp_path_factory, pki):
    directory = tmp_path_factory.mktemp('sqlite-keystone')
    mapping = directory / 'mapping.json'
    mapping.write_text(json.dumps(MAPPING))
    instance = local_keystone.LocalKeystone(
        directory / 'keystone', voms_auth={
            'ca_path': pki.ca_path, 'vomsdir': pki.vomsdir,
            'mapping_file': mapping, 'trust_reload_interval': 0}).setup()
    with keystone_cluster.KeystoneCluster(
            instance, processes=4,
            voms_auth={'verification_cache_ttl': 300}) as running:
        yield running


@pytest.mark.parametrize('run', range(3))
def test_parallel_first_logins_on_sqlite_all_succeed(sqlite_cluster, pki,
                                                     pool, run):
    proxy = pki.make_proxy(pki.new_user('SQLite Racer %d' % run),
                           fqans=['/dteam', '/dteam/racers'])
    responses = list(pool.map(
        lambda i: sqlite_cluster.voms_login(proxy, project='dteam-racers',
                                            node=i % 4), range(LOGINS)))
    failed = [r.text[:200] for r in responses if r.status_code != 201]
    assert not failed, failed[:3]
    assert len({r.json()['token']['user']['id'] for r in responses}) == 1
