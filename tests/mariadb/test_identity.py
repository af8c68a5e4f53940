"""One Keystone user per person on MariaDB's collation (issue 9, 1 and 2).

Keystone in process on the private MariaDB, whose name columns compare
case- and accent-insensitively. A person is (kind, issuer, subject): two
people whose names compare equal there are still two users, and a user
voms-auth did not create is never adopted.
"""

import hashlib
import uuid

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.mariadb.conftest import (
    effective_roles,
    token_body,
    unique,
)
from tests.support import pki as grid_pki

PEOPLE_PREFIX = '/DC=org/DC=example/OU=People/CN='


def person_with_cn(pki, cn):
    """A user of the issuing CA with this CN, even beyond X.509's 64
    characters (grid CAs never issue such names, but nothing stops a
    CA or a token issuer from using long subjects)."""
    if len(cn) <= 64:
        return pki.new_user(cn)
    key = pki._rsa_key()
    subject = x509.Name([
        x509.NameAttribute(NameOID.DOMAIN_COMPONENT, 'org'),
        x509.NameAttribute(NameOID.DOMAIN_COMPONENT, 'example'),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, 'People'),
        x509.NameAttribute(NameOID.COMMON_NAME, cn, _validate=False)])
    cert = pki._issue(pki.issuing_ca, subject, key)
    stem = 'long-%x' % cert.serial_number
    cert_path = pki.private / ('%s-cert.pem' % stem)
    key_path = pki.private / ('%s-key.pem' % stem)
    cert_path.write_bytes(grid_pki._pem(cert))
    grid_pki._write_key(key_path, key)
    return grid_pki.User(cn=cn, cert=cert, cert_path=cert_path,
                         key_path=key_path, ca=pki.issuing_ca)


def login(keystone, pki, person, project='dteam', fqans=None):
    """A project-scoped VOMS login of ``person``; the token."""
    proxy = pki.make_proxy(person, fqans=fqans)
    return token_body(keystone.voms_login(proxy, project=project))


def display_name(person):
    """``<subject> (<issuer>)``: the name voms-auth gave a VOMS user."""
    return '%s (%s)' % (person.dn, person.ca_dn)


def create_app_credential(keystone, token):
    user_id = token['user']['id']
    response = keystone.api(
        'POST', '/v3/users/%s/application_credentials' % user_id,
        token=token['_id'],
        json={'application_credential': {'name': unique('cred')}})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()['application_credential']


def scoped(keystone, pki, person):
    proxy = pki.make_proxy(person)
    response = keystone.voms_login(proxy, project='dteam')
    token = token_body(response)
    token['_id'] = response.headers['X-Subject-Token']
    return token


@pytest.mark.parametrize('first, second', [
    ('José García', 'Jose Garcia'),
    ('alice', 'ALICE'),
    ('Müller', 'MULLER'),
    # OIDC-style subjects (UUIDs) that differ only in case.
    ('f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
     'F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6'),
], ids=['accents', 'case', 'umlaut-and-case', 'uuid-case'])
def test_names_equal_under_collation_are_different_people(
        keystone, pki, first, second):
    one = person_with_cn(pki, first)
    other = person_with_cn(pki, second)
    assert one.dn != other.dn

    token_one = scoped(keystone, pki, one)
    credential = create_app_credential(keystone, token_one)
    token_other = scoped(keystone, pki, other)

    id_one, id_other = token_one['user']['id'], token_other['user']['id']
    assert id_one != id_other, (
        '%r and %r got the same Keystone user' % (one.dn, other.dn))

    # Neither sees the other's application credentials.
    listed = keystone.get('/v3/users/%s/application_credentials' % id_other,
                          token=token_other['_id'])
    assert listed.status_code == 200, listed.get_data(as_text=True)
    assert credential['id'] not in {
        c['id'] for c in listed.get_json()['application_credentials']}
    foreign = keystone.get('/v3/users/%s/application_credentials' % id_one,
                           token=token_other['_id'])
    assert foreign.status_code in (403, 404), foreign.get_data(as_text=True)

    # And a repeat login of each finds their own user again.
    assert scoped(keystone, pki, one)['user']['id'] == id_one
    assert scoped(keystone, pki, other)['user']['id'] == id_other


