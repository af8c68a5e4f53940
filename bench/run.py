"""Run every ``bench/bench_*.py`` in its own Python process.

Benchmarks print figures and ratios against a baseline measured in the same
process; they assert nothing about speed. Each runs in a fresh interpreter
so that one benchmark's process-wide state (Keystone's configuration and
logging, caches) cannot touch another's figures.
``python bench/run.py voms`` runs only the modules whose name contains
``voms``. Exits 1 when a benchmark fails to run.
"""

import os
import pathlib
import subprocess
import sys


def main(argv):
    here = pathlib.Path(__file__).resolve().parent
    wanted = argv[1:]
    failures = []
    for path in sorted(here.glob('bench_*.py')):
        if wanted and not any(w in path.stem for w in wanted):
            continue
        print('=== %s ===' % path.stem, flush=True)
        # The test support (tests/support: PKI, local Keystone) lives in
        # the source tree, not in the installed package.
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [str(here.parent), os.environ.get('PYTHONPATH')])))
        result = subprocess.run([sys.executable, str(path)], check=False,
                                cwd=here.parent, env=env)
        if result.returncode != 0:
            failures.append(path.stem)
            print('benchmark %s failed (exit %d)'
                  % (path.stem, result.returncode), flush=True)
    if failures:
        print('failed benchmarks: %s' % ', '.join(failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
