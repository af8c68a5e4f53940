"""Access that is right and that ends (issue 9), on a real Keystone.

Who the Keystone user of a person is, what is removed when the VO no longer
grants anything, how application credentials and trusts lose their roles
with and without a later login, refusals that change nothing. The same
cases on MariaDB's collation and under races across processes are in
``tests/mariadb``.
"""

import contextlib
import copy
import datetime
import importlib.metadata
import itertools
import pathlib

import pytest
from oslo_utils import timeutils

from tests.functional.conftest import (
    MAPPING,
    MEMBER_ROLES,
    error_message,
    role_names,
    token_body,
)
from voms_auth.keystone import manage, provisioning

_names = itertools.count(1)


def _user(pki, prefix='Access User'):
    return pki.new_user('%s %d' % (prefix, next(_names)))


def _login(keystone, pki, user, fqans, project='dteam'):
    return keystone.voms_login(pki.make_proxy(user, fqans=fqans),
                               project=project)


def _project_id(keystone, name):
    return keystone.get('/v3/projects', name=name).get_json()[
        'projects'][0]['id']


def _app_credential(keystone, token):
    """An application credential of the token's user on its project."""
    user_id = token.json['token']['user']['id']
    response = keystone.api(
        'POST', '/v3/users/%s/application_credentials' % user_id,
        token=token.headers['X-Subject-Token'],
        json={'application_credential': {
            'name': 'cred-%d' % next(_names)}})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()['application_credential']


def _app_credential_login(keystone, credential):
    return keystone.client().post('/v3/auth/tokens', json={'auth': {
        'identity': {'methods': ['application_credential'],
                     'application_credential': {
                         'id': credential['id'],
                         'secret': credential['secret']}}}})


def _trust(keystone, token, project_id):
    """A trust from the token's user to Keystone's admin on project."""
    admin = keystone.get('/v3/users', name='admin').get_json()['users'][0]
    response = keystone.api(
        'POST', '/v3/OS-TRUST/trusts',
        token=token.headers['X-Subject-Token'],
        json={'trust': {
            'trustor_user_id': token.json['token']['user']['id'],
            'trustee_user_id': admin['id'], 'project_id': project_id,
            'impersonation': False, 'roles': [{'name': 'member'}]}})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()['trust']['id']


def _trust_login(keystone, trust_id):
    return keystone.client().post('/v3/auth/tokens', json={'auth': {
        'identity': {'methods': ['token'],
                     'token': {'id': keystone.admin_token()}},
        'scope': {'OS-TRUST:trust': {'id': trust_id}}}})


class _Token:
    """A login response with its JSON body at hand."""

    def __init__(self, response):
        token_body(response)
        self.headers = response.headers
        self.json = response.get_json()


@contextlib.contextmanager
def _clock_moved(**delta):
    """Keystone's clock (oslo.utils timeutils) moved forward."""
    timeutils.set_time_override(
        datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        + datetime.timedelta(**delta))
    try:
        yield
    finally:
        timeutils.clear_time_override()


@contextlib.contextmanager
def _override(keystone, **options):
    conf = keystone.conf()
    for key, value in options.items():
        conf.set_override(key, value, group='voms_auth')
    try:
        yield
    finally:
        for key in options:
            conf.clear_override(key, group='voms_auth')


# -- who the user is ----------------------------------------------------------
def test_user_is_a_federated_user_of_the_voms_auth_provider(keystone, pki):
    user = _user(pki)
    token = token_body(_login(keystone, pki, user, ['/dteam']))
    ref = keystone.get('/v3/users/%s' % token['user']['id']).get_json()[
        'user']
    assert ref['federated'][0]['idp_id'] == 'voms-auth'
    protocol = ref['federated'][0]['protocols'][0]
    assert protocol['protocol_id'] == 'voms'
    assert len(protocol['unique_id']) == 64  # hex, collation-proof


def test_a_user_with_the_same_name_is_never_adopted(keystone, pki,
                                                    assignments):
    """Squatting: a user made beforehand with the name the person would
    get (and a password) stays a stranger."""
    user = _user(pki, 'Squatted')
    name = '%s (%s)' % (user.dn, user.ca_dn)
    response = keystone.api('POST', '/v3/users', json={'user': {
        'name': name, 'domain_id': 'default', 'password': 'squat-pw-1'}})
    assert response.status_code == 201, response.get_data(as_text=True)
    squatter_id = response.get_json()['user']['id']
    token = token_body(_login(keystone, pki, user, ['/dteam']))
    assert token['user']['id'] != squatter_id
    assert token['user']['name'] == name
    assert assignments(squatter_id) == set()
    login = keystone.password_login(user=name, password='squat-pw-1',
                                    project='dteam')
    assert login.status_code == 401


