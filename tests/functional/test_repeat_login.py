"""A repeat login that writes nothing when nothing changed (issue 15), and
stays right (issue 9): whether a login is "in step" is read from the live
rows at every login, never remembered, so revocation, renewal before the
end, an admin deleting a managed group or its role, and (in
``tests/mariadb``) another node's change all still take effect.
"""

import contextlib
import copy
import datetime
import itertools

import sqlalchemy
from oslo_utils import timeutils

from tests.functional.conftest import (
    MAPPING,
    MEMBER_ROLES,
    role_names,
    token_body,
)
from voms_auth.keystone import provisioning

_names = itertools.count(1)
BOTH = ['/dteam', '/dteam/ibergrid']


def _user(pki, prefix):
    return pki.new_user('%s %d' % (prefix, next(_names)))


@contextlib.contextmanager
def _writes():
    """The SQL statements that wrote, and the commits, while in the block
    (every engine of the process)."""
    seen = {'writes': [], 'commits': 0}

    def statement(conn, cursor, text, *args):
        if text.split(None, 1)[0].upper() in ('INSERT', 'UPDATE', 'DELETE'):
            seen['writes'].append(text)

    def commit(conn):
        seen['commits'] += 1

    engine = sqlalchemy.engine.Engine
    sqlalchemy.event.listen(engine, 'before_cursor_execute', statement)
    sqlalchemy.event.listen(engine, 'commit', commit)
    try:
        yield seen
    finally:
        sqlalchemy.event.remove(engine, 'before_cursor_execute', statement)
        sqlalchemy.event.remove(engine, 'commit', commit)


@contextlib.contextmanager
def _clock_at(moment):
    """Keystone's clock (oslo.utils timeutils) set to ``moment``."""
    timeutils.set_time_override(moment)
    try:
        yield
    finally:
        timeutils.clear_time_override()


def _memberships(keystone, user_id):
    """``{group id: expires_at}`` of the user's voms-auth memberships."""
    opts = keystone.conf().voms_auth
    provisioner = provisioning.Provisioner(
        opts.user_domain, opts.identity_provider, opts.authorization_ttl)
    with keystone.app.app_context():
        return {m['group']: m['expires_at']
                for m in provisioner.memberships(user_id)}


def _group_of(keystone, user_id, project):
    """The voms-auth group giving ``user_id`` a role on ``project``."""
    project_id = keystone.get('/v3/projects', name=project).get_json()[
        'projects'][0]['id']
    for gid in _memberships(keystone, user_id):
        grants = keystone.get('/v3/role_assignments', **{
            'group.id': gid, 'scope.project.id': project_id}).get_json()
        if grants['role_assignments']:
            return gid, project_id, grants['role_assignments'][0][
                'role']['id']
    raise AssertionError('no voms-auth group of %s on %s' % (user_id,
                                                            project))


def test_repeat_login_that_changes_nothing_writes_nothing(keystone, pki):
    proxy = pki.make_proxy(_user(pki, 'Repeat'), fqans=BOTH)
    token_body(keystone.voms_login(proxy, project='dteam'))
    with _writes() as seen:
        token = token_body(keystone.voms_login(proxy, project='dteam'))
    assert role_names(token) == MEMBER_ROLES
    assert seen == {'writes': [], 'commits': 0}


def test_revocation_takes_effect_after_logins_in_step(keystone, pki,
                                                      assignments):
    user = _user(pki, 'Revoked')
    both = pki.make_proxy(user, fqans=BOTH)
    token_body(keystone.voms_login(both, project='dteam'))
    token = token_body(keystone.voms_login(both, project='dteam'))
    assert ('dteam-ibergrid', 'member') in assignments(token['user']['id'])
    one = pki.make_proxy(user, fqans=['/dteam'])
    with _writes() as seen:
        token_body(keystone.voms_login(one, project='dteam'))
    assert any('DELETE FROM expiring_user_group_membership' in w
               for w in seen['writes'])
    assert assignments(token['user']['id']) == {('dteam', 'member')}
    denied = keystone.voms_login(one, project='dteam-ibergrid')
    assert denied.status_code == 401


