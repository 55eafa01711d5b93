"""``python -m thermalstream``: the same as the ``thermalstream`` command."""

import sys

from thermalstream.cli import main

sys.exit(main())
