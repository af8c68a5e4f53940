"""A hung identity provider must not stall Keystone (issue 10).

Keystone behind Apache + mod_wsgi (2 processes x 4 threads) trusts one
issuer, whose provider accepts connections and never answers, or answers
one byte a second (each read returns: only a total deadline stops it).
While 50 anonymous logins with tokens naming it arrive, a password
login stays within 2x its idle latency (plus 0.25 s for this shared
machine's noise), and every one of the 50 gets a JSON 401 within the
deadline: the per-issuer cap (2 per process here, below the 4 threads) and
the back-off after a failed discovery keep the workers free.
"""

import concurrent.futures
import json
import statistics
import time

import pytest
import requests

from tests.e2e.conftest import login_body
from tests.support import apache as apache_harness
from tests.support import keystone as local_keystone
from tests.support.oidc_provider import HostileProvider

DEADLINE = 3.0
ANONYMOUS = 50


@pytest.fixture(scope='module', params=['hang', 'trickle'])
def hung(request):
    """A provider that never answers, or answers one byte a second."""
    provider = HostileProvider(mode=request.param, trickle_interval=1.0)
    try:
        yield provider.start()
    finally:
        provider.close()


@pytest.fixture(scope='module')
def apache_hung(tmp_path_factory, pki, hung):
    directory = tmp_path_factory.mktemp('e2e-hung')
    mapping = directory / 'mapping.json'
    mapping.write_text(json.dumps({'version': 1, 'rules': [{
        'match': {'vo': 'dteam'},
        'grant': {'project': 'dteam', 'roles': ['member']}}]}))
    keystone = local_keystone.LocalKeystone(
        directory / 'keystone',
        voms_auth={'ca_path': pki.ca_path, 'vomsdir': pki.vomsdir,
                   'mapping_file': mapping,
                   'oidc_http_timeout': DEADLINE,
                   'oidc_max_concurrent_calls': 2},
        issuers={'hung': {'issuer': hung.issuer,
                          'audience': 'https://keystone.test'}},
    ).setup()
    server = apache_harness.ApacheKeystone(
        keystone, directory / 'apache', ca_path=pki.ca_path,
        processes=2, threads=4)
    server.start()
    yield server
    server.close(remove=False)


def _password_login(apache):
    body = {'auth': {'identity': {'methods': ['password'], 'password': {
        'user': {'name': 'admin', 'domain': {'id': 'default'},
                 'password': local_keystone.ADMIN_PASSWORD}}}}}
    start = time.monotonic()
    response = requests.post(apache.auth_url + '/auth/tokens', json=body,
                             verify=str(apache.ca_file), timeout=60)
    assert response.status_code == 201, response.text
    return time.monotonic() - start


def _hung_login(apache, token):
    start = time.monotonic()
    response = requests.post(
        apache.auth_url + '/auth/tokens',
        json=login_body('oidc', {'access_token': token}),
        verify=str(apache.ca_file), timeout=120)
    return response, time.monotonic() - start


def test_hung_provider_does_not_stall_keystone(apache_hung, hung):
    for _ in range(3):
        _password_login(apache_hung)  # warm every process
    idle = statistics.median(_password_login(apache_hung) for _ in range(7))
    now = int(time.time())
    token = hung.sign({'iss': hung.issuer, 'sub': 'anonymous',
                       'aud': 'https://keystone.test', 'iat': now,
                       'exp': now + 600})
    with concurrent.futures.ThreadPoolExecutor(ANONYMOUS) as pool:
        futures = [pool.submit(_hung_login, apache_hung, token)
                   for _ in range(ANONYMOUS)]
        time.sleep(0.5)  # they are in flight
        busy = statistics.median(_password_login(apache_hung)
                                 for _ in range(7))
        results = [f.result() for f in futures]
    assert busy <= 2 * idle + 0.25, (busy, idle)
    statuses = [r.status_code for r, _ in results]
    assert statuses == [401] * ANONYMOUS, statuses
    assert all(r.headers['Content-Type'].startswith('application/json')
               for r, _ in results)
    slowest = max(elapsed for _, elapsed in results)
    # Each answer within the deadline; queued behind at most one round of
    # deadline-bound calls in each worker.
    assert slowest <= 2 * DEADLINE + 2, slowest
