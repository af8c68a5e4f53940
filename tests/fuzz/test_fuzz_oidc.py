"""Fuzzing the JWT/JSON path: :meth:`TokenValidator.validate` with arbitrary
strings, mutations of real tokens issued by the real OpenID Provider, and
forged tokens with arbitrary JSON headers and payloads - unsigned, or
signed by a trusted (hostile) issuer so the claim checks after the
signature are reached. It must return an identity or raise one of its
documented errors (:class:`~voms_auth.errors.CredentialError`,
:class:`~voms_auth.errors.ConfigurationError`), nothing else.

Crashers found are kept as ``@example`` cases.
"""

import base64
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.oidc_provider import HostileProvider, OpenIDProvider
from voms_auth.errors import ConfigurationError, CredentialError
from voms_auth.oidc import IssuerConfig, TokenValidator

AUD = 'https://keystone.example.org'
_FIXTURES = dict(suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
    HealthCheck.data_too_large])


class _World:
    """One real provider, one hostile trusted issuer, a validator trusting
    both, and real tokens to mutate (started once for the module)."""

    def __init__(self):
        self.op = OpenIDProvider().start()
        self.hostile = HostileProvider().start()
        self.validator = TokenValidator(
            [IssuerConfig(self.op.issuer, audience=AUD,
                          client_id=self.op.client_id,
                          client_secret=self.op.client_secret),
             IssuerConfig(self.hostile.issuer, audience=AUD)],
            cache_size=0, http_timeout=2, introspection_rate=0)
        ent = ['urn:mace:egi.eu:group:dteam:role=member#aai.egi.eu']
        self.tokens = [
            self.op.jwt_token('alice', AUD, entitlements=ent,
                              wlcg_groups=['/cms'], alg=alg)
            for alg in ('RS256', 'PS256', 'ES256', 'EdDSA')]
        self.tokens.append(self.op.jwt_token('bob', AUD, kid=False))
        self.tokens.append(self.op.opaque_token('carol'))
        self.tokens.append(self.hostile.sign({
            'iss': self.hostile.issuer, 'sub': 'dave', 'aud': AUD,
            'exp': 4102444800}))
        self.validator.prefetch()

    def close(self):
        self.hostile.close()
        self.op.close()


@pytest.fixture(scope='module')
def world():
    instance = _World()
    yield instance
    instance.close()


def _validates_or_refuses(world, token):
    try:
        world.validator.validate(token)
    except (CredentialError, ConfigurationError) as exc:
        assert str(exc) and '\n' not in str(exc)


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


# -- arbitrary strings ------------------------------------------------------

B64_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'


@settings(**_FIXTURES)
@given(st.text(max_size=300)
       | st.text(alphabet=B64_CHARS, max_size=400))
@example('W10.W10.W10')
@example('bnVsbA.bnVsbA.')
@example('e30.' + _b64(b'[' * 5000 + b']' * 5000) + '.x')
def test_arbitrary_strings(world, text):
    _validates_or_refuses(world, text)


# -- mutated real tokens ----------------------------------------------------

mutations = st.lists(st.tuples(
    st.sampled_from(['flip', 'delete', 'insert', 'truncate', 'dup']),
    st.integers(0, 5000), st.sampled_from(B64_CHARS + '=+/ ')),
    min_size=1, max_size=4)


@settings(**_FIXTURES)
@given(st.integers(0, 6), mutations)
def test_mutated_real_tokens(world, which, changes):
    token = world.tokens[which]
    for kind, where, char in changes:
        where %= len(token) + 1
        if kind == 'flip' and where < len(token):
            token = token[:where] + char + token[where + 1:]
        elif kind == 'delete':
            token = token[:where] + token[where + 1:]
        elif kind == 'insert':
            token = token[:where] + char + token[where:]
        elif kind == 'truncate':
            token = token[:where]
        elif kind == 'dup':
            token = token + '.' + token[:where]
    _validates_or_refuses(world, token)


# -- forged headers and payloads with arbitrary JSON ------------------------

ODD_NUMBERS = [float('inf'), float('-inf'), float('nan'), 1e15, 1e20, 1e400,
               -1, 0, 10 ** 30, 2 ** 63, 4102444800, 1.5, True, False]
json_scalars = (st.none() | st.booleans() | st.integers()
                | st.floats() | st.sampled_from(ODD_NUMBERS)
                | st.text(max_size=20))
json_values = st.recursive(
    json_scalars,
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=6), children,
                                        max_size=4)),
    max_leaves=20)
CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'typ', 'at_hash',
          'preferred_username', 'name', 'email', 'eduperson_entitlement',
          'wlcg.groups', 'scope', 'client_id', 'jti']


def _payload(world, base):
    return st.fixed_dictionaries(
        {}, optional={c: json_values | st.sampled_from(ODD_NUMBERS)
                      for c in CLAIMS}).map(
        lambda extra: {**base(world), **extra})


def _hostile_base(world):
    return {'iss': world.hostile.issuer, 'sub': 'eve', 'aud': AUD,
            'exp': 4102444800}


@settings(**_FIXTURES)
@given(st.data())
@example(None)
def test_forged_signed_by_trusted_issuer(world, data):
    if data is None:  # regression: odd times signed by a trusted issuer
        for value in (b'Infinity', b'NaN', b'1e20', b'1e15', b'-Infinity'):
            for claim in (b'exp', b'iat', b'nbf'):
                raw = (b'{"iss":"%s","sub":"x","aud":"%s","exp":4102444800,'
                       b'"%s":%s}' % (world.hostile.issuer.encode(),
                                      AUD.encode(), claim, value))
                _validates_or_refuses(world, world.hostile.sign(raw))
        return
    payload = data.draw(_payload(world, _hostile_base))
    keep_iss = data.draw(st.booleans())
    if keep_iss:
        payload['iss'] = world.hostile.issuer
    raw = json.dumps(payload).encode()   # Infinity / NaN as Python writes
    _validates_or_refuses(world, world.hostile.sign(raw))


@settings(**_FIXTURES)
@given(st.dictionaries(st.sampled_from(['alg', 'kid', 'typ', 'crit', 'b64',
                                        'jku', 'x5u', 'zip']),
                       json_values | st.sampled_from(
                           ['RS256', 'ES256', 'none', 'HS256', 'EdDSA']),
                       max_size=5),
       json_values, st.binary(max_size=300), st.booleans())
@example({'alg': 'RS256', 'b64': False}, {}, b'', True)
@example({'alg': 'RS256', 'crit': ['b64'], 'b64': False}, {}, b'x', True)
def test_forged_header_and_payload(world, header, payload, signature,
                                   trusted_iss):
    if trusted_iss and isinstance(payload, dict):
        payload['iss'] = world.op.issuer
    token = '%s.%s.%s' % (_b64(json.dumps(header).encode()),
                          _b64(json.dumps(payload).encode()),
                          _b64(signature))
    _validates_or_refuses(world, token)
    # the same header, signed by the trusted hostile issuer
    if isinstance(payload, dict):
        payload['iss'] = world.hostile.issuer
    _validates_or_refuses(world, world.hostile.sign(
        json.dumps(payload).encode(), header=header))
