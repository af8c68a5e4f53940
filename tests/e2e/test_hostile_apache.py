"""Hostile certificates through the real front end (issue 10).

A user can present, with nothing but their own grid certificate, a proxy
whose certificate ``cryptography`` cannot read in full (a duplicated
extension, a bad version, an X.400 address, a CN as a BIT STRING).
Through Apache + mod_gridsite + mod_wsgi each is either refused in the TLS
handshake or answered with a JSON 401 and a reason -- never an HTML 500
-- and a password login made while presenting one is a password login.
"""

import pytest
import requests

from tests.e2e.conftest import login_body
from tests.support import keystone as local_keystone
from tests.support import pki as grid_pki

#: What OpenSSL (mod_ssl + mod_gridsite) does with each oddity: these reach
#: Keystone; the others end in the TLS handshake (observed on Debian 12).
REACH_KEYSTONE = {'duplicate-extension', 'bad-version', 'x400-crl-dp'}


def _odd(pki, user, oddity, tmp_path):
    proxy = pki.make_proxy(user, fqans=['/dteam'])
    return grid_pki.odd_proxy(user, proxy, oddity,
                              tmp_path / ('odd-%s.pem' % oddity))


def _post(apache, body, proxy):
    try:
        return requests.post(apache.auth_url + '/auth/tokens', json=body,
                             cert=str(proxy), verify=str(apache.ca_file),
                             timeout=60)
    except requests.exceptions.SSLError:
        return None  # refused in the handshake: also no 500


@pytest.mark.parametrize('oddity', grid_pki.ODDITIES)
def test_odd_proxy_is_a_json_401_with_a_reason(apache, pki, user, oddity,
                                               tmp_path):
    response = _post(apache, login_body('voms', {}, 'dteam'),
                     _odd(pki, user, oddity, tmp_path))
    if oddity not in REACH_KEYSTONE:
        assert response is None, 'expected a TLS refusal, got HTTP %d' % (
            response.status_code)
        return
    assert response is not None, 'refused in the TLS handshake'
    assert response.status_code == 401, response.text
    assert response.headers['Content-Type'].startswith('application/json')
    message = response.json()['error']['message']
    assert message and 'internal error' not in message


@pytest.mark.parametrize('oddity', sorted(REACH_KEYSTONE))
def test_password_login_presenting_an_odd_proxy_works(apache, pki, user,
                                                      oddity, tmp_path):
    body = {'auth': {'identity': {'methods': ['password'], 'password': {
        'user': {'name': 'admin', 'domain': {'id': 'default'},
                 'password': local_keystone.ADMIN_PASSWORD}}}}}
    response = _post(apache, body, _odd(pki, user, oddity, tmp_path))
    assert response is not None and response.status_code == 201, (
        response and response.text)
