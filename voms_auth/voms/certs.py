"""Loading certificates so that corrupt ones fail early."""

from cryptography import x509


def parse_fully(cert: x509.Certificate) -> x509.Certificate:
    """Make ``cert`` decode every field verification reads.

    ``cryptography`` decodes names and extensions lazily, so a corrupt
    certificate loads fine and raises ``ValueError`` later, deep inside a
    check; this raises it at once, where it can be reported as malformed
    input.

    :raises ValueError: for a field that does not decode.
    """
    for value in (cert.subject.rdns, cert.issuer.rdns, cert.extensions,
                  cert.serial_number, cert.not_valid_before_utc,
                  cert.not_valid_after_utc, cert.public_key()):
        del value
    return cert
