"""The ``oidc`` method through Apache, with tokens from a real OpenID
Provider."""

import requests

from tests.e2e.conftest import (
    AUDIENCE,
    ENT,
    MANAGER_ROLES,
    error_message,
    login_body,
    role_names,
    token_body,
)

OPERATOR = ENT + 'dteam:ibergrid:role=vm_operator#aai.egi.eu'


def _post(apache, body, headers=None):
    return requests.post(apache.auth_url + '/auth/tokens', json=body,
                         headers=headers or {}, verify=str(apache.ca_file),
                         timeout=60)


def test_access_token_in_the_body_gets_a_scoped_token(apache,
                                                      oidc_provider):
    access = oidc_provider.jwt_token('body@op', AUDIENCE,
                                     entitlements=[OPERATOR])
    token = token_body(_post(apache, login_body(
        'oidc', {'access_token': access}, 'dteam-ibergrid')))
    assert token['methods'] == ['oidc']
    assert token['project']['name'] == 'dteam-ibergrid'
    assert role_names(token) == MANAGER_ROLES
    assert token['user']['name'] == 'body@op (%s)' % oidc_provider.issuer


def test_bearer_header_passes_through_apache(apache, oidc_provider):
    # Apache hides Authorization from WSGI applications unless
    # WSGIPassAuthorization is on.
    access = oidc_provider.jwt_token('bearer@op', AUDIENCE,
                                     entitlements=[OPERATOR])
    response = _post(apache, login_body('oidc', {}, 'dteam-ibergrid'),
                     headers={'Authorization': 'Bearer %s' % access})
    assert token_body(response)['user']['name'].startswith('bearer@op (')


def test_token_for_another_audience_is_401_with_reason(apache,
                                                       oidc_provider):
    access = oidc_provider.jwt_token('aud@op', 'https://elsewhere.example',
                                     entitlements=[OPERATOR])
    response = _post(apache, login_body('oidc', {'access_token': access},
                                        'dteam-ibergrid'))
    assert response.status_code == 401
    assert 'audience' in error_message(response)
    assert access not in response.text


def test_token_of_another_issuer_is_401(apache, oidc_provider):
    from tests.support.oidc_provider import OpenIDProvider

    with OpenIDProvider() as stranger:
        access = stranger.jwt_token('stranger@op', AUDIENCE,
                                    entitlements=[OPERATOR])
    response = _post(apache, login_body('oidc', {'access_token': access},
                                        'dteam-ibergrid'))
    assert response.status_code == 401
    assert error_message(response)


def test_tokens_never_reach_the_logs(apache, oidc_provider):
    accepted = oidc_provider.jwt_token('logs@op', AUDIENCE,
                                       entitlements=[OPERATOR])
    refused = oidc_provider.jwt_token('logs@op', 'https://elsewhere.example',
                                      entitlements=[OPERATOR])
    assert _post(apache, login_body('oidc', {'access_token': accepted},
                                    'dteam-ibergrid')).status_code == 201
    assert _post(apache, login_body('oidc', {}, 'dteam-ibergrid'),
                 headers={'Authorization': 'Bearer %s' % refused}
                 ).status_code == 401
    logs = ''.join(path.read_text(errors='replace') for path in (
        apache.error_log, apache.directory / 'logs' / 'access.log',
        apache.keystone.directory / 'keystone.log'))
    assert 'logs@op' in logs  # the logins were logged...
    for token in (accepted, refused):
        # ...but neither token, nor its signature part.
        assert token not in logs
        assert token.rsplit('.', 1)[1] not in logs
