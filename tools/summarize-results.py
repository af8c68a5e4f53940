"""Print one 'N passed, N failed, N skipped' line from JUnit XML files.

Exits 1 when no test ran at all, so an empty run never counts as success.
"""

import pathlib
import sys
import xml.etree.ElementTree as ET  # noqa: S405 - our own pytest output


def main(directory):
    passed = failed = skipped = 0
    for path in sorted(pathlib.Path(directory).glob('*.xml')):
        root = ET.parse(path).getroot()  # noqa: S314
        suites = [root] if root.tag == 'testsuite' else root.iter('testsuite')
        for suite in suites:
            total = int(suite.get('tests', 0))
            bad = int(suite.get('failures', 0)) + int(suite.get('errors', 0))
            skip = int(suite.get('skipped', 0))
            failed += bad
            skipped += skip
            passed += total - bad - skip
    print('tests: %d passed, %d failed, %d skipped'
          % (passed, failed, skipped))
    if passed + failed == 0:
        print('error: no test ran', file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else '.test-results'))
