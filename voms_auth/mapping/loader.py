"""Read a mapping file: JSON syntax, JSON Schema, then meaning.

Every problem is collected, not just the first; each names its place. A
document without ``"version"`` whose values are all ``{"tenant": ...}``
objects is a keystone-voms ``voms.json`` (see :mod:`.legacy`).
"""

import dataclasses
import functools
import importlib.resources
import json

import jsonschema

from voms_auth import identity
from voms_auth.mapping import errors, governance, legacy, model, privilege
from voms_auth.oidc import entitlements
from voms_auth.voms import fqan

VERSION = 1

# VO, group and role names follow the one grammar of voms_auth.identity
# (is_vo_name, is_group_path, is_role_name).

_JSON_TYPES = {dict: 'an object', list: 'an array', str: 'a string',
               bool: 'true or false', int: 'a number', float: 'a number',
               type(None): 'null'}
_SCHEMA_TYPES = {'object': 'an object', 'array': 'an array',
                 'string': 'a string', 'boolean': 'true or false',
                 'number': 'a number', 'integer': 'an integer'}


@functools.cache
def schema():
    """The JSON Schema of version 1 (shipped as ``schema.json``)."""
    text = importlib.resources.files(__package__).joinpath(
        'schema.json').read_text(encoding='utf-8')
    return json.loads(text)


@functools.cache
def _validator():
    cls = jsonschema.Draft202012Validator
    return cls(schema(), format_checker=cls.FORMAT_CHECKER)


def pointer(path):
    """RFC 6901 JSON pointer of a path (sequence of keys and indexes)."""
    if not path:
        return '(top level)'
    return ''.join('/' + str(p).replace('~', '~0').replace('/', '~1')
                   for p in path)


def load_mapping(path, *, default_domain='Default', legacy_role='member'):
    """Read and check the mapping file at ``path``.

    ``default_domain`` is used by grants whose file states no domain;
    ``legacy_role`` is the role a keystone-voms ``voms.json`` grants.

    :raises MappingError: listing every problem (missing or unreadable
        file included).
    """
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except OSError as exc:
        raise errors.MappingError(['%s: cannot read the mapping file: %s'
                                   % (path, exc.strerror or exc)]) from None
    return parse_mapping(data, source=str(path),
                         default_domain=default_domain,
                         legacy_role=legacy_role)


def parse_mapping(text_or_obj, *, source='<string>', default_domain='Default',
                  legacy_role='member'):
    """Check a mapping given as JSON text (str or bytes) or as parsed JSON.

    :raises MappingError: listing every problem found.
    """
    if isinstance(text_or_obj, (str, bytes, bytearray)):
        doc = decode_json(text_or_obj, source)
    else:
        doc = text_or_obj
    if not isinstance(doc, dict):
        raise errors.MappingError(['%s: the top level must be a JSON object, '
                                   'not %s' % (source, _json_type(doc))])
    if legacy.is_legacy(doc):
        return legacy.parse(doc, source=source, domain=default_domain,
                            role=legacy_role)
    return _parse_v1(doc, source, default_domain)