# -- access ends --------------------------------------------------------------
def test_leaving_the_vo_removes_access_and_cuts_off_credentials(
        keystone, pki, assignments, set_mapping):
    """A login that no rule grants removes what voms-auth gave, then 401;
    application credentials and trusts made earlier stop working."""
    user = _user(pki, 'Leaver')
    token = _Token(_login(keystone, pki, user, ['/dteam']))
    user_id = token.json['token']['user']['id']
    credential = _app_credential(keystone, token)
    trust_id = _trust(keystone, token, _project_id(keystone, 'dteam'))
    assert _app_credential_login(keystone, credential).status_code == 201
    assert _trust_login(keystone, trust_id).status_code == 201
    # An admin's own grant must survive.
    keystone.api('PUT', '/v3/projects/%s/users/%s/roles/%s' % (
        _project_id(keystone, 'admin'), user_id,
        keystone.get('/v3/roles', name='reader').get_json()['roles'][0][
            'id']))
    server = pki.add_voms_server('leftvo', 'voms-leftvo.example.org')
    gone = pki.make_proxy(user, vo='leftvo', fqans=['/leftvo'],
                          server=server)
    response = keystone.voms_login(gone)
    assert response.status_code == 401
    assert 'no rule of the mapping grants access' in error_message(response)
    assert assignments(user_id) == {('admin', 'reader')}
    assert _app_credential_login(keystone, credential).status_code == 401
    assert _trust_login(keystone, trust_id).status_code in (401, 403)


def test_access_ends_without_any_login_after_the_ttl(keystone, pki,
                                                     assignments):
    if importlib.metadata.version('keystone').split('.')[0] == '25':
        pytest.skip('Keystone 25 decides whether a membership expired with '
                    'datetime.utcnow(), which this test cannot move (it '
                    'moves oslo.utils timeutils, as Keystone 26+ read); the '
                    'expiry itself is enforced by Keystone in real time')
    user = _user(pki, 'Stays Away')
    token = _Token(_login(keystone, pki, user, ['/dteam']))
    user_id = token.json['token']['user']['id']
    credential = _app_credential(keystone, token)
    trust_id = _trust(keystone, token, _project_id(keystone, 'dteam'))
    ttl = keystone.conf().voms_auth.authorization_ttl
    with _clock_moved(minutes=ttl - 10):
        assert _app_credential_login(keystone, credential).status_code == 201
    with _clock_moved(minutes=ttl + 1):
        assert assignments(user_id) == set()
        assert _app_credential_login(keystone, credential).status_code == 401
        assert _trust_login(keystone, trust_id).status_code in (401, 403)
    # A new login renews it.
    token_body(_login(keystone, pki, user, ['/dteam']))
    assert _app_credential_login(keystone, credential).status_code == 201


def test_default_ttl_is_at_most_seven_days(keystone, pki):
    token_body(_login(keystone, pki, _user(pki, 'Ttl'), ['/dteam']))
    assert keystone.conf().voms_auth.authorization_ttl <= 7 * 24 * 60
    idp = keystone.get('/v3/OS-FEDERATION/identity_providers/voms-auth')
    assert idp.get_json()['identity_provider']['authorization_ttl'] == \
        keystone.conf().voms_auth.authorization_ttl


def test_credential_past_its_end_is_refused_within_the_skew(keystone, pki):
    """An AC that ended two minutes ago is refused although clock_skew is
    five minutes: the skew never extends an end (doc/source/voms.rst)."""
    user = _user(pki, 'Just Expired')
    proxy = pki.make_proxy(user, fqans=['/dteam'], hours=1,
                           vomslife=1, pastac='1:02')
    response = keystone.voms_login(proxy)
    assert response.status_code == 401
    assert 'the AC of VO dteam expired at' in error_message(response)


# -- refusals that change nothing ---------------------------------------------
def test_disabled_user_is_refused_and_nothing_is_regranted(keystone, pki,
                                                           assignments):
    user = _user(pki, 'Disabled')
    user_id = token_body(_login(keystone, pki, user, ['/dteam']))[
        'user']['id']
    server = pki.add_voms_server('dvo', 'voms-dvo.example.org')
    keystone.voms_login(pki.make_proxy(user, vo='dvo', fqans=['/dvo'],
                                       server=server))
    assert assignments(user_id) == set()
    response = keystone.api('PATCH', '/v3/users/%s' % user_id,
                            json={'user': {'enabled': False}})
    assert response.status_code == 200
    response = _login(keystone, pki, user, ['/dteam'])
    assert response.status_code == 401
    assert 'disabled' in error_message(response)
    assert assignments(user_id) == set()


