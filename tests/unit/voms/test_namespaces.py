"""IGTF namespace policies (``<hash>.namespaces``, ``<hash>.signing_policy``)
parsed from files written as the IGTF distribution writes them, enforced on
real chains (GridPKI CAs, voms-proxy-fake proxies) in every mode."""

import pytest

from tests.support.pki import GridPKI, igtf_namespaces, igtf_signing_policy
from voms_auth.voms import TrustStore, Verifier, errors
from voms_auth.voms import namespaces as ns
from voms_auth.voms.problems import severity

# -- parsing real-world syntax ----------------------------------------------

#: As in the IGTF distribution (ESnet/DOEGrids style): version header,
#: comment block, continued lines, two rules for one issuer, plus what the
#: format allows: tabs, SELF, DENY, lower-case keywords, an escaped ``#``,
#: a trailing comment.
NAMESPACES = r'''##############################################################################
#NAMESPACES-VERSION: 1.0
#
# @(#)d1b603c3.namespaces
# CA alias    : ESnet
#    subord_of:
#    subjectDN: /DC=net/DC=ES/O=ESnet/OU=Certificate Authorities/CN=ESnet Root CA 1
#    hash     : d1b603c3
#
TO Issuer "/DC=net/DC=ES/O=ESnet/OU=Certificate Authorities/CN=ESnet Root CA 1" \
  PERMIT Subject "/DC=org/DC=DOEGrids/OU=Certificate Authorities/.*"

TO Issuer "/DC=net/DC=ES/O=ESnet/OU=Certificate Authorities/CN=ESnet Root CA 1" \
  PERMIT Subject "/DC=net/DC=ES/.*"
to	issuer SELF	deny subject "/DC=net/DC=ES/CN=Bad \#1.*"   # no
TO Issuer "/C=EU/CN=Test" PERMIT Subject "/C=EU/E=a@b/CN=.*"
'''  # noqa: E501 - as the IGTF files are

#: As in the IGTF distribution (AC-GRID-FR root): RCS id, blanks before
#: the keywords, several subjects in one cond_subjects line; then a second
#: block for another issuer.
SIGNING_POLICY = '''# @(#)$Id: AC-GRID-FR.signing_policy,v 1.1 2018/03/06 07:56:31 pmacvsdg Exp $
# Root
access_id_CA  X509   '/C=FR/O=MENESR/OU=GRID-FR/CN=AC GRID-FR'
pos_rights    globus CA:sign
cond_subjects globus '"/C=FR/O=MENESR/OU=GRID-FR/CN=AC GRID-FR" "/C=FR/O=MENESR/OU=GRID-FR/CN=AC GRID-FR Personnels"'

 access_id_CA 	  X509   '/DC=ch/DC=cern/CN=CERN Grid Certification Authority'
 pos_rights     globus 			CA:sign
 cond_subjects  globus '"/DC=ch/DC=cern/*" "/DC=ch/DC=cern/OU=?/*"'
'''  # noqa: E501 - as the IGTF files are


def keys(rules):
    return {issuer: [(r.permit, r.pattern.pattern) for r in rs]
            for issuer, rs in rules.items()}


def test_parse_igtf_namespaces():
    rules = ns.parse_namespaces(NAMESPACES, 'd1b603c3.namespaces',
                                ['/DC=net/DC=ES/CN=Self CA'])
    esnet = ('/dc=net/dc=es/o=esnet/ou=certificate authorities/cn=esnet '
             'root ca 1')
    assert keys(rules) == {
        esnet: [(True, '/DC=org/DC=DOEGrids/OU=Certificate Authorities/.*'),
                (True, '/DC=net/DC=ES/.*')],
        '/dc=net/dc=es/cn=self ca': [(False, r'/DC=net/DC=ES/CN=Bad \#1.*')],
        '/c=eu/cn=test': [(True, '/C=EU/emailAddress=a@b/CN=.*')]}
    first = rules[esnet][0]
    assert first.origin == 'd1b603c3.namespaces:10'
    assert first.text == ('TO Issuer "/DC=net/DC=ES/O=ESnet/OU=Certificate '
                          'Authorities/CN=ESnet Root CA 1" PERMIT Subject '
                          '"/DC=org/DC=DOEGrids/OU=Certificate '
                          'Authorities/.*"')
    # regular expressions, whole DN, any case
    assert first.matches('/dc=org/dc=doegrids/ou=certificate authorities/'
                         'cn=x'.lower())
    assert not first.matches('/dc=org/dc=doegridsx/ou=certificate '
                             'authorities/cn=x')
    deny = rules['/dc=net/dc=es/cn=self ca'][0]
    assert deny.matches('/dc=net/dc=es/cn=bad #1 x')


