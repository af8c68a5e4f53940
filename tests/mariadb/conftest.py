"""Keystone with voms-auth on a private MariaDB, in process and as a cluster.

One private MariaDB server (:func:`tests.support.mariadb.mariadb`) holds
one Keystone database for the session. The same Keystone configuration
serves

* ``keystone``: Keystone in this process (requests through Flask's test
  client, proxies in the environ as mod_ssl exports them);
* ``cluster``: :data:`PROCESSES` Keystone server processes on that database
  (:class:`tests.support.cluster.KeystoneCluster`), proxies through the
  trusted front end header, for the race tests.

MariaDB's default collation (``utf8mb4_general_ci``) compares Keystone's
name columns case- and accent-insensitively, as at a site. Tests use their
own people (fresh certificates) so they do not see each other's state.
"""

import itertools
import json
import uuid

import pytest

from tests.support import cluster as keystone_cluster
from tests.support import keystone as local_keystone
from tests.support import pki as grid_pki
from tests.support.mariadb import mariadb  # noqa: F401

#: Keystone server processes of the ``cluster`` fixture.
PROCESSES = 4

#: Runs of the bulk-creation race, and the projects each run creates.
BULK_RUNS = 3
BULK_PROJECTS = 20

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
        {'description': 'the racers group: a project made at first login',
         'match': {'group': '/dteam/racers'},
         'grant': {'project': 'dteam-racers', 'create': True,
                   'roles': ['member', 'manager']}},
    ] + [
        {'description': 'bulk creation race %d, project %d' % (run, i),
         'match': {'group': '/dteam/bulk%dx%d' % (run, i)},
         'grant': {'project': 'bulk-%d-%d' % (run, i), 'create': True}}
        for run in range(BULK_RUNS) for i in range(BULK_PROJECTS)
    ],
}

_serial = itertools.count(1)


def unique(prefix):
    """A name no other test of this session uses."""
    return '%s %d-%s' % (prefix, next(_serial), uuid.uuid4().hex[:6])


@pytest.fixture(scope='session')
def pki(tmp_path_factory):
    return grid_pki.GridPKI(tmp_path_factory.mktemp('grid'))


@pytest.fixture(scope='session')
def mapping_path(tmp_path_factory):
    path = tmp_path_factory.mktemp('mapping') / 'mapping.json'
    path.write_text(json.dumps(MAPPING, indent=2))
    return path


@pytest.fixture(scope='session')
def keystone_db(mariadb):  # noqa: F811
    """SQLAlchemy URL of the session's Keystone database on MariaDB."""
    return mariadb.create_database('keystone')


@pytest.fixture(scope='session')
def keystone_setup(tmp_path_factory, keystone_db, pki, mapping_path):
    """A LocalKeystone on MariaDB after ``setup()`` (db_sync, keys,
    bootstrap), not yet started anywhere."""
    directory = tmp_path_factory.mktemp('keystone')
    instance = local_keystone.LocalKeystone(
        directory,
        connection=keystone_db,
        voms_auth={
            'ca_path': pki.ca_path,
            'vomsdir': pki.vomsdir,
            'mapping_file': mapping_path,
            'mapping_reload_interval': 0,
            'trust_reload_interval': 0,
            'verification_cache_ttl': 0,
        },
        # Room for 50 concurrent logins per process.
        extra='[database]\nmax_pool_size = 10\nmax_overflow = 60\n'
              'pool_timeout = 60\n',
    )
    return instance.setup()


@pytest.fixture(scope='session')
def keystone(keystone_setup):
    """Keystone on MariaDB in this process."""
    return keystone_setup.start()


@pytest.fixture(scope='session')
def cluster(keystone_setup):
    """:data:`PROCESSES` Keystone processes on the session's database."""
    # The races are in provisioning; a verified proxy is reused within a
    # process (the in-process tests verify every proxy afresh), which
    # halves the CPU time of 50 logins with one proxy.
    with keystone_cluster.KeystoneCluster(
            keystone_setup, processes=PROCESSES,
            voms_auth={'verification_cache_ttl': 300}) as running:
        yield running


@pytest.fixture(scope='session')
def role_closure(keystone):
    """``names -> names`` plus every role they imply (Keystone's bootstrap
    makes admin imply manager, manager imply member, member imply
    reader), read from Keystone's role inferences."""
    response = keystone.get('/v3/role_inferences')
    assert response.status_code == 200, response.get_data(as_text=True)
    implies = {}
    for rule in response.get_json()['role_inferences']:
        implies.setdefault(rule['prior_role']['name'], set()).update(
            r['name'] for r in rule['implies'])

    def _closure(names):
        result, todo = set(), list(names)
        while todo:
            name = todo.pop()
            if name not in result:
                result.add(name)
                todo.extend(implies.get(name, ()))
        return result

    return _closure


def token_body(response):
    """The token of a ``201`` login response (Flask or ``requests``)."""
    status = getattr(response, 'status_code', None)
    text = response.get_data(as_text=True) if hasattr(
        response, 'get_data') else response.text
    assert status == 201, 'HTTP %s: %s' % (status, text[:1000])
    body = response.get_json() if hasattr(response, 'get_json') else \
        response.json()
    return body['token']


_admin_tokens = {}


def admin_token(keystone):
    """A cloud admin token, reused (a password login costs a bcrypt)."""
    token = _admin_tokens.get(id(keystone))
    if token is None:
        token = _admin_tokens[id(keystone)] = keystone.admin_token()
    return token


def effective_roles(keystone, user_id, project=None):
    """``{(project name, role name)}`` a user holds on projects, effective
    (through groups, inheritance and role implication), via the API."""
    params = {'user.id': user_id, 'effective': 'true',
              'include_names': 'true'}
    response = keystone.get('/v3/role_assignments',
                            token=admin_token(keystone), **params)
    assert response.status_code == 200, response.get_data(as_text=True)
    held = {(a['scope']['project']['name'], a['role']['name'])
            for a in response.get_json()['role_assignments']
            if 'project' in a.get('scope', {})}
    if project is not None:
        held = {role for name, role in held if name == project}
    return held


def user_count(keystone, domain_id='default'):
    response = keystone.get('/v3/users', token=admin_token(keystone),
                            domain_id=domain_id)
    assert response.status_code == 200, response.get_data(as_text=True)
    return len(response.get_json()['users'])