def test_disabled_user_domain_is_refused_and_nothing_created(keystone, pki):
    response = keystone.api('POST', '/v3/domains', json={'domain': {
        'name': 'grid-off', 'enabled': False}})
    assert response.status_code == 201
    domain_id = response.get_json()['domain']['id']
    user = _user(pki, 'Domain Off')
    with _override(keystone, user_domain='grid-off'):
        response = _login(keystone, pki, user, ['/dteam'], project=None)
    assert response.status_code == 401
    assert 'grid-off' in error_message(response)
    users = keystone.get('/v3/users', domain_id=domain_id).get_json()
    assert users['users'] == []


# -- governance ---------------------------------------------------------------
def test_mapping_granting_admin_is_not_loaded(keystone, pki, set_mapping):
    bad = copy.deepcopy(MAPPING)
    bad['rules'][2]['grant']['roles'] = ['admin']
    set_mapping(bad)
    user = _user(pki, 'Would Be Admin')
    token = token_body(_login(keystone, pki, user,
                              ['/dteam/Role=VM-Manager']))
    assert 'admin' not in role_names(token)


def test_role_implying_admin_is_refused(keystone, pki, set_mapping):
    """Keystone forbids roles implying admin by default
    ([assignment] prohibited_implied_role); a site may lift that."""
    keystone.conf().set_override('prohibited_implied_role', [],
                                 group='assignment')
    response = keystone.api('POST', '/v3/roles',
                            json={'role': {'name': 'superuser'}})
    assert response.status_code == 201
    role_id = response.get_json()['role']['id']
    admin_id = keystone.get('/v3/roles', name='admin').get_json()[
        'roles'][0]['id']
    assert keystone.api('PUT', '/v3/roles/%s/implies/%s' % (
        role_id, admin_id)).status_code == 201
    keystone.conf().clear_override('prohibited_implied_role',
                                   group='assignment')
    sneaky = copy.deepcopy(MAPPING)
    sneaky['rules'][2]['grant']['roles'] = ['superuser']
    set_mapping(sneaky)
    user = _user(pki, 'Implied Admin')
    response = _login(keystone, pki, user, ['/dteam/Role=VM-Manager'])
    assert response.status_code == 401
    assert 'configuration error' in error_message(response)


def test_deny_rule_refuses_and_removes_access(keystone, pki, set_mapping,
                                              assignments):
    user = _user(pki, 'Denied')
    user_id = token_body(_login(keystone, pki, user, ['/dteam']))[
        'user']['id']
    denying = copy.deepcopy(MAPPING)
    denying['deny'] = [{'description': 'banned by the VO manager',
                        'match': {'subject': user.dn}}]
    set_mapping(denying)
    response = _login(keystone, pki, user, ['/dteam'])
    assert response.status_code == 401
    assert 'banned by the VO manager' in error_message(response)
    assert assignments(user_id) == set()


def test_approval_mode_admits_approved_people_only(keystone, pki):
    user = _user(pki, 'Needs Approval')
    with _override(keystone, require_approval=True):
        response = _login(keystone, pki, user, ['/dteam'])
        assert response.status_code == 401
        assert 'not approved' in error_message(response)
        who = manage.person('voms', user.ca_dn, user.dn)
        done, message = manage.approve(keystone.conf(), who)
        assert not done and 'would create' in message
        assert _login(keystone, pki, user, ['/dteam']).status_code == 401
        done, _ = manage.approve(keystone.conf(), who, apply=True)
        assert done
        token = token_body(_login(keystone, pki, user, ['/dteam']))
        assert role_names(token) == MEMBER_ROLES


def test_link_makes_an_existing_user_the_persons_user(keystone, pki):
    """Migration from keystone-voms: its user (named by DN) is linked."""
    user = _user(pki, 'Migrated')
    response = keystone.api('POST', '/v3/users', json={'user': {
        'name': user.dn, 'domain_id': 'default'}})
    old_id = response.get_json()['user']['id']
    who = manage.person('voms', user.ca_dn, user.dn)
    done, message = manage.link(keystone.conf(), who, old_id)
    assert not done and message.startswith('would link')
    done, _ = manage.link(keystone.conf(), who, old_id, apply=True)
    assert done
    token = token_body(_login(keystone, pki, user, ['/dteam']))
    assert token['user']['id'] == old_id
    shown = manage.show(keystone.conf(), who)
    assert shown['user']['id'] == old_id
    assert shown['unique_id'] == provisioning.person_key(who)
    assert len(shown['memberships']) == 1