def test_parse_igtf_signing_policy():
    rules = ns.parse_signing_policy(SIGNING_POLICY, 'x.signing_policy')
    assert list(rules) == ['/c=fr/o=menesr/ou=grid-fr/cn=ac grid-fr',
                           '/dc=ch/dc=cern/cn=cern grid certification '
                           'authority']
    cern = rules['/dc=ch/dc=cern/cn=cern grid certification authority']
    assert [r.origin for r in cern] == ['x.signing_policy:9'] * 2
    assert cern[0].matches('/dc=ch/dc=cern/ou=users/cn=jane')
    assert not cern[0].matches('/dc=ch/dc=cernx/cn=jane')
    # ? is one character, . is literal
    assert cern[1].matches('/dc=ch/dc=cern/ou=a/cn=x')
    assert not cern[1].matches('/dc=ch/dc=cern/ou=ab/cn=x')
    grid_fr = rules['/c=fr/o=menesr/ou=grid-fr/cn=ac grid-fr']
    assert grid_fr[1].matches('/c=fr/o=menesr/ou=grid-fr/cn=ac grid-fr '
                              'personnels')
    assert not grid_fr[0].matches('/c=fr/o=menesr/ou=grid-frx/cn=ac '
                                  'grid-fr')


@pytest.mark.parametrize('text, line, reason', [
    ('TO Issuer /C=EU/CN=Unquoted CA PERMIT Subject "/C=EU/.*"\n', 1,
     'expected TO Issuer'),
    ('#NAMESPACES-VERSION: 2.0\n', 1, "version '2.0' is not supported"),
    ('# x\nTO Issuer "/C=EU/CN=A" ALLOW Subject "/C=EU/.*"\n', 2,
     'expected TO Issuer'),
    ('TO Issuer "/C=EU/CN=A" PERMIT Subject "/C=EU/(.*"\n', 1,
     'not a valid regular expression'),
    ('TO Issuer "/C=EU/CN=A" PERMIT Subject "/C=EU/a{4294967296}"\n', 1,
     'the repetition number is too large'),
    ('TO Issuer "/C=EU/CN=A" PERMIT Subject "/C=EU/.*" TO Issuer '
     '"/C=EU/CN=B" PERMIT Subject "/C=EU/.*"\n', 1, 'expected TO Issuer'),
    ('TO Issuer SELF PERMIT Subject "/C=EU/.*"\n', 1, 'no CA certificate'),
])
def test_malformed_namespaces(text, line, reason):
    with pytest.raises(ns.PolicySyntaxError, match=reason) as info:
        ns.parse_namespaces(text, 'f', [] if 'SELF' in text else ['/C=X'])
    assert info.value.line == line


@pytest.mark.parametrize('text, line, reason', [
    ("access_id_CA X609 '/C=EU/CN=A'\npos_rights globus CA:sign\n"
     "cond_subjects globus '\"/C=EU/*\"'\n", 1, 'expected access_id_CA'),
    ("access_id_CA X509 '/C=EU/CN=A'\npos_rights globus CA:sign\n"
     "cond_subjects globusek '\"/C=EU/*\"'\n", 3, 'expected cond_subjects'),
    ("# c\naccess_id_CA X509 '/C=EU/CN=A'\n\npos_rights globus CA:sign\n",
     2, 'must be followed by'),
    ("access_id_CA X509 '/C=EU/CN=A'\nneg_rights globus CA:sign\n"
     "cond_subjects globus '\"/C=EU/*\"'\n", 2, 'expected pos_rights'),
    ("access_id_CA X509 '/C=EU/CN=A'\npos_rights globus CA:sign\n"
     "cond_subjects globus '\"/C=EU/*\"\"/C=X/*\"'\n", 3,
     'separated by blanks'),
    ("access_id_CA X509 '/C=EU/CN=A'\npos_rights globus CA:sign\n"
     "cond_subjects globus '\"/C=EU/*'\n", 3, 'expected "<subject>"'),
])
def test_malformed_signing_policy(text, line, reason):
    with pytest.raises(ns.PolicySyntaxError, match=reason) as info:
        ns.parse_signing_policy(text, 'f')
    assert info.value.line == line


