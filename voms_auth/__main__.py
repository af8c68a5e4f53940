import sys

from voms_auth.cli import main

sys.exit(main())
