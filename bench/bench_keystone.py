"""Login latency through an in-process Keystone (SQLite, fernet).

voms and oidc logins -- first login of a new person (user creation,
assignments) and repeat login -- beside Keystone's own ``token`` re-scope
and ``password`` methods, in the same process on the same database.
Figures are medians; ratios are against the token re-scope. Goals (issue 5):
repeat login <= 1.2x token re-scope, first login <= 2x.
"""

import json
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import keystone as local_keystone  # noqa: E402
from tests.support import pki as grid_pki  # noqa: E402

AUDIENCE = 'https://keystone.bench.example'
ENTITLEMENT = 'urn:mace:egi.eu:group:dteam:role=member#aai.egi.eu'
MAPPING = {
    'version': 1,
    'defaults': {'domain': 'Default', 'roles': ['member']},
    'rules': [{'match': {'vo': 'dteam'},
               'grant': {'project': 'dteam', 'create': True}}],
}
REPEAT = 40
FIRST = 15


def _median_ms(fn, items):
    times = []
    for item in items:
        start = time.perf_counter()
        response = fn(item)
        times.append(time.perf_counter() - start)
        if response.status_code != 201:
            raise RuntimeError('login failed: %s'
                               % response.get_data(as_text=True))
    return statistics.median(times) * 1000.0


def _provider():
    try:
        from tests.support.oidc_provider import OpenIDProvider

        return OpenIDProvider().start()
    except Exception as exc:  # noqa: BLE001 - report, bench the rest
        print('OpenID Provider unavailable (%s): oidc figures skipped' % exc)
        return None


def main():
    with tempfile.TemporaryDirectory(prefix='voms-auth-bench-') as tmp:
        tmp = pathlib.Path(tmp)
        pki = grid_pki.GridPKI(tmp / 'grid')
        mapping = tmp / 'mapping.json'
        mapping.write_text(json.dumps(MAPPING))
        provider = _provider()
        issuers = {}
        if provider is not None:
            issuers = {'bench': {'issuer': provider.issuer,
                                 'audience': AUDIENCE}}
        try:
            keystone = local_keystone.LocalKeystone(
                tmp / 'keystone',
                voms_auth={'ca_path': pki.ca_path, 'vomsdir': pki.vomsdir,
                           'mapping_file': mapping},
                issuers=issuers).setup().start()
            _run(keystone, pki, provider)
        finally:
            if provider is not None:
                provider.close()


def _run(keystone, pki, provider):
    # Warm up every code path once (imports, first DB connections).
    warm = pki.make_proxy(pki.new_user('Warm Up'), fqans=['/dteam'])
    keystone.voms_login(warm, project='dteam')
    admin = keystone.password_login()
    unscoped = keystone.client().post('/v3/auth/tokens', json={
        'auth': {'identity': {'methods': ['password'], 'password': {
            'user': {'name': 'admin', 'domain': {'id': 'default'},
                     'password': local_keystone.ADMIN_PASSWORD}}}}})
    token_id = unscoped.headers['X-Subject-Token']
    rescope_body = {'auth': {'identity': {'methods': ['token'], 'token': {
        'id': token_id}}, 'scope': keystone.project_scope('admin')}}
    assert admin.status_code == 201

    results = {}
    results['token re-scope'] = _median_ms(
        lambda _: keystone.client().post('/v3/auth/tokens',
                                         json=rescope_body), range(REPEAT))
    results['password'] = _median_ms(
        lambda _: keystone.password_login(), range(REPEAT // 4))

    proxies = [pki.make_proxy(pki.new_user('Bench First %d' % i),
                              fqans=['/dteam']) for i in range(FIRST)]
    results['voms first login'] = _median_ms(
        lambda p: keystone.voms_login(p, project='dteam'), proxies)
    results['voms repeat login'] = _median_ms(
        lambda _: keystone.voms_login(proxies[0], project='dteam'),
        range(REPEAT))
    if provider is not None:
        tokens = [provider.jwt_token('bench-%d' % i, AUDIENCE,
                                     entitlements=[ENTITLEMENT])
                  for i in range(FIRST)]
        results['oidc first login'] = _median_ms(
            lambda t: keystone.oidc_login(t, project='dteam'), tokens)
        results['oidc repeat login'] = _median_ms(
            lambda _: keystone.oidc_login(tokens[0], project='dteam'),
            range(REPEAT))

    base = results['token re-scope']
    print('%-20s %10s %10s' % ('login', 'median ms', 'x re-scope'))
    for name, value in results.items():
        print('%-20s %10.1f %10.2f' % (name, value, value / base))
    for kind in ('voms', 'oidc'):
        if '%s repeat login' % kind in results:
            print('%s: repeat %.2fx (goal <= 1.2x), first %.2fx (goal <= 2x)'
                  % (kind, results['%s repeat login' % kind] / base,
                     results['%s first login' % kind] / base))


if __name__ == '__main__':
    main()
