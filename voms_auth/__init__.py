"""VOMS proxy and OIDC access-token authentication for OpenStack Keystone."""
