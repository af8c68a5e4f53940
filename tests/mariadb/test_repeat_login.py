"""A repeat login that writes nothing when nothing changed (issue 15) must
still see what another Keystone process (or node) changed: whether a
login is "in step" is read from the shared database at every login,
never remembered by a process. Several server processes, one MariaDB.
"""

from tests.mariadb.conftest import (
    admin_token,
    effective_roles,
    token_body,
    unique,
)

FULL = ['/dteam', '/dteam/racers']
REDUCED = ['/dteam']


def _holds_racers(keystone, user_id):
    return any(project == 'dteam-racers'
               for project, _ in effective_roles(keystone, user_id))


def test_membership_removed_on_another_process_is_given_back(
        keystone, cluster, pki):
    """Process 0 has seen the person in step; process 1 removes a
    membership (a login without the group); the next login on process 0
    with the group must give it back, not skip as 'unchanged'."""
    person = pki.new_user(unique('Two Processes'))
    full = pki.make_proxy(person, fqans=FULL)
    reduced = pki.make_proxy(person, fqans=REDUCED)
    user_id = token_body(cluster.voms_login(full, project='dteam',
                                            node=0))['user']['id']
    token_body(cluster.voms_login(full, project='dteam', node=0))
    assert _holds_racers(keystone, user_id)

    token_body(cluster.voms_login(reduced, project='dteam', node=1))
    assert not _holds_racers(keystone, user_id)

    token = token_body(cluster.voms_login(full, project='dteam-racers',
                                          node=0))
    assert token['user']['id'] == user_id
    assert _holds_racers(keystone, user_id)

    # And the other way round: process 1 saw it in step, process 0
    # removes it, process 1 must not keep it.
    token_body(cluster.voms_login(full, project='dteam', node=1))
    token_body(cluster.voms_login(reduced, project='dteam', node=0))
    assert not _holds_racers(keystone, user_id)
    refused = cluster.voms_login(reduced, project='dteam-racers', node=1)
    assert refused.status_code == 401, refused.text


def test_group_deleted_through_another_process_is_made_again(
        keystone, cluster, pki):
    """A managed group deleted by an admin through process 1 is made
    again by the next login on process 0, which made it first."""
    person = pki.new_user(unique('Group Deleted'))
    full = pki.make_proxy(person, fqans=FULL)
    user_id = token_body(cluster.voms_login(full, project='dteam',
                                            node=0))['user']['id']
    token = admin_token(keystone)
    groups = cluster.request('GET', '/v3/users/%s/groups' % user_id,
                             node=1, token=token).json()['groups']
    racers = [g['id'] for g in groups
              if 'dteam-racers' in g.get('description', '')]
    assert len(racers) >= 1, groups
    for gid in racers:
        response = cluster.request('DELETE', '/v3/groups/%s' % gid, node=1,
                                   token=token)
        assert response.status_code == 204, response.text
    assert not _holds_racers(keystone, user_id)

    token_body(cluster.voms_login(full, project='dteam-racers', node=0))
    assert _holds_racers(keystone, user_id)