def test_documented_methods_keep_keystones_defaults(keystone, pki):
    """The documented [auth] methods (etc/ snippet: Keystone 30's list;
    what this Keystone runs with: its release's list) extend Keystone's
    default list; application credentials work for a grid user."""
    from keystone.conf import constants

    snippet = (pathlib.Path(__file__).resolve().parents[2] / 'etc'
               / 'keystone.conf.voms-auth').read_text()
    line = next(x for x in snippet.splitlines()
                if x.startswith('methods ='))
    documented = [m.strip() for m in line.split('=', 1)[1].split(',')]
    # this suite's Keystone also serves the federation URLs (openid)
    running = list(constants._DEFAULT_AUTH_METHODS) + ['voms', 'oidc',
                                                       'openid']
    assert set(running) - {'ec2credential'} <= set(documented)
    assert keystone.conf().auth.methods == running
    token = _Token(_login(keystone, pki, _user(pki, 'App Cred'),
                          ['/dteam']))
    credential = _app_credential(keystone, token)
    assert _app_credential_login(keystone, credential).status_code == 201


# -- a database write failing mid-login --------------------------------------
@contextlib.contextmanager
def _failing_statement(fragment, times=1, error=None):
    """The next ``times`` SQL statements containing ``fragment`` fail in
    the real database engine Keystone uses (fault injection: the one
    thing in this suite that is not a real outcome of the database), with
    ``error`` (default: the database's OperationalError)."""
    import sqlalchemy
    from keystone.common.sql import core as sql_core

    engine = sql_core._get_main_context_manager().writer.get_engine()
    left = [times]

    def fail(conn, cursor, statement, parameters, context, executemany):
        if fragment in statement and left[0] > 0:
            left[0] -= 1
            raise error or sqlalchemy.exc.OperationalError(
                statement, parameters, Exception('injected failure'))

    sqlalchemy.event.listen(engine, 'before_cursor_execute', fail)
    try:
        yield left
    finally:
        sqlalchemy.event.remove(engine, 'before_cursor_execute', fail)


def test_failed_membership_write_is_repaired_by_the_next_login(
        keystone, pki, assignments):
    user = _user(pki, 'Fault Membership')
    proxy = pki.make_proxy(user, fqans=['/dteam', '/dteam/ibergrid'])
    with _failing_statement('INSERT INTO expiring_user_group_membership') \
            as left:
        response = keystone.voms_login(proxy)
    assert left == [0]
    # nothing half-done: a 503 that says when to try again, not a 500
    assert response.status_code == 503, response.get_data(as_text=True)
    assert int(response.headers['Retry-After']) > 0
    assert 'try again' in error_message(response)
    token = token_body(keystone.voms_login(proxy, project='dteam'))
    assert assignments(token['user']['id']) == {
        ('dteam', 'member'), ('dteam-ibergrid', 'member')}


def test_failed_group_grant_is_repaired_by_the_next_login(
        keystone, pki, assignments, set_mapping):
    """A group created but its role grant lost: the next login grants."""
    fresh = copy.deepcopy(MAPPING)
    fresh['rules'].append({'match': {'group': '/dteam/faulty'},
                           'grant': {'project': 'faulty-project',
                                     'create': True}})
    set_mapping(fresh)
    user = _user(pki, 'Fault Grant')
    proxy = pki.make_proxy(user, fqans=['/dteam/faulty'])
    with _failing_statement('INSERT INTO assignment') as left:
        response = keystone.voms_login(proxy)
    assert left == [0]
    assert response.status_code == 503, response.get_data(as_text=True)
    token = token_body(keystone.voms_login(proxy, project='faulty-project'))
    assert role_names(token) == MEMBER_ROLES


def _locked_error():
    import sqlalchemy

    return sqlalchemy.exc.OperationalError(
        'SELECT', {}, Exception('database is locked'))


def test_database_locked_in_keystones_own_code_is_503_not_500(keystone):
    # SQLite under several processes: a lock met by Keystone's own reads
    # (here: finding the password user) is a JSON 503 with Retry-After.
    with _failing_statement('local_user', error=_locked_error()) \
            as left:
        response = keystone.password_login()
    assert left == [0]
    assert response.status_code == 503, response.get_data(as_text=True)
    assert int(response.headers['Retry-After']) > 0
    assert 'try again' in error_message(response)
    assert keystone.password_login().status_code == 201


