"""Robot certificates and EGI per-user sub-proxies (PUSP): a listed
robot's sub-proxies are distinct people keyed by the whole PUSP DN; an
unlisted robot's collapse onto the robot; robots are shown as such by
``verify-proxy`` and ``mapping explain``.

Real proxies: the robot is a certificate of the session's CA, the PUSP and
its sub-proxies are RFC 3820 proxies signed with the real keys, the ACs are
voms-proxy-fake's (holder: the robot's certificate)."""

import json
import subprocess
import sys

import pytest

from tests.support.pki import GridPKI
from voms_auth.voms import TrustStore, Verifier, robots


class Portal:
    def __init__(self, root):
        pki = self.pki = GridPKI(root)
        self.robot = pki.new_user('Robot: science portal')
        self.other_robot = pki.new_user('Robot: unlisted portal')
        self.person = pki.new_user('Jane Person')
        self.robot_list = root / 'pusp-robots'
        self.robot_list.write_text(
            '# robots whose PUSPs are people\n\n'
            '"%s" "%s"\n' % (self.robot.dn, self.robot.ca_dn))
        self.listed = robots.PuspRobots.load(str(self.robot_list))
        store = TrustStore(pki.ca_path, pki.vomsdir)
        self.verifier = Verifier(store, cache_size=0,
                                 pusp_robots=self.listed)
        self.plain = Verifier(store, cache_size=0)

    def pusp(self, robot, user, *, sub_proxy=False, **ac):
        """A PUSP of ``robot`` for portal user ``user`` (CN=user:<user>)
        carrying a dteam AC of the robot, or a proxy of it carrying the
        AC (``sub_proxy``)."""
        acs = self.pki.make_proxy(robot, fqans=ac.get('fqans'))
        if not sub_proxy:
            return self.pki.delegate(robot, cn='user:%s' % user, ac_from=acs)
        pusp = self.pki.delegate(robot, cn='user:%s' % user)
        return self.pki.delegate(pusp, ac_from=acs)


@pytest.fixture(scope='module')
def portal(tmp_path_factory):
    return Portal(tmp_path_factory.mktemp('portal'))


def identity_of(verifier, path):
    return verifier.verify_pem(path.read_bytes()).identity()


def test_listed_robot_pusps_are_distinct_people(portal):
    jane = identity_of(portal.verifier, portal.pusp(portal.robot, 'jane'))
    joe = identity_of(portal.verifier, portal.pusp(portal.robot, 'joe'))
    assert jane.subject == portal.robot.dn + '/CN=user:jane'
    assert joe.subject == portal.robot.dn + '/CN=user:joe'
    assert (jane.kind, jane.issuer, jane.subject) != (
        joe.kind, joe.issuer, joe.subject)
    assert jane.issuer == portal.robot.ca_dn
    assert jane.attributes['robot'] is True
    assert jane.attributes['pusp_robot'] == portal.robot.dn
    assert jane.attributes['pusp_user'] == 'user:jane'
    assert jane.name == 'user:jane (Robot: science portal)'
    # the VO memberships are the robot's (its AC)
    assert [m.group for m in jane.memberships] == ['/dteam']


def test_the_same_portal_user_is_the_same_person_again(portal):
    first = identity_of(portal.verifier, portal.pusp(portal.robot, 'ann'))
    again = identity_of(portal.verifier,
                        portal.pusp(portal.robot, 'ann', sub_proxy=True))
    assert (first.issuer, first.subject) == (again.issuer, again.subject)


def test_a_pusp_below_further_proxies_is_still_keyed_by_the_pusp(portal):
    ident = identity_of(portal.verifier,
                        portal.pusp(portal.robot, 'kim', sub_proxy=True))
    assert ident.subject == portal.robot.dn + '/CN=user:kim'


def test_unlisted_robot_pusps_collapse_onto_the_robot(portal):
    a = identity_of(portal.verifier, portal.pusp(portal.other_robot, 'a'))
    b = identity_of(portal.verifier, portal.pusp(portal.other_robot, 'b'))
    assert a.subject == b.subject == portal.other_robot.dn
    assert a.attributes['robot'] is True
    assert 'pusp_user' not in a.attributes


def test_without_a_robot_list_nothing_is_split(portal):
    ident = identity_of(portal.plain, portal.pusp(portal.robot, 'jane'))
    assert ident.subject == portal.robot.dn
    assert ident.name == 'Robot: science portal'


def test_the_robot_list_is_per_ca(portal, tmp_path):
    listing = tmp_path / 'robots'
    listing.write_text('"%s" "/DC=org/DC=example/CN=Some Other CA"\n'
                       % portal.robot.dn)
    verifier = Verifier(TrustStore(portal.pki.ca_path, portal.pki.vomsdir),
                        cache_size=0,
                        pusp_robots=robots.PuspRobots.load(str(listing)))
    ident = identity_of(verifier, portal.pusp(portal.robot, 'jane'))
    assert ident.subject == portal.robot.dn


