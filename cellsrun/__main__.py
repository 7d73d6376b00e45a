"""``python -m cellsrun`` is the same as the ``cellsrun`` command."""

import sys

from cellsrun.cli import main

sys.exit(main())