def test_memberships_are_renewed_before_they_lapse(keystone, pki):
    """A login confirms the memberships again once 1/24 of the TTL has
    passed; a login earlier does not write."""
    proxy = pki.make_proxy(_user(pki, 'Renewed'), fqans=BOTH)
    token = token_body(keystone.voms_login(proxy, project='dteam'))
    user_id = token['user']['id']
    before = _memberships(keystone, user_id)
    ttl = datetime.timedelta(
        minutes=keystone.conf().voms_auth.authorization_ttl)
    start = timeutils.utcnow()
    with _clock_at(start + ttl / 24 - datetime.timedelta(minutes=5)):
        with _writes() as seen:
            token_body(keystone.voms_login(proxy, project='dteam'))
    assert seen['writes'] == []
    assert _memberships(keystone, user_id) == before
    later = start + ttl / 24 + datetime.timedelta(minutes=5)
    with _clock_at(later):
        token_body(keystone.voms_login(proxy, project='dteam'))
    after = _memberships(keystone, user_id)
    assert set(after) == set(before)
    for gid, expires in after.items():
        assert expires > before[gid]
        assert expires >= (later + ttl).isoformat()[:16]


def test_group_deleted_by_an_admin_is_made_again_by_the_next_login(
        keystone, pki, assignments):
    """The managed groups follow the mapping: a deleted one (with the
    memberships Keystone removes with it) is made again at once, on this
    process as on any other."""
    proxy = pki.make_proxy(_user(pki, 'Group Gone'), fqans=BOTH)
    user_id = token_body(keystone.voms_login(proxy, project='dteam'))[
        'user']['id']
    gid, _, _ = _group_of(keystone, user_id, 'dteam-ibergrid')
    response = keystone.api('DELETE', '/v3/groups/%s' % gid)
    assert response.status_code == 204, response.get_data(as_text=True)
    assert ('dteam-ibergrid', 'member') not in assignments(user_id)
    token = token_body(keystone.voms_login(proxy, project='dteam-ibergrid'))
    assert role_names(token) == MEMBER_ROLES
    assert keystone.get('/v3/groups/%s' % gid).status_code == 200


def test_role_removed_from_a_managed_group_is_granted_again(
        keystone, pki, assignments):
    """The role of a voms-auth group is voms-auth's (the group exists for
    it); an admin takes access away through the mapping (deny rules), and
    a role removed from the group by hand comes back at the next login.
    Roles an admin grants to the person directly are never touched
    (test_admin_made_assignment_survives_logins)."""
    proxy = pki.make_proxy(_user(pki, 'Role Gone'), fqans=BOTH)
    user_id = token_body(keystone.voms_login(proxy, project='dteam'))[
        'user']['id']
    token_body(keystone.voms_login(proxy, project='dteam'))  # in step
    gid, project_id, role_id = _group_of(keystone, user_id,
                                         'dteam-ibergrid')
    response = keystone.api('DELETE', '/v3/projects/%s/groups/%s/roles/%s'
                            % (project_id, gid, role_id))
    assert response.status_code == 204, response.get_data(as_text=True)
    assert ('dteam-ibergrid', 'member') not in assignments(user_id)
    token = token_body(keystone.voms_login(proxy, project='dteam-ibergrid'))
    assert role_names(token) == MEMBER_ROLES


def test_first_login_creating_projects_commits_a_bounded_number_of_times(
        keystone, pki, set_mapping):
    """Projects, groups, grants and memberships of a first login are
    written in one transaction: creating 25 projects commits as often as
    creating 5 (the user's creation is the only other write; the very
    first login of a Keystone also creates the identity provider)."""
    mapping = copy.deepcopy(MAPPING)
    for count in (5, 25):
        mapping['rules'] += [
            {'match': {'group': '/dteam/make%dx%d' % (count, i)},
             'grant': {'project': 'made-%d-%d' % (count, i),
                       'create': True}} for i in range(count)]
    set_mapping(mapping)
    # The identity provider and its protocols exist after any login.
    token_body(keystone.voms_login(pki.make_proxy(
        _user(pki, 'Creator'), fqans=['/dteam']), project='dteam'))
    commits = {}
    for count in (5, 25):
        proxy = pki.make_proxy(_user(pki, 'Creator'), fqans=[
            '/dteam/make%dx%d' % (count, i) for i in range(count)])
        with _writes() as seen:
            token = token_body(keystone.voms_login(
                proxy, project='made-%d-0' % count))
        assert role_names(token) == MEMBER_ROLES
        commits[count] = seen['commits']
    assert commits[25] == commits[5] <= 3, commits
