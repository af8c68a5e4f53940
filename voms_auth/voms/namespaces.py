"""IGTF CA namespaces: ``<hash>.namespaces`` and ``<hash>.signing_policy``.

Every CA of the IGTF distribution comes with two files beside its
``<hash>.0`` that limit the subject names it may issue:

* ``<hash>.namespaces`` (EUGridPMA format, version 1.0)::

      #NAMESPACES-VERSION: 1.0
      TO Issuer "/C=UK/O=eScienceCA/CN=UK e-Science CA 2B" \\
        PERMIT Subject "/C=UK/O=eScience/.*"

  one rule per (backslash-continued) line, keywords in any case, the issuer
  quoted or ``SELF`` (the CA of the file), ``PERMIT`` or ``DENY``, the
  subject a regular expression matched against the whole slash-form DN,
  ``#`` starting a comment;
* ``<hash>.signing_policy`` (Globus EACL)::

      access_id_CA   X509   '/C=UK/O=eScienceCA/CN=UK e-Science CA 2B'
      pos_rights     globus CA:sign
      cond_subjects  globus '"/C=UK/O=eScience/*" "/C=UK/O=Other/*"'

  blocks of these three lines, the subjects shell-style patterns (``*``
  any characters, ``?`` one); blank lines and ``#`` comments are skipped,
  any other line is a syntax error (canl-java skips it).

No maintained Python library reads either format (the known readers are
canl-java and the C gridsite/Globus code), so they are parsed here,
following canl-java's reading of both formats and its
``NamespaceCheckingMode`` (see :data:`MODES`).

Checking (:meth:`NamespacePolicies.check`): every certificate of a
validated path that is not self-signed (the user or VOMS server
certificate and each intermediate CA) must have a subject that the rules
for its issuer permit and none deny. The rules for an issuer are looked up
in the file of the issuing CA, then in the files of the CAs above it (a
root's file may speak for its sub-CAs), the first file holding rules for
that issuer wins. Names are compared in slash form, case-insensitively,
``Email=``/``E=`` spelled ``emailAddress=``.

A file that does not parse (or cannot be read) is a problem of the trust
material (logged when it loads, listed by ``voms-auth check-trust``), and
it is **enforced as permitting nothing**: certificates whose policy lookup
reaches it are refused, naming the file and its error, until it is fixed.
A policy that may have been meant to restrict a CA is never silently
dropped (canl-java ignores such a file instead).
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from cryptography import x509

from voms_auth.voms import certs as certs_mod
from voms_auth.voms import errors
from voms_auth.voms.names import normalize_dn, slash_dn
from voms_auth.voms.problems import Problem

EUGRIDPMA = 'eugridpma'
GLOBUS = 'globus'
#: file suffix of each format
SUFFIX = {EUGRIDPMA: '.namespaces', GLOBUS: '.signing_policy'}
_POLICY_FILE = re.compile(r'^([0-9a-f]{8})\.(namespaces|signing_policy)$')
_KIND_OF_SUFFIX = {'namespaces': EUGRIDPMA, 'signing_policy': GLOBUS}
MAX_FILE_SIZE = 1 << 20


@dataclasses.dataclass(frozen=True)
class Mode:
    """How the two formats are used (canl-java's ``NamespaceCheckingMode``).

    ``order``: the formats looked up, in order; ``both``: every format
    that has rules for the issuer is enforced (else only the first found);
    ``required``: a certificate whose issuer has rules in neither format
    is refused (else it passes)."""

    name: str
    order: Tuple[str, ...]
    both: bool = False
    required: bool = False


#: The modes, named as canl-java's in lower case. The default,
#: ``eugridpma_globus``, is canl-java's: ``.namespaces`` when present for
#: the issuer, else ``.signing_policy``, else no check.
MODES: Mapping[str, Mode] = {m.name: m for m in (
    Mode('eugridpma_globus', (EUGRIDPMA, GLOBUS)),
    Mode('globus_eugridpma', (GLOBUS, EUGRIDPMA)),
    Mode('eugridpma', (EUGRIDPMA,)),
    Mode('globus', (GLOBUS,)),
    Mode('eugridpma_and_globus', (EUGRIDPMA, GLOBUS), both=True),
    Mode('eugridpma_globus_require', (EUGRIDPMA, GLOBUS), required=True),
    Mode('globus_eugridpma_require', (GLOBUS, EUGRIDPMA), required=True),
    Mode('eugridpma_require', (EUGRIDPMA,), required=True),
    Mode('globus_require', (GLOBUS,), required=True),
    Mode('eugridpma_and_globus_require', (EUGRIDPMA, GLOBUS), both=True,
         required=True),
    Mode('ignore', ()),
)}
DEFAULT_MODE = 'eugridpma_globus'


class PolicySyntaxError(ValueError):
    """A policy file does not parse; ``line`` is 1-based."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


@dataclasses.dataclass(frozen=True)
class Rule:
    """One rule: subjects matching ``pattern`` are permitted (or denied)
    for certificates issued by ``issuer`` (normalized, lower case)."""

    issuer: str
    pattern: re.Pattern[str]
    permit: bool
    #: ``<file>:<line>``
    origin: str
    #: the rule as written (one line)
    text: str

    def matches(self, subject: str) -> bool:
        return self.pattern.fullmatch(subject) is not None


@dataclasses.dataclass(frozen=True)
class PolicyFile:
    """A parsed policy file: its rules by issuer, or why it is unusable."""

    path: str
    kind: str
    ca_hash: str
    rules: Mapping[str, Tuple[Rule, ...]]
    #: why the file cannot be used (then it permits nothing)
    error: Optional[str] = None


def dn_key(text: str) -> str:
    """The comparison form of a slash-form DN read from a policy file or
    printed from a certificate."""
    return normalize_dn(text).lower()


# -- EUGridPMA .namespaces ---------------------------------------------------

_VERSION = re.compile(r'^#NAMESPACES-VERSION:\s*(\S*)\s*$')
_WS = '[ \t]'
_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_NS_RULE = re.compile(
    rf'^TO{_WS}+ISSUER{_WS}+(?:{_QUOTED}|(SELF))'
    rf'{_WS}+(PERMIT|DENY){_WS}+SUBJECT{_WS}+{_QUOTED}{_WS}*$',
    re.IGNORECASE)


def _strip_comment(line: str) -> str:
    """``line`` up to its first ``#`` not escaped by a backslash."""
    escaped = False
    for index, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == '\\':
            escaped = True
        elif char == '#':
            return line[:index]
    return line


def _logical_lines(text: str) -> Iterable[Tuple[int, str]]:
    """(first line number, line) with comments stripped and backslash
    continuations joined; the version header is checked."""
    pending, start = '', 0
    for number, raw in enumerate(text.splitlines(), 1):
        version = _VERSION.match(raw.strip())
        if version:
            if version.group(1) != '1.0':
                raise PolicySyntaxError(
                    'namespaces format version %r is not supported (only '
                    '1.0)' % version.group(1), number)
            continue
        line = _strip_comment(raw).rstrip()
        if not pending:
            start = number
        if line.endswith('\\') and not line.endswith('\\\\'):
            pending += line[:-1]
            continue
        pending += line
        if pending.strip():
            yield start, pending.strip()
        pending = ''
    if pending.strip():
        yield start, pending.strip()


def parse_namespaces(text: str, path: str, self_dns: Sequence[str]
                     ) -> Dict[str, Tuple[Rule, ...]]:
    """The rules of a ``.namespaces`` file, by issuer. ``self_dns``: the
    subjects of the CA(s) the file belongs to (what ``SELF`` names).

    :raises PolicySyntaxError: the first line that does not parse.
    """
    rules: Dict[str, List[Rule]] = {}
    for number, line in _logical_lines(text):
        match = _NS_RULE.match(line)
        if not match:
            raise PolicySyntaxError(
                'expected TO Issuer "<DN>"|SELF PERMIT|DENY Subject '
                '"<regular expression>", got: %s' % line, number)
        issuer, is_self, verdict, subject = match.groups()
        try:
            pattern = re.compile(normalize_dn(subject), re.IGNORECASE)
        except (re.error, OverflowError, RecursionError) as exc:
            raise PolicySyntaxError(
                'the subject %r is not a valid regular expression (%s)'
                % (subject, exc), number) from None
        issuers = self_dns if is_self else [issuer]
        if is_self and not self_dns:
            raise PolicySyntaxError(
                'TO Issuer SELF, but no CA certificate of this hash is in '
                'the directory', number)
        for dn in issuers:
            rules.setdefault(dn_key(dn), []).append(Rule(
                issuer=dn_key(dn), pattern=pattern,
                permit=verdict.upper() == 'PERMIT',
                origin='%s:%d' % (path, number), text=' '.join(line.split())))
    return {k: tuple(v) for k, v in rules.items()}


# -- Globus EACL .signing_policy ---------------------------------------------

_ACCESS = re.compile(rf"^access_id_CA{_WS}+X509{_WS}+'([^']*)'{_WS}*$"
                     )
_RIGHTS = re.compile(rf'^pos_rights{_WS}+globus{_WS}+CA:sign{_WS}*$'
                     )
_COND = re.compile(rf"^cond_subjects{_WS}+globus{_WS}+(?:'([^']*)'|(\S.*?))"
                   rf"{_WS}*$")
_SUBJECTS = re.compile(r'[ \t]*"([^"]*)"')


def glob_pattern(text: str) -> re.Pattern[str]:
    """A Globus subject wildcard (``*``: any characters, ``?``: one) as a
    case-insensitive whole-string regular expression."""
    parts = []
    for char in normalize_dn(text):
        parts.append('.*' if char == '*' else '.' if char == '?'
                     else re.escape(char))
    return re.compile(''.join(parts), re.IGNORECASE | re.DOTALL)


def _subjects(value: str, number: int) -> List[str]:
    value = value.strip()
    if not value.startswith('"'):
        return [value] if value else []
    found, pos = [], 0
    while pos < len(value):
        match = _SUBJECTS.match(value, pos)
        if not match or (found and match.start(1) - 1 == pos):
            raise PolicySyntaxError(
                'cond_subjects: expected "<subject>" ["<subject>" ...] '
                'separated by blanks, got: %s' % value, number)
        found.append(match.group(1))
        pos = match.end()
    return found


def parse_signing_policy(text: str, path: str
                         ) -> Dict[str, Tuple[Rule, ...]]:
    """The rules of a ``.signing_policy`` file, by issuer: every block
    ``access_id_CA X509 '<DN>'`` / ``pos_rights globus CA:sign`` /
    ``cond_subjects globus '"<pattern>" ...'``; blank lines and lines
    starting with ``#`` are skipped.

    :raises PolicySyntaxError: a line out of this order or form.
    """
    rules: Dict[str, List[Rule]] = {}
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.strip().startswith('#')]
    index = 0
    while index < len(lines):
        number, line = lines[index]
        access = _ACCESS.match(line)
        if not access:
            raise PolicySyntaxError(
                "expected access_id_CA X509 '<CA DN>', got: %s" % line,
                number)
        if index + 2 >= len(lines):
            raise PolicySyntaxError(
                'access_id_CA must be followed by pos_rights globus CA:sign '
                'and cond_subjects globus \'"<subject>" ...\'', number)
        rights_number, rights = lines[index + 1]
        if not _RIGHTS.match(rights):
            raise PolicySyntaxError(
                'expected pos_rights globus CA:sign, got: %s' % rights,
                rights_number)
        cond_number, cond = lines[index + 2]
        match = _COND.match(cond)
        if not match:
            raise PolicySyntaxError(
                "expected cond_subjects globus '\"<subject>\" ...', got: %s"
                % cond, cond_number)
        subjects = _subjects(match.group(1) if match.group(1) is not None
                             else match.group(2), cond_number)
        if not subjects:
            raise PolicySyntaxError('cond_subjects names no subject',
                                    cond_number)
        issuer = dn_key(access.group(1))
        for subject in subjects:
            rules.setdefault(issuer, []).append(Rule(
                issuer=issuer, pattern=glob_pattern(subject), permit=True,
                origin='%s:%d' % (path, cond_number),
                text='access_id_CA X509 \'%s\' cond_subjects "%s"'
                     % (access.group(1), subject)))
        index += 3
    return {k: tuple(v) for k, v in rules.items()}


