"""Roots of the error hierarchy shared by every part of voms-auth.

Each part subclasses these with errors named for what went wrong. The
message of every error is written for the site admin or the user: it says
what was refused and why, and never contains key material.
"""


class VomsAuthError(Exception):
    """Base of every error raised on purpose by voms-auth."""


class CredentialError(VomsAuthError):
    """A presented credential is refused (CLI exit 1, HTTP 401)."""


class ConfigurationError(VomsAuthError):
    """The site's configuration or trust material is unusable (CLI exit 2)."""
