"""IGTF namespace checking in a real Keystone: a CA's ``<hash>.namespaces``
written into the running trust directory is picked up without restart, a
user outside it gets 401 with the reason, a user inside logs in."""

from tests.functional.conftest import error_message, token_body
from tests.support.pki import igtf_namespaces


def test_a_user_outside_the_cas_namespace_is_refused(keystone, pki):
    ca = pki.add_ca('Namespace Sub CA', parent=pki.root_ca)
    inside = pki.new_user('Inside Ines', ca=ca)
    outside = pki.new_user('Outside Otto', ca=ca, org='elsewhere')
    path = pki.ca_path / (ca.hash + '.namespaces')
    path.write_text(igtf_namespaces(
        ca, [('SELF', 'PERMIT', '/DC=org/DC=example/OU=People/.*')]))

    response = keystone.voms_login(
        pki.make_proxy(outside, fqans=['/dteam']), project='dteam')
    assert response.status_code == 401
    message = error_message(response)
    assert ('the user certificate %s is outside the namespace of its CA %s'
            % (outside.dn, ca.dn)) in message
    assert str(pki.ca_path) not in message
    # the admin's log names the file and the rule
    log = (keystone.directory / 'keystone.log').read_text()
    assert '%s permits only line 10: TO Issuer SELF PERMIT Subject ' \
           '"/DC=org/DC=example/OU=People/.*"' % path in log

    token = token_body(keystone.voms_login(
        pki.make_proxy(inside, fqans=['/dteam']), project='dteam'))
    assert token['project']['name'] == 'dteam'
