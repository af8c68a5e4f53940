"""Site governance in a mapping file: ``deny`` entries and ``approval``.

Read after the JSON Schema has checked the shape; parts with schema
problems are skipped here (they are reported already). Every problem
names its place (a JSON pointer) and how to fix it.
"""

from voms_auth import identity
from voms_auth.mapping import model

_DENY_KEYS = ('subject', 'issuer', 'vo', 'group')


def _clean(path, broken):
    """Whether nothing at, above or below ``path`` has schema problems."""
    return not any(b[:len(path)] == path or path[:len(b)] == b
                   for b in broken)


def parse_deny(doc, source, broken, problems):
    """The :class:`~.model.Deny` entries of ``doc['deny']``, in file order.

    ``broken`` holds the paths with schema problems; new problems are
    added to ``problems``.
    """
    entries = []
    listed = doc.get('deny', ())
    if not isinstance(listed, list):   # wrong shape: reported already
        return ()
    for index, raw in enumerate(listed):
        if not _clean(('deny', index), broken):
            continue
        where = '%s: /deny/%d/match' % (source, index)
        before = len(problems)
        _deny_problems(raw['match'], where, problems)
        if len(problems) == before:
            match = model.DenyMatch(**raw['match'])
            entries.append(model.Deny(
                '/deny/%d' % index, match,
                raw.get('description', raw.get('comment', ''))))
    return tuple(entries)


def _deny_problems(raw, where, problems):
    """Add the problems of one deny ``match`` object."""
    if not set(raw) & set(_DENY_KEYS):
        problems.append('%s: names no subject, issuer, vo or group; a deny '
                        'entry must not deny everybody: add one of them'
                        % where)
    if 'vo' in raw and 'group' in raw:
        problems.append('%s: give only one of "vo" and "group": a group '
                        'path already names its VO' % where)
        return
    if 'vo' in raw:
        _check_name(identity.check_vo_name, raw['vo'], where,
                    'vo "%s" is not a VO name' % raw['vo'], problems)
    if 'group' in raw:
        _check_name(identity.check_group_path, raw['group'], where,
                    'group "%s" is not a group path like "/vo/subgroup"'
                    % raw['group'], problems)


def _check_name(check, text, where, what, problems):
    """Add a problem when ``check`` (one of identity's grammar checks)
    refuses ``text``."""
    try:
        check(text)
    except ValueError as exc:
        problems.append('%s: %s (%s)' % (where, what, exc))


def parse_approval(doc, source, broken, problems):
    """The :class:`~.model.Approval` of ``doc['approval']``, or ``None``
    when the file has none (or its shape is wrong: reported already)."""
    raw = doc.get('approval')
    if raw is None or not _clean(('approval',), broken):
        return None
    people = []
    seen = {}
    for index, entry in enumerate(raw.get('people', ())):
        person = model.Person(entry['kind'], entry['issuer'],
                              entry['subject'], entry.get('comment', ''))
        where = '/approval/people/%d' % index
        if person.key in seen:
            problems.append('%s: %s: lists the same person as %s; remove '
                            'one' % (source, where, seen[person.key]))
        seen.setdefault(person.key, where)
        people.append(person)
    return model.Approval(raw['required'], tuple(people))


def warnings(source, approval):
    """Warnings about ``approval`` (``None`` when the file has none)."""
    if approval is None or approval.required or not approval.people:
        return ()
    return ('%s: /approval/required: is false, so the people listed are '
            'not checked and everybody a rule matches gets access; set '
            '"required": true to let only them in' % source,)
