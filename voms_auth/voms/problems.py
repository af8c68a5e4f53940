"""Problems of the trust material, with a severity.

A :class:`Problem` is a ``str`` (the readable sentence, as
:attr:`TrustSnapshot.problems` always held) that also says how bad it is:

* ``error`` -- logins that depend on it are refused (a CA without CRL, a
  partial chain, an LSC line in the wrong form, a policy file that does
  not parse, an expired CA or CRL);
* ``warning`` -- nothing is refused yet, but will be or may be (a CRL in
  its grace period, a CA or CRL about to expire, a stray file).

A plain ``str`` counts as an error.
"""


class Problem(str):
    """A problem sentence with a :attr:`severity` (``error``/``warning``).
    """

    ERROR = 'error'
    WARNING = 'warning'
    severity = ERROR

    def __new__(cls, text, severity=ERROR):
        if severity not in (cls.ERROR, cls.WARNING):
            raise ValueError('severity must be error or warning')
        self = super().__new__(cls, text)
        self.severity = severity
        return self

    @classmethod
    def error(cls, text):
        """An error: logins depending on it are refused."""
        return cls(text, cls.ERROR)

    @classmethod
    def warning(cls, text):
        """A warning: nothing is refused because of it yet."""
        return cls(text, cls.WARNING)


def severity(problem) -> str:
    """The severity of ``problem`` (a plain ``str`` is an error)."""
    return getattr(problem, 'severity', Problem.ERROR)
