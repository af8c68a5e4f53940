"""Roots of the error hierarchy shared by every part of voms-auth.

Each part subclasses these with errors named for what went wrong. The
message of every error is written for the site admin or the user: it says
what was refused and why, and never contains key material.

Every error carries two texts, both with control characters escaped by
:func:`printable` (so that a hostile name cannot forge log lines):

* ``str(exc)`` / ``exc.detail``: the full reason, for the log and the CLI
  (it may name server paths such as the CA directory or vomsdir);
* ``exc.public``: the reason for an anonymous client (HTTP 401 body),
  without server paths; the same as ``detail`` unless the raiser gave a
  ``public=`` text.
"""

_ESCAPES = {'\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t'}


def printable(text) -> str:
    """``text`` (any object, shown with ``str``) on one safe line:
    backslash, C0/C1 control characters, DEL and Unicode line/paragraph
    separators are written as Python-style escapes (``\\n``, ``\\x00``,
    ``\\u2028``); everything else is kept. Pure; never raises."""
    try:
        text = text if isinstance(text, str) else str(text)
    except Exception:  # noqa: BLE001 - a broken __str__ still shows
        text = '<%s>' % type(text).__name__
    if text.isprintable() and '\\' not in text:
        return text
    return ''.join(_escape(char) for char in text)


def _escape(char):
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    if code < 0x20 or 0x7f <= code < 0xa0:
        return '\\x%02x' % code
    if code in (0x2028, 0x2029, 0x85) or not char.isprintable() and \
            not char.isspace():
        return '\\u%04x' % code if code <= 0xffff else '\\U%08x' % code
    return char


class VomsAuthError(Exception):
    """Base of every error raised on purpose by voms-auth.

    :param message: the full reason (escaped with :func:`printable`).
    :param public: the reason shown to anonymous clients when ``message``
        names server paths or other site details (default: ``message``).
    """

    def __init__(self, message='', *args, public=None):
        if isinstance(message, str):
            message = printable(message)
        super().__init__(message, *args)
        self._public = None if public is None else printable(public)

    @property
    def detail(self) -> str:
        """The full reason, for the log and the command line."""
        return str(self)

    @property
    def public(self) -> str:
        """The reason for an anonymous client: no server paths."""
        return self.detail if self._public is None else self._public


class CredentialError(VomsAuthError):
    """A presented credential is refused (CLI exit 1, HTTP 401)."""


class ConfigurationError(VomsAuthError):
    """The site's configuration or trust material is unusable (CLI exit 2)."""