# -- the policies of a CA directory ------------------------------------------

class NamespacePolicies:
    """The policy files of a CA directory, parsed once per trust load,
    and the checking :class:`Mode`.

    :param files: ``{(kind, hash): PolicyFile}``.
    :param cas: ``{hash: [CA certificate, ...]}`` (the ``<hash>`` of each
        ``<hash>.N`` file and the certificates read from it).
    """

    def __init__(self, mode: Mode, ca_path: str,
                 files: Mapping[Tuple[str, str], PolicyFile],
                 cas: Mapping[str, Sequence[x509.Certificate]],
                 problems: Sequence[str] = ()):
        self.mode = mode
        self.ca_path = ca_path
        self.files = dict(files)
        self.problems = tuple(problems)
        #: CA subject DER -> the hashes of its files
        self.ca_hashes: Dict[bytes, Tuple[str, ...]] = {}
        #: subject DER -> comparison key (CAs of the directory, and
        #: presented intermediates as they are met, bounded)
        self._keys: Dict[bytes, str] = {}
        # id(CA certificate of the directory) -> (it, its subject DER): the
        # path validation returns these very objects, whose subject need
        # not be encoded again on every verification
        self._ders: Dict[int, Tuple[x509.Certificate, bytes]] = {}
        # the subject DERs of paths found inside their namespaces: the
        # verdict depends on those names and this object's files only
        # (a returning user's path is not matched again)
        self._passed = set()
        for ca_hash, certs in cas.items():
            for cert in certs:
                der = cert.subject.public_bytes()
                self.ca_hashes[der] = tuple(dict.fromkeys(
                    self.ca_hashes.get(der, ()) + (ca_hash,)))
                self._ders[id(cert)] = (cert, der)
                self._keys[der] = dn_key(slash_dn(cert.subject))

    def check(self, path: Sequence[x509.Certificate], what: str) -> None:
        """Refuse a validated path (``[leaf, ..., anchor]``) with a
        certificate outside its issuer's namespace.

        :raises NamespaceViolation: naming the certificate, the file and
            the rule (or the file's error).
        """
        if not self.mode.order:
            return
        ders = []
        for cert in path:
            known = self._ders.get(id(cert))
            ders.append(known[1] if known is not None and known[0] is cert
                        else certs_mod.subject_der(cert))
        key = tuple(ders)
        if key in self._passed:
            return
        for index in range(len(path) - 1):
            if ders[index] == ders[index + 1]:
                continue        # self-issued
            self._check_one(path[index], ders[index:],
                            what if index == 0 else 'CA')
        if len(self._passed) >= 4096:
            self._passed.clear()
        self._passed.add(key)

    def _key(self, der, name):
        """The comparison key of the name with DER ``der``; ``name()``
        gives the decoded Name, called only when it is not known."""
        key = self._keys.get(der)
        if key is None:
            key = dn_key(slash_dn(name()))
            if len(self._keys) < 4096:
                self._keys[der] = key
        return key

    def _check_one(self, cert, ders, what):
        """``ders``: the subject DER of ``cert`` then of the CAs above."""
        issuer = self._key(ders[1], lambda: cert.issuer)
        found = False
        for kind in self.mode.order:
            located = self._lookup(kind, issuer, ders[1:])
            if located is None:
                continue
            found = True
            policy_file, rules = located
            if policy_file.error is not None:
                subject = slash_dn(cert.subject)
                raise errors.NamespaceViolation(
                    'the %s certificate %s (issued by %s) is refused: the '
                    'policy file %s of its CA does not parse (%s) and '
                    'permits nothing until it is fixed' % (
                        what, subject, slash_dn(cert.issuer),
                        policy_file.path, policy_file.error),
                    public='the %s certificate %s is refused: the server '
                           'cannot read the namespace policy of its CA %s'
                           % (what, subject, slash_dn(cert.issuer)))
            _enforce(rules, self._key(ders[0], lambda: cert.subject), cert,
                     what)
            if not self.mode.both:
                return
        if not found and self.mode.required:
            subject = slash_dn(cert.subject)
            raise errors.NamespaceViolation(
                'the %s certificate %s is refused: its CA %s has no '
                'namespace policy (%s) in %s, and namespace_checking is %s'
                % (what, subject, slash_dn(cert.issuer), ' or '.join(
                    '<hash>' + SUFFIX[k] for k in self.mode.order),
                   self.ca_path, self.mode.name),
                public='the %s certificate %s is refused: its CA %s has no '
                       'namespace policy on the server' % (
                           what, subject, slash_dn(cert.issuer)))

    def _lookup(self, kind, issuer, above):
        """(file, rules for ``issuer``) from the first file of ``kind`` of
        the CAs ``above`` (subject DERs, issuer first) that has rules for
        it or does not parse; ``None`` if there is none."""
        for ca in above:
            for ca_hash in self.ca_hashes.get(ca, ()):
                policy_file = self.files.get((kind, ca_hash))
                if policy_file is None:
                    continue
                if policy_file.error is not None:
                    return policy_file, ()
                rules = policy_file.rules.get(issuer)
                if rules:
                    return policy_file, rules
        return None