def test_other_database_errors_in_keystones_code_stay_keystones_500(
        keystone):
    import sqlalchemy

    broken = sqlalchemy.exc.OperationalError(
        'SELECT', {}, Exception('no such column: local_user.bogus'))
    with _failing_statement('local_user', error=broken) as left:
        response = keystone.password_login()
    assert left == [0]
    assert response.status_code == 500
    assert 'Retry-After' not in response.headers
    assert response.get_json()['error']['code'] == 500


def test_on_sqlite_one_login_at_a_time_provisions(keystone, pki,
                                                  monkeypatch):
    # Another process holds the provisioning lock beside the SQLite file
    # (flock excludes every other open file, in this process too): a login
    # waits for it, and answers 503 + Retry-After if it stays taken.
    import fcntl

    from voms_auth.keystone import handlers

    path = handlers._sqlite_file()
    assert path and path.endswith('keystone.db')
    monkeypatch.setattr(handlers, 'SQLITE_LOCK_WAIT', 0.5)
    proxy = pki.make_proxy(_user(pki, 'Lock Waiter'), fqans=['/dteam'])
    with open(path + '.voms-auth.lock', 'a') as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        try:
            response = keystone.voms_login(proxy, project='dteam')
        finally:
            fcntl.flock(other, fcntl.LOCK_UN)
    assert response.status_code == 503, response.get_data(as_text=True)
    assert int(response.headers['Retry-After']) > 0
    token_body(keystone.voms_login(proxy, project='dteam'))


def test_keystone_commands_on_the_command_line(keystone, pki):
    """``voms-auth keystone ...`` reads keystone.conf like keystone-manage:
    exit 0 with the answer, exit 1 with a reason for a wrong request."""
    import json
    import subprocess
    import sys

    user = _user(pki, 'Command Line')
    token = token_body(_login(keystone, pki, user, ['/dteam']))
    base = [sys.executable, '-m', 'voms_auth', 'keystone']
    who = ['--config-file', str(keystone.config_file), '--kind', 'voms',
           '--issuer', user.ca_dn, '--subject', user.dn]
    shown = subprocess.run(base + ['show'] + who, capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)['user']['id'] == token['user']['id']
    wrong = subprocess.run(base + ['link'] + who + ['no-such-user-id'],
                           capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 1
    assert 'error: no user with id no-such-user-id' in wrong.stderr
    assert 'Traceback' not in wrong.stderr


def test_documented_methods_keep_keystone_federation_working(keystone):
    """Keystone's own ``mapped`` method (SAML, mod_auth_openidc sites)
    still logs people in beside voms-auth's identity provider."""
    group = keystone.api('POST', '/v3/groups', json={'group': {
        'name': 'federated-%d' % next(_names), 'domain_id': 'default'}})
    assert group.status_code == 201
    group_id = group.get_json()['group']['id']
    steps = [
        ('PUT', '/v3/OS-FEDERATION/identity_providers/othersso',
         {'identity_provider': {'enabled': True}}),
        ('PUT', '/v3/OS-FEDERATION/mappings/othersso-map',
         {'mapping': {'rules': [{
             'local': [{'user': {'name': '{0}'}},
                       {'group': {'id': group_id}}],
             'remote': [{'type': 'REMOTE_USER'}]}]}}),
        ('PUT', '/v3/OS-FEDERATION/identity_providers/othersso/protocols/'
                'mapped', {'protocol': {'mapping_id': 'othersso-map'}}),
    ]
    for method, path, body in steps:
        response = keystone.api(method, path, json=body)
        assert response.status_code == 201, response.get_data(as_text=True)
    response = keystone.client().post(
        '/v3/OS-FEDERATION/identity_providers/othersso/protocols/mapped/'
        'auth', environ_overrides={'REMOTE_USER': 'someone@othersso'})
    assert response.status_code == 201, response.get_data(as_text=True)
    token = response.get_json()['token']
    assert token['methods'] == ['mapped']
    assert token['user']['name'] == 'someone@othersso'


def test_disabled_project_scope_is_refused(keystone, pki, set_mapping):
    frozen = copy.deepcopy(MAPPING)
    frozen['rules'].append({'match': {'group': '/dteam/frozen'},
                            'grant': {'project': 'frozen-project'}})
    set_mapping(frozen)
    response = keystone.api('POST', '/v3/projects', json={'project': {
        'name': 'frozen-project', 'domain_id': 'default',
        'enabled': False}})
    assert response.status_code == 201
    user = _user(pki, 'Frozen')
    response = _login(keystone, pki, user, ['/dteam/frozen'],
                      project='frozen-project')
    assert response.status_code == 401
    assert 'disabled' in error_message(response)

