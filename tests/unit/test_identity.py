"""The one grammar of VO, group and role names (voms_auth.identity), as
every parser and Membership itself apply it. Each refusal is matched by
its reason, so removing one check fails its case."""

import pytest

from voms_auth import identity
from voms_auth.identity import Membership
from voms_auth.oidc import entitlements
from voms_auth.voms import fqan

VO, GROUP, ROLE = (identity.check_vo_name, identity.check_group_path,
                   identity.check_role_name)


@pytest.mark.parametrize('check, text, reason', [
    (VO, '', 'is empty'),
    (GROUP, '/dteam//sub', 'is empty'),
    (GROUP, '/dteam/', 'is empty'),
    (ROLE, '', 'is empty'),
    (GROUP, '/dteam/../atlas', 'is ".."'),
    (GROUP, '/dteam/./sub', 'is "."'),
    (VO, '..', 'is ".."'),
    (ROLE, '.', 'is "."'),
    (VO, 'd\x01team', 'control character'),
    (GROUP, '/dteam/a\x7fb', 'control character'),
    (ROLE, 'VM\x00Manager', 'control character'),
    (VO, 'vo x', 'white space'),
    (GROUP, '/dteam/a b', 'white space'),
    (ROLE, 'VM\u00a0Manager', 'white space'),
    (VO, 'dteam/sub', 'contains "/"'),
    (ROLE, 'a/b', 'contains "/"'),
    (GROUP, '/dteam/a=b', 'contains "="'),
    (VO, 'Role=x', 'contains "="'),
    (GROUP, '/dteam/a\\b', 'contains "\\\\"'),
    (GROUP, 'dteam/sub', 'does not start with "/"'),
    (VO, None, 'not a string'),
])
def test_refusals(check, text, reason):
    with pytest.raises(ValueError, match=reason):
        check(text)


@pytest.mark.parametrize('check, text', [
    (VO, 'vo.example.org'), (VO, 'VO_ü-1'), (GROUP, '/dteam'),
    (GROUP, '/dteam/NGI_IBERGRID/sub.1'), (ROLE, 'VM-Manager'),
])
def test_accepted(check, text):
    assert check(text) == text


def test_predicates_say_what_the_checks_decide():
    assert identity.is_vo_name('dteam') and not identity.is_vo_name('a b')
    assert identity.is_group_path('/a/b')
    assert not identity.is_group_path('/a/..')
    assert identity.is_role_name('x') and not identity.is_role_name('a=b')


@pytest.mark.parametrize('vo, group, role, reason', [
    ('a b', '/a b', None, 'VO name'),
    ('dteam', '/dteam/..', None, 'group path'),
    ('dteam', '/dteam/a\nb', None, 'group path'),
    ('dteam', '/dteam', 'VM Manager', 'role name'),
    ('dteam', '/atlas', None, 'not inside VO'),
])
def test_membership_is_checked_on_construction(vo, group, role, reason):
    with pytest.raises(ValueError, match=reason):
        Membership(vo, group, role)


@pytest.mark.parametrize('text', [
    '/dteam/../atlas', '/dteam/./x', '/dteam/a b', '/dteam/a\x01',
    '/dteam/Role=VM Manager', '/dte\\am',
])
def test_fqan_parser_applies_the_grammar(text):
    with pytest.raises(fqan.InvalidFQAN):
        fqan.parse_fqan(text)


@pytest.mark.parametrize('text', ['/dteam/a b', '/dteam/Role=a=b',
                                  '/dteam/a\\b'])
def test_group_claim_parsers_apply_the_grammar(text):
    with pytest.raises(entitlements.InvalidGroupName):
        entitlements.parse_wlcg_group(text)
