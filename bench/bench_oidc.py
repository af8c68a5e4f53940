"""OIDC access-token validation speed, against PyJWT's bare ``decode``.

A real OpenID Provider (``tests/support/oidc_provider.py``) issues one JWT
access token with entitlements and WLCG groups. With the issuer's keys
warm, it prints microseconds per :meth:`TokenValidator.validate` (signature,
algorithm allow-list, iss/aud/exp/nbf/iat, memberships from the claims,
the ``Identity``) and per PyJWT ``jwt.decode`` of the same token with the
same key (signature + iss/aud/exp), measured in the same run, and their
ratio. Goal: at most 1.5x PyJWT. Also shown: a cold entitlement parse
(memo cleared) and an opaque token answered from the cache.
"""

import pathlib
import sys
import timeit

import jwt

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tests.support.oidc_provider import OpenIDProvider  # noqa: E402
from voms_auth.oidc import (  # noqa: E402
    IssuerConfig,
    TokenValidator,
    entitlements,
)

AUD = 'https://keystone.example.org'
ENTITLEMENTS = [
    'urn:mace:egi.eu:group:vo.example.org:sub:role=member#aai.egi.eu',
    'urn:mace:egi.eu:group:dteam:ibergrid:role=vm_operator#aai.egi.eu',
    'urn:mace:egi.eu:group:dteam:role=member#aai.egi.eu',
    'urn:mace:egi.eu:res:rcauth#aai.egi.eu',
]
GROUPS = ['/cms', '/cms/uscms']


def _per_call_us(func, number):
    """Best of 5 runs, microseconds per call."""
    best = min(timeit.repeat(func, number=number, repeat=5))
    return best / number * 1e6


def _compare(op, alg, number):
    token = op.jwt_token('alice@egi.eu', AUD, entitlements=ENTITLEMENTS,
                         wlcg_groups=GROUPS, alg=alg,
                         claims={'preferred_username': 'alice'})
    # no result cache: every call verifies the signature and the claims
    validator = TokenValidator([IssuerConfig(op.issuer, audience=AUD)],
                               cache_size=0)
    ident = validator.validate(token)          # warms the keys
    assert len(ident.memberships) == 5, ident.memberships
    kid = jwt.get_unverified_header(token)['kid']
    jwk = next(k for k in op.jwks()['keys'] if k['kid'] == kid)
    public_key = jwt.PyJWK(jwk, algorithm=alg).key

    def bare():
        return jwt.decode(token, key=public_key, algorithms=[alg],
                          audience=AUD, issuer=op.issuer)

    def ours_once():
        return validator.validate(token)

    bare()
    # alternate the two so load from elsewhere on the machine hits both
    runs = {ours_once: [], bare: []}
    for _ in range(7):
        for func, found in runs.items():
            found.append(timeit.timeit(func, number=number))
    ours, base = (min(runs[f]) / number * 1e6 for f in (ours_once, bare))
    print('%-6s validate %8.1f us   PyJWT decode %8.1f us   ratio %.2fx'
          % (alg, ours, base, ours / base), flush=True)
    return ours / base


def main():
    with OpenIDProvider() as op:
        print('JWT access token, warm keys, 3 group entitlements + 2 WLCG '
              'groups (goal: ratio <= 1.5x)')
        for alg in ('RS256', 'PS256', 'ES256', 'EdDSA'):
            _compare(op, alg, number=2000)

        def cold_parse():
            entitlements._parse_once.cache_clear()
            for text in ENTITLEMENTS:
                entitlements.parse_entitlement(text)

        print('entitlement parse, memo cleared: %.1f us for %d values'
              % (_per_call_us(cold_parse, 500), len(ENTITLEMENTS)))

        opaque = op.opaque_token('bob', token_claims={'wlcg.groups': GROUPS})
        validator = TokenValidator([IssuerConfig(
            op.issuer, client_id=op.client_id, accept_any_audience=True,
            client_secret=op.client_secret)])
        validator.validate(opaque)
        cached = _per_call_us(lambda: validator.validate(opaque), 2000)
        uncached = TokenValidator([IssuerConfig(
            op.issuer, client_id=op.client_id, accept_any_audience=True,
            client_secret=op.client_secret)], cache_ttl=0,
            introspection_rate=0)
        asked = _per_call_us(lambda: uncached.validate(opaque), 50)
        print('opaque token: %.1f us from the cache, %.0f us asking the '
              'provider (local introspection round trip): %.0fx'
              % (cached, asked, asked / cached))

if __name__ == '__main__':
    main()
