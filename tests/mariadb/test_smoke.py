"""The parts work: private MariaDB, Keystone on it, the process cluster."""

import pytest

from tests.mariadb.conftest import PROCESSES, token_body, unique


def test_new_database_has_debians_collation(mariadb):
    """The point of the suite: names compare as at a Debian site."""
    mariadb.create_database('scratch')
    rows = mariadb.query("SELECT 'José' = 'jose', 'ALICE' = 'alice', "
                         "@@character_set_database, @@collation_database",
                         database='scratch')
    assert rows[0] == (1, 1, 'utf8mb4', 'utf8mb4_general_ci')


def test_keystone_database_compares_names_insensitively(mariadb, keystone):
    # Keystone's migrations set the database to utf8 (utf8mb3): still a
    # _general_ci collation.
    rows = mariadb.query("SELECT 'José' = 'jose', @@collation_database",
                         database='keystone')
    assert rows[0][0] == 1 and rows[0][1].endswith('_general_ci'), rows


def test_keystone_user_table_collates_names_insensitively(mariadb, keystone):
    rows = mariadb.query(
        "SELECT table_collation FROM information_schema.tables "
        "WHERE table_schema = 'keystone' AND table_name = 'local_user'")
    assert rows and rows[0][0].endswith('_general_ci'), rows


def test_database_account_needs_its_password(mariadb, keystone_db):
    import pymysql

    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(host='127.0.0.1', port=mariadb.port,
                        user='keystone', password='wrong',
                        database='keystone').close()


def test_admin_password_login_in_process(keystone):
    assert keystone.connection.startswith('mysql+pymysql://')
    token = token_body(keystone.password_login())
    assert token['user']['name'] == 'admin'


def test_voms_login_in_process(keystone, pki, role_closure):
    person = pki.new_user(unique('Smoke In Process'))
    token = token_body(keystone.voms_login(pki.make_proxy(person),
                                           project='dteam'))
    assert token['project']['name'] == 'dteam'
    assert {r['name'] for r in token['roles']} == role_closure({'member'})


def test_every_process_answers(cluster):
    assert len(cluster.urls) == PROCESSES
    assert len(set(cluster.urls)) == PROCESSES
    assert all(proc.poll() is None for proc in cluster.processes)
    for node in range(PROCESSES):
        response = cluster.request('GET', '/v3', node=node)
        assert response.status_code == 200, response.text


def test_voms_login_through_every_process(cluster, pki, role_closure):
    person = pki.new_user(unique('Smoke Cluster'))
    proxy = pki.make_proxy(person)
    user_ids = set()
    for node in range(PROCESSES):
        token = token_body(cluster.voms_login(proxy, project='dteam',
                                              node=node))
        assert {r['name'] for r in token['roles']} == \
            role_closure({'member'})
        user_ids.add(token['user']['id'])
    assert len(user_ids) == 1


def test_admin_login_through_every_process(cluster):
    for node in range(PROCESSES):
        response = cluster.password_login(node=node)
        assert response.status_code == 201, response.text


def test_header_chain_ignored_without_trust(keystone, pki):
    """The in-process Keystone does not trust front ends: the header the
    cluster relies on gives no login there."""
    from tests.support import cluster as keystone_cluster

    person = pki.new_user(unique('Untrusted Header'))
    proxy = pki.make_proxy(person)
    response = keystone.client().post(
        '/v3/auth/tokens',
        json=keystone._body(['voms'], keystone.project_scope('dteam'),
                            voms={}),
        headers={keystone_cluster.CHAIN_HEADER:
                 keystone_cluster.chain_header_value(proxy)},
        environ_overrides={'REMOTE_ADDR': '127.0.0.1'})
    assert response.status_code == 401, response.get_data(as_text=True)
