"""physnet's version: pyproject.toml's ``[project] version``, read from the installed package's
metadata (the single source), or ``0+unknown`` for a source tree on ``sys.path`` that was
never installed."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("physnet")
except PackageNotFoundError:
    __version__ = "0+unknown"