def test_precreated_user_with_the_display_name_is_not_adopted(
        keystone, pki, role_closure):
    person = pki.new_user(unique('Squat Victim'))
    squat = keystone.api('POST', '/v3/users', json={'user': {
        'name': display_name(person), 'domain_id': 'default',
        'password': 'squatter-secret'}})
    assert squat.status_code == 201, squat.get_data(as_text=True)
    squatter_id = squat.get_json()['user']['id']

    token = login(keystone, pki, person)
    assert token['user']['id'] != squatter_id
    assert {r['name'] for r in token['roles']} == role_closure({'member'})

    # The squatter got nothing, and its password opens no mapped project.
    assert effective_roles(keystone, squatter_id) == set()
    response = keystone.password_login(user=display_name(person),
                                       password='squatter-secret',
                                       project='dteam')
    assert response.status_code == 401, response.get_data(as_text=True)


def test_precreated_user_differing_in_case_is_not_adopted(keystone, pki):
    """The same squat, relying on the collation: the pre-created name
    differs from the display name in case and accents only."""
    person = pki.new_user(unique('Squät Victim'))
    name = display_name(person).upper().replace('Ä', 'A')
    squat = keystone.api('POST', '/v3/users', json={'user': {
        'name': name, 'domain_id': 'default', 'password': 'squatter-secret'}})
    assert squat.status_code == 201, squat.get_data(as_text=True)
    squatter_id = squat.get_json()['user']['id']

    token = login(keystone, pki, person)
    assert token['user']['id'] != squatter_id
    assert effective_roles(keystone, squatter_id) == set()


def _old_shortened_name(kind, issuer, subject, limit=255):
    """The shortened ``<subject> (<issuer>)`` of a long name as voms-auth
    derived it (start, hash of the triple, end), which another subject
    could spell out in full."""
    name = '%s (%s)' % (subject, issuer)
    digest = hashlib.sha256(('%s\0%s\0%s' % (kind, issuer, subject))
                            .encode()).hexdigest()[:16]
    keep = (limit - len(digest) - 4) // 2
    return '%s..%s..%s' % (name[:keep], digest, name[-keep:])


def test_long_names_sharing_a_prefix_are_different_people(keystone, pki):
    tag = uuid.uuid4().hex[:8]
    victim_cn = ('Long Name %s ' % tag).ljust(230, 'x')
    victim = person_with_cn(pki, victim_cn)
    # Same first 220 characters, another end.
    neighbour = person_with_cn(pki, victim_cn[:220] + 'y' * 10)
    assert len(display_name(victim)) > 255

    victim_token = login(keystone, pki, victim)
    neighbour_token = login(keystone, pki, neighbour)
    assert victim_token['user']['id'] != neighbour_token['user']['id']
    assert login(keystone, pki, victim)['user']['id'] == \
        victim_token['user']['id']


def test_subject_spelling_out_a_shortened_name_is_another_person(
        keystone, pki, role_closure):
    """A subject of ~230 characters equal to the shortened display name of
    another person's long name must not get that person's user."""
    tag = uuid.uuid4().hex[:8]
    victim = person_with_cn(pki, ('Victim %s ' % tag).ljust(240, 'v'))
    victim_token = login(keystone, pki, victim,
                         fqans=['/dteam', '/dteam/Role=VM-Manager'])

    issuer = victim.ca_dn
    short = _old_shortened_name('voms', issuer, victim.dn)
    suffix = ' (%s)' % issuer
    assert short.startswith(PEOPLE_PREFIX) and short.endswith(suffix)
    attacker_cn = short[len(PEOPLE_PREFIX):-len(suffix)]
    attacker = person_with_cn(pki, attacker_cn)
    assert display_name(attacker) == short
    assert 200 <= len(attacker.dn) <= 255

    attacker_token = login(keystone, pki, attacker)
    assert attacker_token['user']['id'] != victim_token['user']['id']
    # The attacker has what the mapping gives them, not the victim's role.
    assert {r['name'] for r in attacker_token['roles']} == \
        role_closure({'member'})
