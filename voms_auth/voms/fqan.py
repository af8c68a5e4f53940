"""VOMS Fully Qualified Attribute Names (FQANs).

An FQAN is ``/<vo>[/<subgroup>...][/Role=<role>][/Capability=<cap>]``;
``Role=NULL`` and ``Capability=NULL`` mean "none".
"""

from voms_auth import identity


class InvalidFQAN(ValueError):
    """The string is not an FQAN."""


def parse_fqan(fqan):
    """Return the :class:`~voms_auth.identity.Membership` an FQAN states.

    :raises InvalidFQAN: for anything that is not ``/vo[/group...]`` with
        optional trailing ``Role=`` and ``Capability=`` parts, names (the
        capability too) checked by
        :func:`voms_auth.identity.check_group_path` and
        :func:`~voms_auth.identity.check_role_name`.
    """
    if not isinstance(fqan, str) or not fqan.startswith('/'):
        raise InvalidFQAN('FQAN %r does not start with "/"' % (fqan,))
    parts = fqan[1:].split('/')
    role = None
    if parts and parts[-1].startswith('Capability='):
        capability = parts.pop()[len('Capability='):]
        if capability and not identity.is_role_name(capability):
            raise InvalidFQAN('FQAN %r has a malformed capability'
                              % (fqan,))
    if parts and parts[-1].startswith('Role='):
        role = parts.pop()[len('Role='):]
        if role in ('', 'NULL'):
            role = None
    if not parts:
        raise InvalidFQAN('FQAN %r has an empty or malformed group path'
                          % (fqan,))
    group = '/' + '/'.join(parts)
    try:
        identity.check_group_path(group)
    except ValueError as exc:
        raise InvalidFQAN('FQAN %r has an empty or malformed group path: '
                          '%s' % (fqan, exc)) from None
    try:
        return identity.Membership(vo=parts[0], group=group, role=role,
                                   source=fqan)
    except ValueError as exc:
        raise InvalidFQAN('FQAN %r: %s' % (fqan, exc)) from None