def _enforce(rules, key, cert, what):
    """Refuse ``cert`` (subject comparison key ``key``) unless a PERMIT
    rule of ``rules`` matches it and no DENY rule does."""
    for rule in rules:
        if not rule.permit and rule.matches(key):
            subject = slash_dn(cert.subject)
            raise errors.NamespaceViolation(
                'the %s certificate %s is outside the namespace of its CA '
                '%s: denied by %s: %s' % (what, subject,
                                          slash_dn(cert.issuer),
                                          rule.origin, rule.text),
                public='the %s certificate %s is outside the namespace of '
                       'its CA %s' % (what, subject, slash_dn(cert.issuer)))
    if any(rule.permit and rule.matches(key) for rule in rules):
        return
    subject = slash_dn(cert.subject)
    files = sorted({rule.origin.rsplit(':', 1)[0] for rule in rules})
    raise errors.NamespaceViolation(
        'the %s certificate %s is outside the namespace of its CA %s: '
        '%s permits only %s' % (
            what, subject, slash_dn(cert.issuer), ', '.join(files),
            '; '.join('line %s: %s' % (r.origin.rsplit(':', 1)[1], r.text)
                      for r in rules if r.permit) or 'nothing'),
        public='the %s certificate %s is outside the namespace of its CA %s'
               % (what, subject, slash_dn(cert.issuer)))