# -- enforcement on real chains ---------------------------------------------

@pytest.fixture(scope='module')
def grid(tmp_path_factory):
    pki = GridPKI(tmp_path_factory.mktemp('namespaces'))
    pki.jane = pki.new_user('Jane Doe')                     # example
    pki.victor = pki.new_user('Victor Outside', org='elsewhere')
    pki.root_user = pki.new_user('Rita Root', ca=pki.root_ca)
    pki.proxies_of = {u.cn: pki.make_proxy(u).read_bytes()
                      for u in (pki.jane, pki.victor, pki.root_user)}
    return pki


@pytest.fixture(autouse=True)
def clean_policies(request):
    """Each test writes its own policy files; none survive it."""
    yield
    if 'grid' in request.fixturenames:
        pki = request.getfixturevalue('grid')
        for path in pki.ca_path.iterdir():
            if path.suffix in ('.namespaces', '.signing_policy'):
                path.unlink()


def write(grid, ca, kind, text):
    path = grid.ca_path / (ca.hash + ns.SUFFIX[kind])
    path.write_text(text)
    return path


def example_namespace(grid, subject='/DC=org/DC=example/.*'):
    """The issuing CA may issue /DC=org/DC=example/... only."""
    return write(grid, grid.issuing_ca, ns.EUGRIDPMA, igtf_namespaces(
        grid.issuing_ca, [(grid.issuing_ca.dn, 'PERMIT', subject)]))


def verify(grid, user, mode=ns.DEFAULT_MODE):
    store = TrustStore(grid.ca_path, grid.vomsdir, namespace_checking=mode)
    return Verifier(store, cache_size=0).verify_pem(
        grid.proxies_of[user.cn])


def test_inside_the_namespace_passes(grid):
    example_namespace(grid)
    assert verify(grid, grid.jane).user == grid.jane.dn


def test_outside_the_namespace_is_refused_naming_file_and_rule(grid):
    path = example_namespace(grid)
    with pytest.raises(errors.NamespaceViolation) as info:
        verify(grid, grid.victor)
    detail = str(info.value)
    assert detail == (
        'the user certificate %s is outside the namespace of its CA %s: %s '
        'permits only line 10: TO Issuer "%s" \\ PERMIT Subject '
        '"/DC=org/DC=example/.*"' % (grid.victor.dn, grid.issuing_ca.dn,
                                     path, grid.issuing_ca.dn)
    ).replace(' \\ ', ' ')
    # the client is not told the server's paths
    assert str(path) not in info.value.public
    assert grid.victor.dn in info.value.public


def test_deny_rule(grid):
    write(grid, grid.issuing_ca, ns.EUGRIDPMA, igtf_namespaces(
        grid.issuing_ca, [('SELF', 'PERMIT', '/DC=org/DC=.*'),
                          ('SELF', 'DENY', '/DC=org/DC=example/OU=People/'
                                           'CN=Jane.*')]))
    with pytest.raises(errors.NamespaceViolation,
                       match=r'denied by .*namespaces:13: TO Issuer SELF '
                             r'DENY Subject'):
        verify(grid, grid.jane)
    assert verify(grid, grid.victor).user == grid.victor.dn


def test_signing_policy_alone(grid):
    write(grid, grid.issuing_ca, ns.GLOBUS, igtf_signing_policy(
        [(grid.issuing_ca.dn, ['/DC=org/DC=example/*'])]))
    assert verify(grid, grid.jane).user == grid.jane.dn
    with pytest.raises(errors.NamespaceViolation,
                       match=r"signing_policy permits only line 5: "
                             r"access_id_CA X509 '.*Issuing CA' "
                             r'cond_subjects "/DC=org/DC=example/\*"'):
        verify(grid, grid.victor)


