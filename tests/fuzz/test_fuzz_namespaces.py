"""Fuzzing the IGTF policy file parsers: whatever the text of a
``<hash>.namespaces`` or ``<hash>.signing_policy`` file, reading it gives
rules or a readable syntax error -- never another exception, which would
make the whole trust material unusable."""

from hypothesis import example, given
from hypothesis import strategies as st

from voms_auth.voms import namespaces as ns

#: the pieces real files are made of, so mutations reach deep states
_TOKENS = st.sampled_from([
    'TO', 'Issuer', 'SELF', 'PERMIT', 'DENY', 'Subject', '"/C=EU/CN=A"',
    '"/C=EU/.*"', '"', "'", '\\', '#', '\n', ' ', '\t', '*', '?', '(', '{',
    '#NAMESPACES-VERSION: 1.0', 'access_id_CA', 'X509', 'pos_rights',
    'globus', 'CA:sign', 'cond_subjects', '\'"/C=EU/*" "/C=X/*"\''])
_TEXT = st.one_of(st.text(max_size=300),
                  st.lists(_TOKENS, max_size=40).map(' '.join),
                  st.lists(_TOKENS, max_size=40).map(''.join))


def _read(tmp_path_factory, kind, text):
    path = tmp_path_factory.getbasetemp() / ('0badcafe' + ns.SUFFIX[kind])
    path.write_bytes(text.encode('utf-8', 'surrogatepass'))
    return ns.read_policy_file(str(path), kind, '0badcafe', ['/C=EU/CN=A'])


@given(_TEXT)
@example('TO Issuer SELF PERMIT Subject "/C=EU/a{4294967296}"')
@example('TO Issuer "/C=EU/CN=A" PERMIT Subject "(?P<a>)(?P<a>)"')
def test_namespaces_file(tmp_path_factory, text):
    policy = _read(tmp_path_factory, ns.EUGRIDPMA, text)
    assert policy.error is None or policy.rules == {}


@given(_TEXT)
@example("access_id_CA X509 '/C=EU/CN=A'\npos_rights globus CA:sign\n"
         "cond_subjects globus '\"/C=EU/*\" \"'")
def test_signing_policy_file(tmp_path_factory, text):
    policy = _read(tmp_path_factory, ns.GLOBUS, text)
    assert policy.error is None or policy.rules == {}
