"""Entitlement, WLCG group and plain group parsing into memberships."""

import pytest

from voms_auth.identity import Membership
from voms_auth.oidc import entitlements

EGI = '#aai.egi.eu'


@pytest.mark.parametrize('text, vo, group, role', [
    # the example
    ('urn:mace:egi.eu:group:vo.example.org:sub:role=member' + EGI,
     'vo.example.org', '/vo.example.org/sub', 'member'),
    ('urn:mace:egi.eu:group:dteam' + EGI, 'dteam', '/dteam', None),
    ('urn:mace:egi.eu:group:dteam:role=vm_operator' + EGI,
     'dteam', '/dteam', 'vm_operator'),
    ('urn:mace:egi.eu:group:dteam:ibergrid:role=vm_operator' + EGI,
     'dteam', '/dteam/ibergrid', 'vm_operator'),
    ('urn:mace:egi.eu:group:dteam:a:b:c' + EGI, 'dteam', '/dteam/a/b/c',
     None),
    # G069: no authority, case-insensitive "urn", other namespaces
    ('urn:geant:h-df.de:group:aai-admin:role=member', 'aai-admin',
     '/aai-admin', 'member'),
    ('URN:GEANT:h-df.de:group:aai-admin', 'aai-admin', '/aai-admin', None),
    ('urn:geant:eduteams.org:service:eduteams:group:MyVO:sub#eduteams.org',
     'MyVO', '/MyVO/sub', None),
    # percent-encoded elements are decoded
    ('urn:mace:egi.eu:group:vo%2Dx:role=member' + EGI, 'vo-x', '/vo-x',
     'member'),
])
def test_group_entitlements(text, vo, group, role):
    membership = entitlements.parse_entitlement(text)
    assert membership == Membership(vo=vo, group=group, role=role)
    assert membership.source == text


@pytest.mark.parametrize('text', [
    'urn:mace:egi.eu:res:rcauth' + EGI,       # a resource, not a group
    'urn:mace:egi.eu:aai.egi.eu:member@vo.example.org',
    'urn:mace:egi.eu:group:' + EGI,           # empty group
    'urn:mace:egi.eu:group:dteam:a%2Fb' + EGI,  # "/" smuggled in
    'urn:mace:egi.eu:group:%2E%2E' + EGI,     # ".."
    'urn:mace:egi.eu:group:dteam:role=%0A' + EGI,  # control character
    'urn:mace:egi.eu:group:d%00team' + EGI,
    'urn:mace:egi.eu:group:vo%20x' + EGI,     # white space
    'urn:mace:egi.eu:group:dteam:a%3Db' + EGI,  # "=" in a group element
    'http://example.org/group/dteam',
    'dteam',
    '/dteam',
    '',
    'urn:' + 'a:' * 600 + 'group:dteam',      # absurdly long
    None, 42, ['urn:mace:egi.eu:group:dteam'], {'a': 1},
])
def test_non_memberships_are_none(text):
    assert entitlements.parse_entitlement(text) is None


@pytest.mark.parametrize('text, vo, group, role', [
    ('/cms', 'cms', '/cms', None),
    ('/cms/uscms', 'cms', '/cms/uscms', None),
    ('/cms/uscms/Role=production', 'cms', '/cms/uscms', 'production'),
    ('/dteam/Role=NULL', 'dteam', '/dteam', None),
])
def test_wlcg_groups(text, vo, group, role):
    assert entitlements.parse_wlcg_group(text) == Membership(vo, group, role)


@pytest.mark.parametrize('text, reason', [
    ('cms', 'does not start with "/"'),
    ('/', 'empty or malformed'),
    ('//cms', 'empty or malformed'),
    ('/cms/', 'empty or malformed'),
    ('/cms/../atlas', 'empty or malformed'),
    ('/cms/a=b', 'empty or malformed'),
    ('/Role=x', 'empty or malformed'),
    ('/cms/\nx', 'empty or malformed'),
    ('/cms/Role=a\x00', 'malformed role'),
    (None, 'not a string'),
    (['/cms'], 'not a string'),
])
def test_wlcg_group_refusals(text, reason):
    with pytest.raises(entitlements.InvalidGroupName, match=reason):
        entitlements.parse_wlcg_group(text)


def test_plain_group_slash_optional():
    assert (entitlements.parse_plain_group('dteam/sub')
            == entitlements.parse_plain_group('/dteam/sub')
            == Membership('dteam', '/dteam/sub'))
    with pytest.raises(entitlements.InvalidGroupName):
        entitlements.parse_plain_group('dteam//sub')
