"""Users, projects and assignments that voms-auth keeps in Keystone."""

import concurrent.futures
import copy
import itertools

from tests.functional.conftest import (
    MAPPING,
    MEMBER_ROLES,
    error_message,
    role_names,
    token_body,
)

_names = itertools.count(1)


def _user(pki):
    return pki.new_user('Provisioned User %d' % next(_names))


def _role_id(keystone, name):
    roles = keystone.get('/v3/roles', name=name).get_json()['roles']
    return roles[0]['id']


def _project_id(keystone, name):
    projects = keystone.get('/v3/projects', name=name).get_json()['projects']
    return projects[0]['id'] if projects else None


def test_same_person_gets_same_user_id(keystone, pki):
    user = _user(pki)
    ids = {token_body(keystone.voms_login(
        pki.make_proxy(user, fqans=['/dteam']), project='dteam'))['user']['id']
        for _ in range(2)}
    assert len(ids) == 1


def test_created_user_has_no_usable_password(keystone, pki):
    user = _user(pki)
    token = token_body(keystone.voms_login(
        pki.make_proxy(user, fqans=['/dteam']), project='dteam'))
    name = token['user']['name']
    for password in ('', 'None', 'null'):
        response = keystone.password_login(user=name, password=password,
                                           project=None)
        assert response.status_code == 401


def test_admin_made_assignment_survives_logins(keystone, pki, assignments):
    user = _user(pki)
    manager = pki.make_proxy(user, fqans=['/dteam/Role=VM-Manager'])
    user_id = token_body(keystone.voms_login(manager))['user']['id']
    # An admin gives the user 'reader' on project admin, by hand.
    admin_project = _project_id(keystone, 'admin')
    response = keystone.api(
        'PUT', '/v3/projects/%s/users/%s/roles/%s'
        % (admin_project, user_id, _role_id(keystone, 'reader')))
    assert response.status_code == 204
    # The mapping stops granting manager on dteam: that goes, the
    # admin's grant stays.
    plain = pki.make_proxy(user, fqans=['/dteam'])
    token_body(keystone.voms_login(plain))
    held = assignments(user_id)
    assert ('admin', 'reader') in held
    assert ('dteam', 'manager') not in held
    # The hand-made assignment still scopes a token.
    token = token_body(keystone.voms_login(plain, project='admin'))
    assert role_names(token) == ['reader']


def test_preexisting_assignment_is_not_taken_over(keystone, pki,
                                                   assignments):
    """An assignment that existed before the mapping granted it stays when
    the mapping stops granting it."""
    user = _user(pki)
    plain = pki.make_proxy(user, fqans=['/dteam'])
    user_id = token_body(keystone.voms_login(plain))['user']['id']
    response = keystone.api(
        'PUT', '/v3/projects/%s/users/%s/roles/%s'
        % (_project_id(keystone, 'dteam'), user_id,
           _role_id(keystone, 'manager')))
    assert response.status_code == 204
    manager = pki.make_proxy(user, fqans=['/dteam/Role=VM-Manager'])
    token_body(keystone.voms_login(manager))
    token_body(keystone.voms_login(plain))
    assert ('dteam', 'manager') in assignments(user_id)


def test_assignment_removed_when_vo_membership_is_gone(keystone, pki,
                                                       assignments):
    user = _user(pki)
    both = pki.make_proxy(user, fqans=['/dteam/ibergrid', '/dteam'])
    user_id = token_body(keystone.voms_login(both))['user']['id']
    assert ('dteam-ibergrid', 'member') in assignments(user_id)
    only_vo = pki.make_proxy(user, fqans=['/dteam'])
    token_body(keystone.voms_login(only_vo))
    assert assignments(user_id) == {('dteam', 'member')}
    response = keystone.voms_login(only_vo, project='dteam-ibergrid')
    assert response.status_code == 401


def test_first_login_scoped_to_a_project_the_mapping_creates(keystone,
                                                             pki):
    """Keystone resolves the scope before auth methods run: the project
    must exist by then (voms-auth provisions before Keystone looks)."""
    assert _project_id(keystone, 'fresh-project') is None
    user = _user(pki)
    proxy = pki.make_proxy(user, fqans=['/dteam/fresh'])
    token = token_body(keystone.voms_login(proxy, project='fresh-project'))
    assert token['project']['name'] == 'fresh-project'
    assert role_names(token) == MEMBER_ROLES


def test_project_not_created_unless_the_mapping_says_so(keystone, pki):
    user = _user(pki)
    proxy = pki.make_proxy(user, fqans=['/dteam/precreated'])
    token_body(keystone.voms_login(proxy))
    assert _project_id(keystone, 'precreated-only') is None
    response = keystone.api('POST', '/v3/projects', json={'project': {
        'name': 'precreated-only', 'domain_id': 'default'}})
    assert response.status_code == 201
    token = token_body(keystone.voms_login(proxy, project='precreated-only'))
    assert role_names(token) == MEMBER_ROLES


def test_missing_role_is_a_configuration_error_not_a_crash(
        keystone, pki, set_mapping):
    broken = copy.deepcopy(MAPPING)
    broken['rules'][0]['grant']['roles'] = ['no-such-role']
    set_mapping(broken)
    user = _user(pki)
    response = keystone.voms_login(pki.make_proxy(user, fqans=['/dteam']))
    assert response.status_code == 401
    assert 'configuration error' in error_message(response)


def test_parallel_first_logins_make_one_user(keystone, pki, assignments):
    user = _user(pki)
    proxy = pki.make_proxy(user, fqans=['/dteam/Role=VM-Manager',
                                        '/dteam/ibergrid'])

    def login(_):
        return keystone.voms_login(proxy, project='dteam')

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(login, range(20)))
    statuses = [r.status_code for r in responses]
    assert statuses == [201] * 20, [r.get_data(as_text=True)
                                    for r in responses if r.status_code != 201]
    user_ids = {r.get_json()['token']['user']['id'] for r in responses}
    assert len(user_ids) == 1
    users = keystone.get('/v3/users', name=responses[0].get_json()[
        'token']['user']['name']).get_json()['users']
    assert len(users) == 1
    assert assignments(user_ids.pop()) == {
        ('dteam', 'manager'), ('dteam', 'member'),
        ('dteam-ibergrid', 'member')}
