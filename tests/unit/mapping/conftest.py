"""Fixtures of the mapping tests: the real OpenID Provider (for
``explain --token``)."""

from tests.support.oidc_provider import oidc_provider  # noqa: F401
