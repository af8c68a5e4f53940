"""PEM certificate blocks in a text: one splitter for the verifier and the
Keystone glue (mod_ssl variables, front-end headers, proxy files)."""

from voms_auth.voms import errors

_BEGIN = '-----BEGIN CERTIFICATE-----'
_END = '-----END CERTIFICATE-----'


def split_pem_certificates(data):
    """The PEM certificate blocks of ``data``, in order, each ending with
    a line break; private keys and other blocks are skipped.

    ``data`` is ``str`` (blocks are ``str``) or bytes-like (blocks are
    ``bytes``). Blocks are not decoded: a corrupt one is returned as it is,
    for the verifier to refuse with a reason. A block runs from a BEGIN
    line to the first END line after it. Time is linear in ``len(data)``
    (each search starts where the previous one stopped).

    :raises MalformedCredential: ``data`` is neither text nor bytes.
    """
    if isinstance(data, str):
        return _blocks(data, _BEGIN, _END, '\n')
    if isinstance(data, (bytes, bytearray, memoryview)):
        return _blocks(bytes(data), _BEGIN.encode('ascii'),
                       _END.encode('ascii'), b'\n')
    raise errors.MalformedCredential(
        'PEM input must be text or bytes, not %s' % type(data).__name__)


def _blocks(data, begin, end, newline):
    """``begin ... end`` blocks of ``data`` (each + ``newline``), scanning
    forward only."""
    blocks = []
    start = data.find(begin)
    while start >= 0:
        stop = data.find(end, start + len(begin))
        if stop < 0:      # no END after this BEGIN: none after later ones
            break
        stop += len(end)
        blocks.append(data[start:stop] + newline)
        start = data.find(begin, stop)
    return blocks
