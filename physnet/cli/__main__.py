"""``python -m physnet.cli``: the ``physnet`` command."""

import sys

from . import main

sys.exit(main())
