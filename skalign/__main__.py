"""``python -m skalign``: the same as the ``skalign`` command."""

import sys

from skalign.cli import main

sys.exit(main())