def decode_json(text, source):
    """Parse JSON text, refusing duplicate keys.

    :raises MappingError: with the line and column of a syntax error.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode('utf-8-sig')
        except UnicodeDecodeError as exc:
            raise errors.MappingError(['%s: not UTF-8 text (byte %d)'
                                       % (source, exc.start)]) from None
    duplicates = []

    def no_duplicates(pairs):
        obj = {}
        for key, value in pairs:
            if key in obj:
                duplicates.append(key)
            obj[key] = value
        return obj

    def no_constant(name):
        raise ValueError('%s is not JSON' % name)

    try:
        doc = json.loads(text, object_pairs_hook=no_duplicates,
                         parse_constant=no_constant)
    except json.JSONDecodeError as exc:
        raise errors.MappingError(['%s: line %d column %d: invalid JSON: %s'
                                   % (source, exc.lineno, exc.colno,
                                      exc.msg)]) from None
    except (ValueError, RecursionError) as exc:
        raise errors.MappingError(['%s: invalid JSON: %s'
                                   % (source, exc)]) from None
    if duplicates:
        raise errors.MappingError([
            '%s: key "%s" appears twice in one object (JSON would silently '
            'keep the last one)' % (source, key) for key in duplicates])
    return doc


def _json_type(value):
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _schema_message(error):
    kind = error.validator
    if kind == 'type':
        return 'must be %s, not %s' % (
            _SCHEMA_TYPES.get(error.validator_value, error.validator_value),
            _json_type(error.instance))
    if kind == 'additionalProperties':
        known = error.schema.get('properties', {})
        extra = sorted(k for k in error.instance if k not in known)
        return 'unknown key%s %s (allowed: %s)' % (
            '' if len(extra) == 1 else 's',
            ', '.join('"%s"' % k for k in extra),
            ', '.join(sorted(known)))
    if kind in ('minItems', 'minLength') and error.validator_value == 1:
        return 'must not be empty'
    if kind == 'maxLength':
        return 'is longer than %d characters' % error.validator_value
    if kind == 'uniqueItems':
        return 'lists an item twice'
    if kind == 'enum':
        return 'must be one of %s, not %s' % (
            ', '.join(json.dumps(v) for v in error.validator_value),
            json.dumps(error.instance))
    if kind == 'required':
        return error.message.replace("'", '"')
    return error.message


def _schema_problems(doc):
    """Schema problems as (path, message), sorted by place."""
    found = [(tuple(e.absolute_path), _schema_message(e))
             for e in _validator().iter_errors(doc)]
    found.sort(key=lambda item: [(isinstance(p, str), p) for p in item[0]])
    return found


def _parse_v1(doc, source, default_domain):
    if 'version' not in doc:
        raise errors.MappingError([
            '%s: (top level): "version" is missing (this voms-auth reads '
            '"version": %d)' % (source, VERSION)])
    version = doc['version']
    if type(version) is not int or version != VERSION:
        raise errors.MappingError([
            '%s: /version: unsupported mapping version %s (this voms-auth '
            'reads version %d)' % (source, json.dumps(version), VERSION)])
    problems = []
    broken = set()
    broken_rules = set()
    defaults_ok = True
    for path, message in _schema_problems(doc):
        problems.append('%s: %s: %s' % (source, pointer(path), message))
        broken.add(path)
        if path[:1] == ('defaults',):
            defaults_ok = False
        if len(path) >= 2 and path[0] == 'rules':
            broken_rules.add(path[1])
    if defaults_ok:
        for name in doc.get('defaults', {}).get('roles', ()):
            if not identity.is_role_name(name):
                problems.append('%s: /defaults/roles: role name "%s" '
                                'contains "/", "=" or white space'
                                % (source, name))
    if defaults_ok:
        problems.extend(privilege.defaults_problems(
            source, doc.get('defaults', {}).get('roles', ())))
    rules = []
    raw_rules = doc.get('rules')
    if isinstance(raw_rules, list):
        defaults = doc.get('defaults', {}) if defaults_ok else None
        parsed = []
        for index, raw in enumerate(raw_rules):
            if index not in broken_rules:
                rule = _rule(index, raw, defaults, default_domain, source,
                             problems)
                if rule is not None:
                    parsed.append((rule, raw['grant'].get('create')))
        rules = _settle_projects(parsed, source, problems)
    deny = governance.parse_deny(doc, source, broken, problems)
    approval = governance.parse_approval(doc, source, broken, problems)
    if problems:
        raise errors.MappingError(problems)
    return model.Mapping(
        source=source, rules=tuple(rules),
        description=doc.get('description', ''), deny=deny,
        approval=approval,
        warnings=(privilege.warnings(source, rules)
                  + governance.warnings(source, approval)))


def _rule(index, raw, defaults, default_domain, source, problems):
    """One rule, or ``None`` after adding its problems."""
    where = '%s: /rules/%d' % (source, index)
    before = len(problems)
    match = _match(raw['match'], where + '/match', problems)
    grant = raw['grant']
    for name in grant.get('roles', ()):
        if not identity.is_role_name(name):
            problems.append('%s/grant/roles: role name "%s" contains "/", '
                            '"=" or white space' % (where, name))
    problems.extend(privilege.rule_problems(
        where, grant.get('roles', ()), raw.get('allow_cloud_admin', False)))
    if defaults is None:  # the defaults are broken; reported already
        return None
    roles = grant.get('roles', defaults.get('roles'))
    if roles is None:
        problems.append('%s/grant: grants no roles: give "roles" here or '
                        'in "defaults"' % where)
    if len(problems) > before or match is None:
        return None
    domain = grant.get('domain', defaults.get('domain', default_domain))
    create = grant.get('create', defaults.get('create', False))
    return model.Rule(
        name='/rules/%d' % index,
        match=match,
        grant=model.Grant(grant['project'], domain, tuple(roles), create),
        description=raw.get('description', raw.get('comment', '')),
        allow_cloud_admin=raw.get('allow_cloud_admin', False))


def _match(raw, where, problems):
    """The :class:`~.model.Match` of a ``match`` object, or ``None``."""
    before = len(problems)

    def problem(text):
        problems.append('%s: %s' % (where, text))

    present = set(raw) & {'vo', 'group', 'fqan', 'entitlement'}
    if not present:
        problem('names no VO, group, fqan or entitlement; a rule must not '
                'match everybody')
    elif len(present) > 1:
        problem('give only one of "vo", "group", "fqan", "entitlement" '
                '(found %s): a group path already names its VO'
                % ', '.join('"%s"' % k for k in sorted(present)))
    if 'role' in raw and not set(raw) & {'vo', 'group'}:
        problem('"role" needs "vo" or "group" (a role name alone would '
                'match that role in every VO)')
    if 'subgroups' in raw and 'group' not in raw:
        problem('"subgroups" needs "group"')
    vo = raw.get('vo')
    if vo is not None and not identity.is_vo_name(vo):
        problem('vo "%s" is not a VO name (no "/", "=" or white space)' % vo)
    group = raw.get('group')
    if group is not None and not identity.is_group_path(group):
        hint = (' (for a role use "role", e.g. "group": "/dteam", '
                '"role": "VM-Manager")' if '=' in group else '')
        problem('group "%s" is not a group path like "/vo/subgroup"%s'
                % (group, hint))
    role = raw.get('role')
    if role is not None:
        if role == 'NULL':
            problem('role "NULL" means "no role" in an FQAN and matches '
                    'nothing; leave "role" out to match any role')
        elif not identity.is_role_name(role):
            problem('role "%s" contains "/", "=" or white space' % role)
    parsed_fqan = None
    if 'fqan' in raw:
        try:
            parsed_fqan = fqan.parse_fqan(raw['fqan'])
        except fqan.InvalidFQAN as exc:
            problem('fqan: %s' % exc)
        if raw.get('kind') == 'oidc':
            problem('"fqan" matches VOMS credentials only; "kind": "oidc" '
                    'makes this rule match nothing')
    if 'entitlement' in raw:
        if entitlements.parse_entitlement(raw['entitlement']) is None:
            problem('entitlement "%s" is not an AARC group entitlement '
                    '(urn:...:group:<vo>[:<subgroup>...][:role=<role>]'
                    '[#<authority>])' % raw['entitlement'])
        if raw.get('kind') == 'voms':
            problem('"entitlement" matches OIDC credentials only; "kind": '
                    '"voms" makes this rule match nothing')
    generic = _generic_attributes(raw, problem)
    if len(problems) > before:
        return None
    return model.Match(vo=vo, group=group,
                       subgroups=raw.get('subgroups', False), role=role,
                       fqan=parsed_fqan, entitlement=raw.get('entitlement'),
                       kind=raw.get('kind'), issuer=raw.get('issuer'),
                       robot=raw.get('robot'), generic_attributes=generic)


def _generic_attributes(raw, problem):
    """``match.generic_attributes`` (``{name: value or [values]}``, the
    schema checked its shape) as ``((name, (value, ...)), ...)`` sorted by
    name, or ``None`` when absent; adds a problem when it cannot match."""
    wanted = raw.get('generic_attributes')
    if wanted is None:
        return None
    if 'entitlement' in raw or raw.get('kind') == 'oidc':
        problem('"generic_attributes" matches VOMS credentials only (the '
                'Generic Attributes of their attribute certificates); with '
                '"entitlement" or "kind": "oidc" this rule matches nothing')
    if '' in wanted:
        problem('generic_attributes: an attribute name must not be empty')
    return tuple(sorted(
        (name, (values,) if isinstance(values, str) else tuple(values))
        for name, values in wanted.items()))


def _settle_projects(parsed, source, problems):
    """Give every rule naming a project the same domain and ``create``.

    ``parsed`` holds ``(rule, create)`` pairs, ``create`` as the rule's
    grant states it (``None`` when it does not). A project name lives in
    one domain only. ``create`` is a property of the project: rules that
    state it must agree; rules that do not state it take the stated value,
    else the default. Returns the rules.
    """
    by_project = {}
    for rule, stated_create in parsed:
        by_project.setdefault(rule.grant.project, []).append(
            (rule, stated_create))
    created = {}
    for project, named in by_project.items():
        domains = {}
        for rule, _ in named:
            domains.setdefault(rule.grant.domain, []).append(rule.name)
        if len(domains) > 1:
            problems.append(
                '%s: project "%s" is put in different domains (%s); use '
                'one domain per project name, or different project names'
                % (source, project, '; '.join(
                    '"%s" by %s' % (d, ', '.join(n))
                    for d, n in domains.items())))
        stated = {}
        for rule, stated_create in named:
            if stated_create is not None:
                stated.setdefault(stated_create, []).append(rule.name)
        if len(stated) > 1:
            problems.append(
                '%s: project "%s" has contradicting "create" settings: '
                'true in %s, false in %s' % (
                    source, project, ', '.join(stated[True]),
                    ', '.join(stated[False])))
        elif stated:
            created[project] = next(iter(stated))
    return [
        dataclasses.replace(rule, grant=dataclasses.replace(
            rule.grant, create=created.get(rule.grant.project,
                                           rule.grant.create)))
        for rule, _ in parsed]