def test_the_roots_policy_limits_its_sub_cas(grid):
    """The issuing CA's own certificate is checked against the root's
    policy (as AC-GRID-FR's root lists its sub-CAs)."""
    write(grid, grid.root_ca, ns.GLOBUS, igtf_signing_policy(
        [(grid.root_ca.dn, [grid.root_ca.dn, '/DC=org/DC=example/OU=*'])]))
    with pytest.raises(errors.NamespaceViolation,
                       match='the CA certificate .*Example Issuing CA is '
                             'outside the namespace of its CA .*Example Root'
                             ' CA'):
        verify(grid, grid.jane)
    write(grid, grid.root_ca, ns.GLOBUS, igtf_signing_policy(
        [(grid.root_ca.dn, [grid.root_ca.dn, '/DC=org/DC=example/OU=*',
                            grid.issuing_ca.dn])]))
    assert verify(grid, grid.jane).user == grid.jane.dn


def test_the_roots_file_speaks_for_a_sub_ca(grid):
    """Rules for the issuing CA found in the root's file when the issuing
    CA has none of its own."""
    write(grid, grid.root_ca, ns.EUGRIDPMA, igtf_namespaces(
        grid.root_ca, [('SELF', 'PERMIT', '/DC=org/DC=example/.*'),
                       (grid.issuing_ca.dn, 'PERMIT',
                        '/DC=org/DC=elsewhere/.*'),
                       (grid.issuing_ca.dn, 'PERMIT',
                        '/DC=org/DC=example/OU=Hosts/.*')]))
    assert verify(grid, grid.victor).user == grid.victor.dn
    with pytest.raises(errors.NamespaceViolation,
                       match='permits only line 13'):
        verify(grid, grid.jane)
    # the issuing CA's own file, once present, is used first
    example_namespace(grid)
    assert verify(grid, grid.jane).user == grid.jane.dn


HOSTS = '/DC=org/DC=example/OU=Hosts/*'


def both_formats_disagree(grid):
    """.namespaces permits only Jane's DC, .signing_policy only Victor's
    (both permit the VOMS server's host certificate); the root's
    .namespaces permits the issuing CA."""
    example_namespace(grid)
    write(grid, grid.issuing_ca, ns.GLOBUS, igtf_signing_policy(
        [(grid.issuing_ca.dn, ['/DC=org/DC=elsewhere/*', HOSTS])]))
    write(grid, grid.root_ca, ns.EUGRIDPMA, igtf_namespaces(
        grid.root_ca, [('SELF', 'PERMIT', '/DC=org/DC=example/.*')]))


@pytest.mark.parametrize('mode, jane_ok, victor_ok', [
    ('eugridpma_globus', True, False),      # .namespaces first, alone
    ('eugridpma_globus_require', True, False),
    ('eugridpma', True, False),
    ('globus_eugridpma', False, True),      # .signing_policy first, alone
    ('globus', False, True),
    ('eugridpma_and_globus', False, False),  # both enforced
    ('ignore', True, True),
])
def test_modes_with_both_files(grid, mode, jane_ok, victor_ok):
    both_formats_disagree(grid)
    for user, ok in ((grid.jane, jane_ok), (grid.victor, victor_ok)):
        if ok:
            assert verify(grid, user, mode).user == user.dn
        else:
            with pytest.raises(errors.NamespaceViolation):
                verify(grid, user, mode)


@pytest.mark.parametrize('mode, ok', [
    ('eugridpma_globus', True), ('globus', True), ('ignore', True),
    ('eugridpma_globus_require', False), ('globus_require', False),
    ('eugridpma_and_globus_require', False)])
def test_no_policy_file(grid, mode, ok):
    if ok:
        assert verify(grid, grid.jane, mode).user == grid.jane.dn
        return
    with pytest.raises(errors.NamespaceViolation,
                       match='its CA .*Example Issuing CA has no namespace '
                             'policy .* and namespace_checking is ' + mode):
        verify(grid, grid.jane, mode)


