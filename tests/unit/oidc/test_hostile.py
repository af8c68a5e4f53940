"""Hostile tokens and failing or hostile providers (issue 10).

Tokens are signed by the real provider, or - where no correct provider
would sign them (``Infinity`` in ``exp``, deep nesting) - by
:class:`~tests.support.oidc_provider.HostileProvider`, a small real HTTP
server on 127.0.0.1 that also hangs or trickles its answers on demand.
"""

import base64
import concurrent.futures
import threading
import time

import pytest

from tests.support.oidc_provider import HostileProvider, OpenIDProvider
from voms_auth import cli
from voms_auth.errors import ConfigurationError, CredentialError
from voms_auth.oidc import (
    DiscoveryMismatch,
    IssuerConfig,
    MalformedToken,
    ProviderBusy,
    ProviderUnavailable,
    TokenError,
    TokenInactive,
    TokenValidator,
)

AUD = 'https://keystone.example.org'
NOW = int(time.time())


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def _claims(**extra):
    claims = {'iss': None, 'sub': 'alice', 'aud': AUD, 'exp': NOW + 600,
              'iat': NOW}
    claims.update(extra)
    return claims


def _validator(*providers, **kwargs):
    kwargs.setdefault('http_timeout', 2)
    return TokenValidator([IssuerConfig(p.issuer, audience=AUD,
                                        client_id='c', client_secret='s')
                           for p in providers], **kwargs)


@pytest.fixture
def hostile():
    with HostileProvider() as provider:
        yield provider


def _in_thread(func, limit):
    """``func()``'s result or exception, failing the test when it takes
    longer than ``limit`` seconds (the thread is then left behind)."""
    box = {}

    def run():
        try:
            box['result'] = func()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box['error'] = exc

    thread = threading.Thread(target=run, daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), 'still running after %s s' % limit
    return box, time.monotonic() - start


# -- 1. only documented errors ------------------------------------------

DEEP = [
    b'[' * 5000 + b']' * 5000,
    b'{"a":' * 1500 + b'1' + b'}' * 1500,
    b'{"alg":"RS256","x":' + b'[' * 40 + b']' * 40 + b'}',
]


@pytest.mark.parametrize('deep', DEEP)
@pytest.mark.parametrize('where', ['header', 'payload'])
def test_deeply_nested_json_refused(hostile, deep, where):
    header = b'{"alg":"RS256","kid":"hostile-1"}'
    payload = b'{"iss":"%s","sub":"a"}' % hostile.issuer.encode()
    header, payload = ((deep, payload) if where == 'header'
                       else (header, deep))
    token = '%s.%s.AAAA' % (_b64(header), _b64(payload))
    with pytest.raises(MalformedToken, match='nested more than 32'):
        _validator(hostile).validate(token)


def test_huge_token_refused_before_any_work(hostile):
    start = time.process_time()
    for token in ('a' * 10 ** 7, 'e30.' + 'A' * 10 ** 6 + '.x',
                  ' ' * 10 ** 6):
        with pytest.raises(MalformedToken, match='longer than 16384'):
            _validator(hostile).validate(token)
    assert time.process_time() - start < 1


BAD_TIMES = [b'Infinity', b'-Infinity', b'NaN', b'1e15', b'1e20', b'1e400',
             b'-1', b'100000000000000000000000000000', b'true', b'"soon"',
             b'[1]', b'null' + b' ' * 0]


@pytest.mark.parametrize('claim', ['exp', 'iat', 'nbf'])
@pytest.mark.parametrize('value', BAD_TIMES)
def test_odd_time_claims_signed_by_a_trusted_issuer(hostile, claim, value):
    payload = (b'{"iss":"%s","sub":"alice","aud":"%s","exp":%d,"%s":%s}'
               % (hostile.issuer.encode(), AUD.encode(), NOW + 600,
                  claim.encode(), value))
    if claim == 'exp':  # the one exp: the odd value
        payload = (b'{"iss":"%s","sub":"alice","aud":"%s","exp":%s}'
                   % (hostile.issuer.encode(), AUD.encode(), value))
    token = hostile.sign(payload)
    validator = _validator(hostile)
    if value == b'null' and claim != 'exp':
        assert validator.validate(token).subject == 'alice'
        return
    with pytest.raises(TokenError) as info:
        validator.validate(token)
    assert isinstance(info.value, (MalformedToken, ProviderUnavailable)) \
        or 'expired' in str(info.value) or 'not valid before' in str(
            info.value), info.value
    assert str(info.value)