def test_a_person_is_no_robot_and_never_split(portal):
    proxy = portal.pki.delegate(portal.person, cn='user:someone',
                                ac_from=portal.pki.make_proxy(portal.person))
    ident = identity_of(portal.verifier, proxy)
    assert ident.subject == portal.person.dn
    assert ident.attributes['robot'] is False


@pytest.mark.parametrize('dn,robot', [
    ('/DC=org/DC=example/CN=Robot: portal', True),
    ('/DC=org/DC=example/CN=robot:portal', True),
    ('/DC=org/DC=terena/O=Nikhef/OU=Robot/CN=Robot - Marvin', True),
    ('/DC=org/DC=example/OU=Robot/CN=Jane Doe', False),
    ('/DC=org/DC=example/CN=Robotnik Jane', False),
    ('/DC=org/DC=example/CN=Jane Robot: no', False),
])
def test_robot_names(dn, robot):
    assert robots.is_robot(dn) is robot


@pytest.mark.parametrize('text,reason', [
    ('/DC=org/CN=Robot: x /DC=org/CN=CA\n', 'two slash-form DNs'),
    ('"/DC=org/CN=Robot: x"\n', 'two slash-form DNs'),
    ('"/DC=org/CN=Jane" "/DC=org/CN=CA"\n', 'is not a robot DN'),
    ('"DC=org,CN=Robot: x" "/DC=org/CN=CA"\n', 'two slash-form DNs'),
])
def test_a_malformed_robot_list_says_which_line(tmp_path, text, reason):
    path = tmp_path / 'robots'
    path.write_text('# fine\n' + text)
    with pytest.raises(robots.RobotListError) as info:
        robots.PuspRobots.load(str(path))
    assert '%s line 2' % path in str(info.value)
    assert reason in str(info.value)


def test_an_unreadable_robot_list_is_a_configuration_error(tmp_path):
    with pytest.raises(robots.RobotListError, match='cannot read'):
        robots.PuspRobots.load(str(tmp_path / 'missing'))


def _cli(*args):
    return subprocess.run([sys.executable, '-m', 'voms_auth', *args],
                          capture_output=True, text=True, timeout=120,
                          check=False)


def test_verify_proxy_shows_robot_and_pusp(portal):
    proxy = portal.pusp(portal.robot, 'jane')
    common = ['verify-proxy', '--ca-path', str(portal.pki.ca_path),
              '--vomsdir', str(portal.pki.vomsdir)]
    listed = _cli(*common, '--pusp-robots', str(portal.robot_list),
                  str(proxy))
    assert listed.returncode == 0, listed.stderr
    out = json.loads(listed.stdout)
    assert out['robot'] is True
    assert out['user'] == portal.robot.dn
    assert out['subject'] == portal.robot.dn + '/CN=user:jane'
    assert out['pusp'] == {'subject': portal.robot.dn + '/CN=user:jane',
                           'robot': portal.robot.dn, 'user': 'user:jane'}
    plain = json.loads(_cli(*common, str(proxy)).stdout)
    assert plain['robot'] is True
    assert plain['pusp'] is None
    assert plain['subject'] == portal.robot.dn
    person = json.loads(_cli(*common, str(portal.pki.make_proxy(
        portal.person))).stdout)
    assert person['robot'] is False


def test_verify_proxy_refuses_a_bad_robot_list(portal, tmp_path):
    bad = tmp_path / 'robots'
    bad.write_text('nonsense\n')
    result = _cli('verify-proxy', '--ca-path', str(portal.pki.ca_path),
                  '--vomsdir', str(portal.pki.vomsdir), '--pusp-robots',
                  str(bad), str(portal.pusp(portal.robot, 'x')))
    assert result.returncode == 2
    assert 'line 1' in result.stderr and 'Traceback' not in result.stderr


def test_mapping_explain_shows_and_matches_robots(portal, tmp_path):
    mapping = tmp_path / 'mapping.json'
    mapping.write_text(json.dumps({'version': 1, 'defaults': {
        'roles': ['member']}, 'rules': [
        {'match': {'vo': 'dteam', 'robot': True},
         'grant': {'project': 'portal-users'}},
        {'match': {'vo': 'dteam', 'robot': False},
         'grant': {'project': 'people'}}]}))
    common = ['mapping', 'explain', str(mapping), '--ca-path',
              str(portal.pki.ca_path), '--vomsdir', str(portal.pki.vomsdir)]
    result = _cli(*common, '--pusp-robots', str(portal.robot_list),
                  '--proxy', str(portal.pusp(portal.robot, 'jane')))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out['identity']['robot'] is True
    assert out['identity']['subject'] == portal.robot.dn + '/CN=user:jane'
    assert out['identity']['pusp'] == {'robot': portal.robot.dn,
                                       'user': 'user:jane'}
    assert [g['project'] for g in out['grants']] == ['portal-users']
    assert out['matched'][0]['match'] == {'vo': 'dteam', 'robot': True}
    person = json.loads(_cli(*common, '--proxy', str(
        portal.pki.make_proxy(portal.person))).stdout)
    assert person['identity']['robot'] is False
    assert [g['project'] for g in person['grants']] == ['people']
    assert person['matched'][0]['match'] == {'vo': 'dteam', 'robot': False}
