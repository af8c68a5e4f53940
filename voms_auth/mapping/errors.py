"""Errors of the mapping file."""

from voms_auth import errors


class MappingError(errors.ConfigurationError):
    """The mapping file is missing, unreadable or wrong.

    ``problems`` lists every problem found, each a readable sentence that
    starts with the place: the file, then a line and column (JSON syntax)
    or a JSON pointer such as ``/rules/2/match`` (content).
    """

    def __init__(self, problems):
        self.problems = tuple(problems)
        super().__init__('; '.join(self.problems))
