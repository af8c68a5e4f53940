"""The layers of voms_auth, kept by a machine: every module is read with
``ast`` and its imports are checked against the rules below.

* The cores (voms, oidc, mapping, identity, errors, cache) import no
  Keystone, Flask, oslo.config/log/cache, and neither the Keystone glue
  nor the options module ``voms_auth.conf`` (which builds the cores).
* The mapping consumes identities: from the verification packages it uses
  only the parsers of the strings a mapping file names (FQANs,
  entitlements).
* Nothing installed imports the test support (``tests``) or the
  test-only libraries pyOpenSSL and pyasn1.
"""

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / 'voms_auth'

CORES = ('voms_auth/voms/', 'voms_auth/oidc/', 'voms_auth/mapping/',
         'voms_auth/identity.py', 'voms_auth/errors.py', 'voms_auth/cache.py')
CORE_FORBIDDEN = ('keystone', 'flask', 'oslo_config', 'oslo_log',
                  'oslo_cache', 'voms_auth.keystone', 'voms_auth.conf')
#: The mapping's only imports from the verification packages.
MAPPING_ALLOWED = ('voms_auth.voms.fqan', 'voms_auth.oidc.entitlements')
EVERYWHERE_FORBIDDEN = ('tests', 'OpenSSL', 'pyasn1', 'pyasn1_modules')
#: (file, import) pairs allowed against the rules, with the reason.
EXEMPT = set()


def _within(name, prefixes):
    return any(name == p or name.startswith(p + '.') for p in prefixes)


def imported_names(path, source):
    """Every module ``source`` (the file ``path``, relative to the
    repository) imports, as absolute dotted names; ``from a import b``
    gives ``a`` and ``a.b``."""
    package = path.split('/')[:-1]   # what "from . import" names
    names = []
    for node in ast.walk(ast.parse(source, path)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                up = package[:len(package) - node.level + 1]
                base = '.'.join(up + ([base] if base else []))
            names.append(base)
            names.extend('%s.%s' % (base, alias.name)
                         for alias in node.names)
    return names


def violations(path, source):
    """The layer rules ``source`` (the file ``path``) breaks, as text."""
    found = []
    core = path.startswith(CORES)
    mapping = path.startswith('voms_auth/mapping/')
    for name in imported_names(path, source):
        if any(path == f and _within(name, (m,)) for f, m in EXEMPT):
            continue
        if _within(name, EVERYWHERE_FORBIDDEN):
            found.append('%s imports %s (test-only)' % (path, name))
        if core and _within(name, CORE_FORBIDDEN):
            found.append('%s imports %s (a core imports no Keystone, web '
                         'framework, oslo library or glue)' % (path, name))
        if (mapping and _within(name, ('voms_auth.voms', 'voms_auth.oidc'))
                and not _within(name, MAPPING_ALLOWED)
                and not any(a.startswith(name + '.')
                            for a in MAPPING_ALLOWED)):
            found.append('%s imports %s (the mapping uses only %s)'
                         % (path, name, ', '.join(MAPPING_ALLOWED)))
    return found


def test_the_package_keeps_its_layers():
    found = []
    for file in sorted(PACKAGE.rglob('*.py')):
        path = file.relative_to(ROOT).as_posix()
        found.extend(violations(path, file.read_text()))
    assert not found, '\n'.join(found)


@pytest.mark.parametrize('path, source', [
    ('voms_auth/voms/x.py', 'import keystone.auth'),
    ('voms_auth/oidc/x.py', 'from oslo_config import cfg'),
    ('voms_auth/oidc/x.py', 'from oslo_cache import core'),
    ('voms_auth/identity.py', 'import flask'),
    ('voms_auth/cache.py', 'from oslo_log import log'),
    ('voms_auth/errors.py', 'from voms_auth import conf'),
    ('voms_auth/mapping/x.py', 'from voms_auth.keystone import service'),
    ('voms_auth/voms/x.py', 'from ..keystone import service'),
    ('voms_auth/mapping/x.py', 'from voms_auth.voms import verifier'),
    ('voms_auth/mapping/x.py', 'from voms_auth.oidc.validator import V'),
    ('voms_auth/mapping/x.py', 'import voms_auth.oidc.provider'),
    ('voms_auth/keystone/x.py', 'import OpenSSL.crypto'),
    ('voms_auth/cli/x.py', 'from pyasn1.codec.der import decoder'),
    ('voms_auth/x.py', 'from tests.support import pki'),
    ('voms_auth/voms/x.py', 'def f():\n    import oslo_config.cfg\n'),
])
def test_the_checker_catches_a_violation(path, source):
    assert violations(path, source)


@pytest.mark.parametrize('path, source', [
    ('voms_auth/mapping/x.py', 'from voms_auth.voms import fqan'),
    ('voms_auth/mapping/x.py', 'from voms_auth.oidc import entitlements'),
    ('voms_auth/mapping/x.py', 'from voms_auth import identity'),
    ('voms_auth/keystone/x.py', 'from oslo_config import cfg'),
    ('voms_auth/conf.py', 'from voms_auth import voms'),
    ('voms_auth/oidc/x.py', 'from dogpile.cache import api'),
])
def test_the_checker_allows_what_the_rules_allow(path, source):
    assert violations(path, source) == []


def test_the_cores_load_without_oslo_or_keystone():
    code = ('import sys, voms_auth.voms, voms_auth.oidc, voms_auth.mapping, '
            'voms_auth.cache; print(sorted({m.split(".")[0] for m in '
            'sys.modules} & {"oslo_config", "oslo_log", "oslo_cache", '
            '"keystone", "flask", "OpenSSL", "pyasn1"}))')
    result = subprocess.run([sys.executable, '-c', code], check=True,
                            capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip() == '[]'