def load(ca_path: str, mode_name: str,
         cas: Mapping[str, Sequence[x509.Certificate]],
         names: Optional[Iterable[str]] = None) -> NamespacePolicies:
    """Parse the ``<hash>.namespaces`` / ``<hash>.signing_policy`` files of
    ``ca_path`` that ``mode_name`` uses (none for ``ignore``).

    :param cas: ``{hash: [CA certificate, ...]}`` as read from the
        ``<hash>.N`` files (``SELF`` in a ``<hash>.namespaces`` file names
        them).
    :param names: the directory listing, if already read.
    :raises ValueError: ``mode_name`` is not one of :data:`MODES`.
    """
    mode = MODES.get(mode_name)
    if mode is None:
        raise ValueError('namespace checking mode %r is not one of %s'
                         % (mode_name, ', '.join(MODES)))
    files, problems = {}, []
    ca_subjects = {h: [slash_dn(c.subject) for c in certs]
                   for h, certs in cas.items()}
    if not mode.order:
        return NamespacePolicies(mode, ca_path, files, {}, problems)
    if names is None:
        names = os.listdir(ca_path)
    for name in sorted(names):
        match = _POLICY_FILE.match(name)
        if not match:
            continue
        ca_hash, kind = match.group(1), _KIND_OF_SUFFIX[match.group(2)]
        if kind not in mode.order:
            continue
        path = os.path.join(ca_path, name)
        if ca_hash not in ca_subjects:
            problems.append(Problem.warning(
                'the policy file %s belongs to no CA of %s (there is no '
                '%s.0): ignored' % (path, ca_path, ca_hash)))
            continue
        policy_file = read_policy_file(path, kind, ca_hash,
                                       ca_subjects[ca_hash])
        if policy_file.error is not None:
            problems.append(Problem.error(
                'the policy file %s does not parse: %s; certificates of '
                'the CA %s are refused until it is fixed' % (
                    path, policy_file.error,
                    ', '.join(ca_subjects[ca_hash]))))
        files[(kind, ca_hash)] = policy_file
    return NamespacePolicies(mode, ca_path, files, cas, problems)


def read_policy_file(path: str, kind: str, ca_hash: str,
                     self_dns: Sequence[str]) -> PolicyFile:
    """Read and parse one policy file; never raises: an unreadable or
    malformed file has ``error`` set and no rules."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read(MAX_FILE_SIZE + 1)
        if len(data) > MAX_FILE_SIZE:
            raise PolicySyntaxError('larger than %d bytes' % MAX_FILE_SIZE,
                                    1)
        text = data.decode('utf-8')
        if kind == EUGRIDPMA:
            rules = parse_namespaces(text, path, self_dns)
        else:
            rules = parse_signing_policy(text, path)
    except PolicySyntaxError as exc:
        return PolicyFile(path, kind, ca_hash, {},
                          error='line %d: %s' % (exc.line, exc))
    except UnicodeDecodeError:
        return PolicyFile(path, kind, ca_hash, {}, error='not UTF-8 text')
    except OSError as exc:
        return PolicyFile(path, kind, ca_hash, {},
                          error='cannot read it: %s' % (exc.strerror or exc))
    return PolicyFile(path, kind, ca_hash, rules)


