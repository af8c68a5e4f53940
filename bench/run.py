"""Run every ``bench/bench_*.py`` module's ``main()`` in turn.

Benchmarks print figures and ratios against a baseline measured in the same
process; they assert nothing about speed. ``python bench/run.py voms`` runs
only the modules whose name contains ``voms``.
"""

import importlib.util
import pathlib
import sys


def main(argv):
    here = pathlib.Path(__file__).resolve().parent
    wanted = argv[1:]
    failures = 0
    for path in sorted(here.glob('bench_*.py')):
        if wanted and not any(w in path.stem for w in wanted):
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print('=== %s ===' % path.stem, flush=True)
        try:
            module.main()
        except Exception as exc:  # noqa: BLE001 - report, go on with others
            failures += 1
            print('benchmark %s failed: %s: %s'
                  % (path.stem, type(exc).__name__, exc), flush=True)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
