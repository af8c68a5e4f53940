"""The one identity type that every credential kind is verified into.

A VOMS proxy and an OIDC access token both end up as an :class:`Identity`;
the mapping and the Keystone glue consume nothing else.
"""

from __future__ import annotations

import dataclasses
import datetime
import types
from typing import Mapping, Optional, Tuple

#: Credential kinds an :class:`Identity` can come from.
KIND_VOMS = 'voms'
KIND_OIDC = 'oidc'
KINDS = (KIND_VOMS, KIND_OIDC)

# -- the one grammar of VO, group and role names ------------------------------
#
# A VO name, each element of a group path and a role name are one
# "element": not empty, not "." or "..", and without "/", "=", "\\",
# white space or control characters. FQANs, entitlements, WLCG groups and
# the mapping file are all checked against it.

#: Characters never allowed in an element (besides white space and
#: control characters).
_RESERVED = frozenset('/=\\')


def _element_problem(text):
    """Why ``text`` is no name element, or ``None``."""
    if not isinstance(text, str):
        return 'is not a string'
    if not text:
        return 'is empty'
    if text in ('.', '..'):
        return 'is "%s"' % text
    for char in text:
        if char.isspace():
            return 'contains white space'
        if ord(char) < 32 or ord(char) == 127:
            return 'contains a control character'
        if char in _RESERVED:
            return 'contains "%s"' % char
    return None


def _refuse(what, text, problem):
    raise ValueError('%s %r %s' % (what, text, problem))


def check_vo_name(text: str) -> str:
    """Return ``text`` if it is a VO name (one element, e.g. ``dteam``).

    :raises ValueError: naming what is wrong with it.
    """
    problem = _element_problem(text)
    if problem:
        _refuse('VO name', text, problem)
    return text


def check_group_path(text: str) -> str:
    """Return ``text`` if it is an absolute group path, ``/vo[/sub...]``,
    each element as :func:`check_vo_name` wants it.

    :raises ValueError: naming what is wrong with it.
    """
    if not isinstance(text, str) or not text.startswith('/'):
        _refuse('group path', text, 'does not start with "/"')
    for element in text[1:].split('/'):
        problem = _element_problem(element)
        if problem:
            _refuse('group path', text, 'has an element that %s' % problem)
    return text


def check_role_name(text: str) -> str:
    """Return ``text`` if it is a role name (one element, e.g.
    ``VM-Manager``).

    :raises ValueError: naming what is wrong with it.
    """
    problem = _element_problem(text)
    if problem:
        _refuse('role name', text, problem)
    return text


def _succeeds(check):
    def test(text):
        try:
            check(text)
        except ValueError:
            return False
        return True
    test.__name__ = check.__name__.replace('check_', 'is_')
    test.__doc__ = 'Whether :func:`%s` accepts ``text``.' % check.__name__
    return test


is_vo_name = _succeeds(check_vo_name)
is_group_path = _succeeds(check_group_path)
is_role_name = _succeeds(check_role_name)


@dataclasses.dataclass(frozen=True)
class Membership:
    """One VO membership: a group path within a VO, optionally with a role.

    ``group`` is an absolute path whose first element is the VO
    (``/dteam/ibergrid``); ``role`` is ``None`` when the credential states
    no role (VOMS ``Role=NULL``, an entitlement without ``role=``).
    ``source`` is the raw string it was read from (FQAN or entitlement); it
    does not take part in equality.

    :raises ValueError: on construction, when a name breaks the grammar of
        :func:`check_vo_name`, :func:`check_group_path` and
        :func:`check_role_name`, or the group is not inside the VO.
    """

    vo: str
    group: str
    role: Optional[str] = None
    source: str = dataclasses.field(default='', compare=False)

    def __post_init__(self):
        check_vo_name(self.vo)
        check_group_path(self.group)
        if not (self.group == '/' + self.vo
                or self.group.startswith('/' + self.vo + '/')):
            raise ValueError('group %r is not inside VO %r'
                             % (self.group, self.vo))
        if self.role is not None:
            check_role_name(self.role)

    def as_dict(self) -> dict:
        return {'vo': self.vo, 'group': self.group, 'role': self.role}


@dataclasses.dataclass(frozen=True)
class Identity:
    """A verified person.

    ``(kind, issuer, subject)`` names the person: for VOMS the issuing CA's
    DN and the user's DN (slash form), for OIDC ``iss`` and ``sub``. The same
    subject under another issuer is another person.
    ``expires_at`` (aware, UTC) is the earliest instant at which any part of
    the credential stops being valid. ``attributes`` holds kind-specific
    read-only details (VOMS server, token claims, ...).
    """

    kind: str
    issuer: str
    subject: str
    name: str
    memberships: Tuple[Membership, ...]
    expires_at: datetime.datetime
    attributes: Mapping[str, object] = dataclasses.field(
        default_factory=dict, compare=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError('unknown credential kind %r' % (self.kind,))
        if not self.issuer or not self.subject:
            raise ValueError('an identity needs an issuer and a subject')
        if self.expires_at.tzinfo is None:
            raise ValueError('expires_at must be timezone-aware')
        object.__setattr__(self, 'memberships', tuple(self.memberships))
        object.__setattr__(self, 'attributes',
                           types.MappingProxyType(dict(self.attributes)))

    def as_dict(self) -> dict:
        return {
            'kind': self.kind,
            'issuer': self.issuer,
            'subject': self.subject,
            'name': self.name,
            'memberships': [m.as_dict() for m in self.memberships],
            'expires_at': format_time(self.expires_at),
        }


def format_time(when: datetime.datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix and whole seconds."""
    when = when.astimezone(datetime.timezone.utc).replace(microsecond=0)
    return when.strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_time(text: str) -> datetime.datetime:
    """Parse an RFC 3339 timestamp; naive input is refused.

    :raises ValueError: when ``text`` is not RFC 3339 with an offset.
    """
    value = text.strip()
    if value.endswith(('Z', 'z')):
        value = value[:-1] + '+00:00'
    when = datetime.datetime.fromisoformat(value)
    if when.tzinfo is None:
        raise ValueError('timestamp %r has no time zone' % (text,))
    return when.astimezone(datetime.timezone.utc)