@pytest.mark.parametrize('value', BAD_TIMES)
def test_odd_time_claims_in_an_introspection_answer(hostile, value):
    for claim in ('exp', 'iat', 'nbf'):
        hostile.introspection = (
            b'{"active":true,"sub":"alice","aud":"%s","%s":%s}'
            % (AUD.encode(), claim.encode(), value))
        validator = _validator(hostile, negative_ttl=0)
        try:
            validator.validate('opaque-token-%s' % claim)
        except TokenError as exc:
            assert str(exc)
        else:
            assert value == b'null' or (claim != 'exp' and value in (
                b'-1',))


def test_deeply_nested_introspection_answer(hostile):
    hostile.introspection = (b'{"active":true,"x":' + b'[' * 5000
                             + b']' * 5000 + b'}')
    with pytest.raises(ProviderUnavailable, match='nested more than'):
        _validator(hostile).validate('opaque-token')


def _run_cli(capsys, *argv):
    code = cli.main(['verify-token', *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize('kind', ['nested', 'exp-1e20', 'exp-Infinity'])
def test_cli_one_error_line(capsys, hostile, kind):
    if kind == 'nested':
        token = '%s.e30.AAAA' % _b64(DEEP[0])
    else:
        token = hostile.sign(b'{"iss":"%s","sub":"a","aud":"%s","exp":%s}' % (
            hostile.issuer.encode(), AUD.encode(),
            kind.split('-')[1].encode()))
    code, out, err = _run_cli(capsys, '--issuer', hostile.issuer,
                              '--audience', AUD, token)
    assert (code, out) == (1, '')
    assert err.startswith('error: ') and err.count('\n') == 1, err
    assert 'internal error' not in err


# -- 3. issuer by iss ---------------------------------------------------

def test_kidless_tokens_of_two_issuers(oidc_provider):
    with OpenIDProvider() as other:
        validator = TokenValidator([
            IssuerConfig(oidc_provider.issuer, audience=AUD),
            IssuerConfig(other.issuer, audience=AUD)])
        first = oidc_provider.jwt_token('alice', AUD, kid=False)
        second = other.jwt_token('bob', AUD, kid=False)
        assert validator.validate(first).subject == 'alice'
        # the first issuer's keys are cached now; the second issuer's
        # kid-less token must still be checked with its own keys
        assert validator.validate(second).subject == 'bob'
        assert validator.validate(
            other.jwt_token('carol', AUD, kid=False, alg='ES256')
        ).subject == 'carol'


# -- 2. bounded cost per request ----------------------------------------

def test_failed_discovery_is_not_retried_at_once():
    with HostileProvider(mode='hang') as hung:
        validator = _validator(hung, http_timeout=1, backoff=60)
        token = hung.sign(_claims(iss=hung.issuer))
        box, took = _in_thread(lambda: validator.validate(token), 10)
        assert isinstance(box.get('error'), ProviderUnavailable)
        assert 'took longer than 1 seconds' in str(box['error'])
        assert took < 5
        for _ in range(5):
            box, took = _in_thread(lambda: validator.validate(token), 10)
            assert 'failed recently' in str(box['error'])
            assert took < 0.5
        assert hung.requests == {'/.well-known/openid-configuration': 1}


def test_trickling_provider_cut_off_at_the_deadline():
    with HostileProvider(mode='trickle', trickle_interval=0.5) as slow:
        validator = _validator(slow, http_timeout=2)
        token = slow.sign(_claims(iss=slow.issuer))
        # every byte comes within any per-read timeout; only a deadline
        # for the whole answer stops it
        box, took = _in_thread(lambda: validator.validate(token), 20)
        assert isinstance(box.get('error'), ProviderUnavailable)
        assert 'took longer than 2 seconds' in str(box['error'])
        assert took < 6


def test_concurrent_calls_to_a_hung_provider_are_capped():
    with HostileProvider(mode='hang') as hung:
        validator = _validator(hung, http_timeout=2, max_calls=2)
        token = hung.sign(_claims(iss=hung.issuer))

        def timed():
            start = time.monotonic()
            try:
                validator.validate(token)
            except TokenError as exc:
                return exc, time.monotonic() - start
            return None, time.monotonic() - start

        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            results = list(pool.map(lambda _: timed(), range(10)))
    busy = [t for exc, t in results if isinstance(exc, ProviderBusy)]
    assert all(isinstance(exc, ProviderUnavailable) for exc, _ in results)
    assert len(busy) >= 8
    assert max(busy) < 1.5           # refused at once, not after waiting
    assert max(t for _, t in results) < 8
    assert hung.requests['/.well-known/openid-configuration'] == 1


def test_refused_opaque_token_is_remembered(own_op):
    validator = TokenValidator([IssuerConfig(
        own_op.issuer, accept_any_audience=True,
        client_id=own_op.client_id, client_secret=own_op.client_secret)])
    token = 'nOtAtOkEnThIsPrOvIdErIsSuEd0123456789abcdef'
    with pytest.raises(TokenInactive, match='says the token'):
        validator.validate(token)
    own_op.stop()                    # asking again would fail differently
    with pytest.raises(TokenInactive, match='refused in the last 60'):
        validator.validate(token)


def test_introspection_of_unknown_tokens_is_rate_limited(oidc_provider):
    validator = TokenValidator([IssuerConfig(
        oidc_provider.issuer, accept_any_audience=True,
        client_id=oidc_provider.client_id,
        client_secret=oidc_provider.client_secret)],
        introspection_rate=0.01, introspection_burst=2)
    for i in range(2):
        with pytest.raises(TokenInactive):
            validator.validate('unknown-token-%d' % i)
    with pytest.raises(ProviderBusy, match='rate limit'):
        validator.validate('unknown-token-x')


@pytest.fixture
def own_op():
    with OpenIDProvider() as op:
        yield op


# -- 4. endpoints on the issuer's host ----------------------------------

@pytest.mark.parametrize('field, url', [
    ('jwks_uri', 'http://localhost:{port}/jwks'),
    ('jwks_uri', 'https://keys.example.org/jwks'),
    ('introspection_endpoint', 'http://localhost:{port}/introspect'),
    ('userinfo_endpoint', 'https://evil.example/userinfo'),
])
def test_discovery_pointing_elsewhere_refused(hostile, field, url):
    hostile.discovery = {field: url.format(port=hostile.port)}
    validator = _validator(hostile)
    with pytest.raises(DiscoveryMismatch, match='not on the issuer'):
        validator.prefetch()
    assert '/introspect' not in hostile.requests


def test_discovery_pointing_to_an_allowed_host(hostile):
    hostile.discovery = {'jwks_uri': 'http://localhost:%d/jwks'
                         % hostile.port}
    validator = TokenValidator([IssuerConfig(
        hostile.issuer, audience=AUD,
        allowed_endpoint_hosts=['localhost'])])
    assert validator.validate(
        hostile.sign(_claims(iss=hostile.issuer))).subject == 'alice'


def test_discovery_pointing_to_plain_http_refused(hostile):
    hostile.discovery = {'jwks_uri': 'http://keys.example.org/jwks'}
    validator = TokenValidator([IssuerConfig(
        hostile.issuer, audience=AUD,
        allowed_endpoint_hosts=['keys.example.org'])])
    with pytest.raises(DiscoveryMismatch, match='must be an https URL'):
        validator.prefetch()


# -- 5. safe messages ---------------------------------------------------

def test_subject_with_control_characters_refused(hostile):
    token = hostile.sign(_claims(iss=hostile.issuer, sub='alice\nINFO x'))
    with pytest.raises(MalformedToken, match='control characters') as info:
        _validator(hostile).validate(token)
    assert '\n' not in str(info.value)


def test_names_escaped(hostile):
    token = hostile.sign(_claims(iss=hostile.issuer,
                                 preferred_username='Al\nice\x1b[31m',
                                 scope='openid\r\nx'))
    ident = _validator(hostile).validate(token)
    assert ident.name == 'Al\\nice\\x1b[31m'
    assert ident.attributes['scope'] == 'openid\\r\\nx'


# -- 7. hung and trickling providers beside a healthy one ---------------

@pytest.mark.parametrize('mode', ['hang', 'trickle'])
def test_healthy_issuer_unaffected_by_a_stalled_one(oidc_provider, mode):
    deadline = 3
    with HostileProvider(mode=mode, trickle_interval=1) as stalled:
        validator = TokenValidator(
            [IssuerConfig(stalled.issuer, audience=AUD),
             IssuerConfig(oidc_provider.issuer, audience=AUD)],
            http_timeout=deadline, cache_size=0)
        bad = stalled.sign(_claims(iss=stalled.issuer))
        good = oidc_provider.jwt_token('alice', AUD)

        def attempt(token):
            start = time.monotonic()
            try:
                result = validator.validate(token)
            except (CredentialError, ConfigurationError) as exc:
                result = exc
            return result, time.monotonic() - start

        with concurrent.futures.ThreadPoolExecutor(60) as pool:
            stalled_runs = [pool.submit(attempt, bad) for _ in range(50)]
            time.sleep(0.2)          # all 50 are in flight
            healthy = [attempt(good) for _ in range(20)]
            refused = [f.result(timeout=4 * deadline) for f in stalled_runs]
    assert all(r.subject == 'alice' for r, _ in healthy)
    assert max(t for _, t in healthy) < deadline / 2
    assert all(isinstance(r, ProviderUnavailable) for r, _ in refused)
    assert max(t for _, t in refused) < deadline + 2
    # at most max_calls (4) requests waited on the stalled provider
    assert sum(1 for _, t in refused if t > 1) <= 4
