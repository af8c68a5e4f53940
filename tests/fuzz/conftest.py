"""Hypothesis profiles of the fuzz suite (``tox -e fuzz``).

``ci`` (the default) keeps the whole suite to a few minutes on a 2-core
machine; ``long`` (``HYPOTHESIS_PROFILE=long``) runs ten times as many
examples per target, for a developer's hunt. No deadline: timing on a
shared machine is noisy, and slowness is measured by the benchmarks.
A crasher found is kept as an ``@example`` or a file under ``corpus/``.
"""

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, derandomize=False, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow,
                                      HealthCheck.data_too_large])
settings.register_profile('ci', max_examples=500, **_COMMON)
settings.register_profile('long', max_examples=3000, **_COMMON)
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'ci'))
