"""PEM certificate blocks in a text: one splitter for the verifier and the
Keystone glue (mod_ssl variables, front-end headers, proxy files)."""

import re

_BLOCK = r'-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----'
_TEXT = re.compile(_BLOCK, re.DOTALL)
_BYTES = re.compile(_BLOCK.encode('ascii'), re.DOTALL)


def split_pem_certificates(data):
    """The PEM certificate blocks of ``data``, in order, each ending with
    a line break; private keys and other blocks are skipped.

    ``data`` is ``str`` (blocks are ``str``) or ``bytes`` (blocks are
    ``bytes``). Blocks are not decoded: a corrupt one is returned as it is,
    for the verifier to refuse with a reason.
    """
    if isinstance(data, str):
        return [block + '\n' for block in _TEXT.findall(data)]
    return [block + b'\n' for block in _BYTES.findall(bytes(data))]
