"""``python -m physnet.cli``: the ``physnet`` command."""

import sys

from ._main import main

sys.exit(main())
