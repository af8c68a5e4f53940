"""Robot certificates and EGI per-user sub-proxies (PUSP).

A *robot certificate* is a user certificate a CA issues to a service, not
to a person; IGTF CAs put the word into the CN: ``CN=Robot: <name>`` (also
seen as ``CN=Robot - <name>``). :func:`is_robot` recognises that form.

A *per-user sub-proxy* (EGI PUSP, https://wiki.egi.eu/wiki/
Usage_of_the_per_user_sub_proxy_in_EGI) lets a portal act for each of its
users with one robot certificate: the first proxy the robot issues carries
the portal user in its extra CN (``.../CN=Robot: portal/CN=user:jdoe``). The
spec's conditions: the end-entity certificate is a robot, the PUSP is an
RFC 3820 proxy and it is the FIRST delegation; software should not assume
a form of the extra CN, and the whole PUSP DN names the user.

voms-auth splits a robot's proxies into per-user identities only for the
robots a site lists (:class:`PuspRobots`, each robot DN with the DN of the
CA that issued it): anyone holding a robot's key can put any CN into its
proxies, so only robots whose operators the site trusts to name their users
honestly are split. Proxies of any other robot are the robot itself (one
person, the robot's DN), as the spec says for proxies that are not PUSPs.
"""

from __future__ import annotations

import dataclasses
import re
from typing import FrozenSet, Optional, Tuple

from voms_auth import errors
from voms_auth.cache import memoized
from voms_auth.voms.names import normalize_dn

# ``/CN=Robot: name`` or ``/CN=Robot - name`` anywhere in a slash DN
# ("Robot" in any case).
_ROBOT_CN = re.compile(r'/CN=robot(?:\s*:|\s+-\s)', re.IGNORECASE)
# One line of a robot list: two double-quoted DNs, robot then CA.
_LINE = re.compile(r'^"(/[^"]+)"\s+"(/[^"]+)"$')


class RobotListError(errors.ConfigurationError):
    """The PUSP robot list cannot be read or has a malformed line."""


@memoized(size=1024, longest=1024)
def is_robot(dn: str) -> bool:
    """Whether the slash-form ``dn`` names a robot certificate (a CN
    starting ``Robot:`` or ``Robot - ``). Remembered: the same user's DN
    comes back at every login (the search cost 1 us of a verification).
    """
    return bool(_ROBOT_CN.search(dn))


@dataclasses.dataclass(frozen=True)
class PuspRobots:
    """The robots whose per-user sub-proxies are distinct people:
    ``entries`` holds ``(robot DN, issuing CA DN)`` pairs in slash form
    (spelling normalised as :func:`~voms_auth.voms.names.normalize_dn`)."""

    entries: FrozenSet[Tuple[str, str]] = frozenset()
    source: str = '(none)'

    def __post_init__(self):
        object.__setattr__(self, 'entries', frozenset(
            (normalize_dn(robot), normalize_dn(ca))
            for robot, ca in self.entries))

    def __bool__(self):
        return bool(self.entries)

    def listed(self, user: str, user_ca: str) -> bool:
        """Whether the certificate ``user`` issued by ``user_ca`` is a
        listed robot."""
        return (user, user_ca) in self.entries

    def pusp_subject(self, user: str, user_ca: str,
                     first_proxy: str) -> Optional[str]:
        """The PUSP DN (``first_proxy``) when ``user`` (issued by
        ``user_ca``) is a listed robot, else ``None``.

        ``first_proxy`` is the DN of the proxy ``user``'s certificate
        signed, which the proxy rules make ``user`` plus one CN.
        """
        if not self.listed(user, user_ca):
            return None
        if not first_proxy.startswith(user + '/CN='):
            return None
        return first_proxy

    @classmethod
    def load(cls, path: str) -> PuspRobots:
        """Read a robot list: one robot a line, its DN and the DN of the
        CA that issued it, each in double quotes (slash form, as
        ``openssl x509 -noout -subject -issuer -nameopt compat`` prints
        them); blank lines and lines starting with ``#`` are skipped::

            "/DC=org/DC=example/CN=Robot: portal" "/DC=org/DC=example/CN=CA"

        :raises RobotListError: the file cannot be read, a line is not two
            quoted slash-form DNs, or a listed DN is not a robot's.
        """
        try:
            with open(path, encoding='utf-8') as handle:
                lines = handle.read().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise RobotListError('cannot read the PUSP robot list %s: %s'
                                 % (path, getattr(exc, 'strerror', None)
                                    or exc)) from None
        entries = set()
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith('#'):
                continue
            found = _LINE.match(text)
            if found is None:
                raise RobotListError(
                    '%s line %d: expected "<robot DN>" "<CA DN>", two '
                    'slash-form DNs in double quotes' % (path, number))
            robot, ca = found.groups()
            if not is_robot(robot):
                raise RobotListError(
                    '%s line %d: %s is not a robot DN (its CN must start '
                    'with "Robot:" or "Robot - ")' % (path, number, robot))
            entries.add((robot, ca))
        return cls(frozenset(entries), source=path)
