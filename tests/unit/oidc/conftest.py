"""Fixtures of the OIDC tests: the real OpenID Provider."""

from tests.support.oidc_provider import oidc_provider  # noqa: F401