def test_require_is_met_by_the_other_format(grid):
    write(grid, grid.issuing_ca, ns.GLOBUS, igtf_signing_policy(
        [(grid.issuing_ca.dn, ['/DC=org/DC=example/*'])]))
    write(grid, grid.root_ca, ns.GLOBUS, igtf_signing_policy(
        [(grid.root_ca.dn, ['/DC=org/DC=example/*'])]))
    assert verify(grid, grid.jane,
                  'eugridpma_globus_require').user == grid.jane.dn
    with pytest.raises(errors.NamespaceViolation, match='has no namespace'):
        verify(grid, grid.jane, 'eugridpma_require')


def test_a_malformed_file_is_a_problem_and_permits_nothing(grid):
    path = write(grid, grid.issuing_ca, ns.EUGRIDPMA,
                 '#NAMESPACES-VERSION: 1.0\n'
                 'TO Issuer "%s" PERMIT Subject /DC=org/.*\n'
                 % grid.issuing_ca.dn)
    store = TrustStore(grid.ca_path, grid.vomsdir)
    problems = [p for p in store.snapshot().problems if str(path) in p]
    assert problems == [
        'the policy file %s does not parse: line 2: expected TO Issuer '
        '"<DN>"|SELF PERMIT|DENY Subject "<regular expression>", got: TO '
        'Issuer "%s" PERMIT Subject /DC=org/.*; certificates of the CA %s '
        'are refused until it is fixed' % (path, grid.issuing_ca.dn,
                                           grid.issuing_ca.dn)]
    assert severity(problems[0]) == 'error'
    with pytest.raises(errors.NamespaceViolation,
                       match='the policy file %s of its CA does not parse '
                             r'\(line 2: expected TO Issuer' % path):
        Verifier(store, cache_size=0).verify_pem(
            grid.proxies_of[grid.jane.cn])
    # the same file under a mode that does not read it: no problem
    ignored = TrustStore(grid.ca_path, grid.vomsdir,
                         namespace_checking='globus')
    assert not [p for p in ignored.snapshot().problems if str(path) in p]


def test_an_orphan_policy_file_is_a_warning(grid):
    path = grid.ca_path / '0badcafe.signing_policy'
    path.write_text(igtf_signing_policy([('/C=X/CN=Gone', ['/C=X/*'])]))
    problems = [p for p in TrustStore(grid.ca_path, grid.vomsdir)
                .snapshot().problems if str(path) in p]
    assert problems == ['the policy file %s belongs to no CA of %s (there '
                        'is no 0badcafe.0): ignored' % (path, grid.ca_path)]
    assert severity(problems[0]) == 'warning'


def test_the_voms_server_certificate_is_checked_too(grid):
    """The VOMS server's host certificate (issued by the issuing CA, OU=
    Hosts) is outside a namespace of OU=People only: its AC is refused."""
    example_namespace(grid, '/DC=org/DC=example/OU=People/.*')
    with pytest.raises(errors.NamespaceViolation,
                       match='the VOMS server certificate .*OU=Hosts/'
                             'CN=voms.example.org is outside the namespace'):
        verify(grid, grid.jane)


def test_parsed_once_per_load(grid, monkeypatch):
    example_namespace(grid)
    calls = []
    real = ns.read_policy_file
    monkeypatch.setattr(ns, 'read_policy_file',
                        lambda *a: calls.append(a[0]) or real(*a))
    store = TrustStore(grid.ca_path, grid.vomsdir, refresh_interval=3600)
    verifier = Verifier(store, cache_size=0)
    for _ in range(3):
        verifier.verify_pem(grid.proxies_of[grid.jane.cn])
    assert calls == [str(grid.ca_path / (grid.issuing_ca.hash
                                          + '.namespaces'))]


def test_an_unknown_mode_is_a_configuration_error(grid):
    with pytest.raises(errors.TrustStoreError,
                       match="namespace checking mode 'strict': expected "
                             "one of eugridpma_globus, "):
        TrustStore(grid.ca_path, grid.vomsdir, namespace_checking='strict')
