"""The ``physnet`` command line: simulate, import, datasets, train, evaluate, analyze,
compare, reproduce.

User errors (bad files, bad options, NaN in data, diverging training) print one line on stderr
and exit with status 2; nothing is left half-written.
"""

from ._main import EXIT_USER_ERROR as EXIT_USER_ERROR
from ._main import build_parser as build_parser
from ._main import main as main
