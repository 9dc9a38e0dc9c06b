"""Safe outputs: atomic writes that never delete or move anything physnet did not create.

Every directory physnet writes (a run, an evaluation, a results page, an experiment's folder)
carries a marker file :data:`MARKER` naming its kind. :func:`check_output` decides, before any
work starts, whether a target may be written:

- a target that does not exist, or an empty directory, is fine;
- an existing physnet output of the same kind is replaced only with ``overwrite=True`` (the
  command line's ``--overwrite``), and only when it holds nothing but physnet's own entries
  (:func:`foreign_entries`): a user's file in it (a NOTES.txt beside a run, a results page,
  an experiment's folder, an analysis) is never deleted, the replacement refused instead;
- anything else (a non-empty folder physnet did not write, a file where a folder goes, a
  folder of another kind) is refused with one line, and so is a target that is one of the
  command's inputs or contains one.

:func:`atomic_directory` and :func:`atomic_path` write into a temporary sibling and rename it
into place only on success; files and folders get the permissions the umask gives (not the
0600/0700 of ``mkstemp``/``mkdtemp``). :func:`write_json` writes strict JSON: a non-finite
number becomes ``null`` and its key is listed under ``"non_finite"`` with the reason.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ._errors import ConfigError, PhysnetError
from ._version import __version__


class OutputWriteError(PhysnetError, OSError):
    """A write physnet could not complete (a full disk, a quota): one line saying what is
    intact and how to continue."""


#: the marker file of a directory physnet wrote: ``{"kind": ..., "physnet": version}``
MARKER = ".physnet-output"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _apply_umask(path: Path, directory: bool) -> None:
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def output_kind(path: str | os.PathLike) -> str | None:
    """The kind of physnet output directory at ``path`` (its marker), or ``None``.

    Run directories and checkpoints written before markers existed are recognised by their
    ``config.json`` (with ``run_format``) and ``model.json`` (with ``format_version``); a
    folder holding only experiment folders (and ``summary.json``) is a results folder.
    """
    path = Path(path)
    if not path.is_dir():
        return None
    marker = path / MARKER
    if marker.is_file():
        try:
            kind = json.loads(marker.read_text()).get("kind")
        except (OSError, UnicodeDecodeError, ValueError, AttributeError):
            return None
        return kind if isinstance(kind, str) else None
    entries = list(path.iterdir())
    if entries and all(
        (e.name == "summary.json" and e.is_file()) or output_kind(e) == "experiment"
        for e in entries
    ):  # experiments written one by one (experiments/<e#>/main.py --workdir DIR/E#)
        return "results"
    legacy = {"run": ("config.json", "run_format"), "checkpoint": ("model.json", "format_version")}
    for kind, (name, key) in legacy.items():
        try:
            if key in json.loads((path / name).read_text()):
                return kind
        except (OSError, UnicodeDecodeError, ValueError, TypeError):
            continue
    return None


#: the lock file of a run directory being written (:func:`physnet.runs._rundir.lock_run`)
LOCK_FILE = ".lock"

#: what physnet itself may write into an output of each kind, besides the entries listed in
#: its marker (``"files"``, written by :func:`atomic_directory`); an entry outside both is a
#: user's file, and ``--overwrite`` refuses to replace the folder (it never deletes it). The
#: fixed lists also recognise outputs whose marker predates the ``"files"`` list.
KNOWN_ENTRIES = {
    "run": {
        "config.json",
        "split.json",
        "metrics.json",
        "checkpoint",
        "training.npz",
        "training-options.json",
        "evaluation",
        "ntk",
        ".lock",
    },
    "evaluation": {"metrics.json"},
    "checkpoint": {"model.json", "state.npz"},
    "report": {"README.md", "summary.json", "figures"},
    "ntk analysis": {"ntk.json", "spectrum.png", "error_spectrum.png"},
}

#: kinds of output folder that physnet writes into entry by entry and never replaces as a
#: whole where :func:`check_output` admits them (a results folder gains experiment folders,
#: each replaced on its own; ``save_model`` replaces a checkpoint's two files): a user's file
#: beside their entries stays, so it is no obstacle there
GROWN_KINDS = {"results", "checkpoint"}


def _physnet_temporary(name: str) -> bool:
    """A temporary entry physnet's atomic writes leave only when killed mid-write."""
    return name.startswith(".") and name.endswith((".tmp", ".old", ".new"))


#: physnet outputs inside a run directory, checked as outputs of their own kind (also when
#: written before markers existed); any other folder of physnet's holding a marker is checked
#: as its marker's kind
_SUBKINDS = {"run": {"checkpoint": "checkpoint", "evaluation": "evaluation", "ntk": "ntk analysis"}}


def _listed_files(path: Path) -> set[str] | None:
    """The entries the marker of ``path`` lists as physnet's (``None`` without a list)."""
    try:
        listed = json.loads((path / MARKER).read_text()).get("files")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return None
    return {x for x in listed if isinstance(x, str)} if isinstance(listed, list) else None


def foreign_entries(path: Path, kind: str) -> list[str]:
    """The entries of the physnet output folder ``path`` of ``kind`` that physnet did not
    write, sorted: what ``--overwrite`` would delete with the folder, so it refuses. A physnet
    output inside it (a run's ``checkpoint/``, ``evaluation/``, ``ntk/``, an experiment's
    runs) is searched too; a folder holding physnet's marker counts as physnet's (an
    evaluation written into a run with ``--out RUN/NAME``). ``[]`` for an output whose
    entries physnet cannot tell (a marker without a ``"files"`` list, of a kind without a
    fixed list)."""
    listed = _listed_files(path)
    if listed is None and kind not in KNOWN_ENTRIES:
        return []
    allowed = {MARKER} | KNOWN_ENTRIES.get(kind, set()) | (listed or set())
    found = []
    for entry in path.iterdir():
        folder = entry.is_dir() and not entry.is_symlink()
        marked = folder and (entry / MARKER).is_file()  # e.g. an evaluation's --out in a run
        if entry.name not in allowed and not marked:
            if not _physnet_temporary(entry.name):
                found.append(entry.name)
            continue
        if not folder:
            continue
        sub = _SUBKINDS.get(kind, {}).get(entry.name) or output_kind(entry)
        if sub is not None:
            found += [f"{entry.name}/{e}" for e in foreign_entries(entry, sub)]
    return sorted(found)


_PATH_ERRORS = {
    errno.ENAMETOOLONG: "the name is too long for the file system",
    errno.ELOOP: "a symbolic link loop (a link that points back to itself)",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EACCES: "permission denied",
}


def path_problem(err: BaseException) -> str:
    """One phrase for an ``OSError`` (or the ``RuntimeError`` of a symlink loop) raised on a
    path the user named."""
    if isinstance(err, RuntimeError):  # pathlib.Path.resolve on a symlink loop (Python 3.11)
        return _PATH_ERRORS[errno.ELOOP]
    if isinstance(err, OSError) and err.errno in _PATH_ERRORS:
        return _PATH_ERRORS[err.errno]
    return getattr(err, "strerror", None) or str(err)


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_output(
    path: str | os.PathLike,
    kind: str,
    *,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike] = (),
    directory: bool = True,
    recognise: Callable[[Path], bool] | None = None,
    flag: str = "--out",
) -> Path:
    """Check, before any work, that ``path`` may receive a physnet output of ``kind``.

    Args:
        path: the target directory (or file, with ``directory=False``).
        kind: the output's kind (``"run"``, ``"evaluation"``, ``"report"``, ...).
        overwrite: replace an existing physnet output of the same kind.
        inputs: files and folders the command reads; the target may be none of them and may
            not contain one.
        directory: whether the output is a directory (else a file).
        recognise: for a file output, whether an existing file is a physnet output of this
            kind (e.g. a physnet data file).
        flag: the option named in messages.

    Returns:
        the target as a :class:`~pathlib.Path`.

    Raises:
        ConfigError: with one line naming the target, why it is refused and what to do.
    """
    if path is None or str(path).strip() == "":
        raise ConfigError(f"{flag} is empty; name the {kind} output to write")
    try:
        return _check_output(path, kind, overwrite, inputs, directory, recognise, flag)
    except (OSError, RuntimeError) as err:  # a name too long, a symlink loop, ...
        name = getattr(err, "filename", None)
        where = f"{flag} {path}" + ("" if name in (None, str(path)) else f": {name}")
        raise ConfigError(f"{where}: {path_problem(err)}") from None


def _check_output(path, kind, overwrite, inputs, directory, recognise, flag) -> Path:
    path = Path(path)
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        os.lstat(path)  # an over-long name fails here
    target = path.resolve(strict=False)  # a symlink loop fails here
    for item in inputs:
        if item is None:
            continue
        try:
            source = Path(item).resolve()
        except (OSError, RuntimeError) as err:
            raise ConfigError(f"{item}: {path_problem(err)}") from None
        if _inside(source, target):
            raise ConfigError(
                f"{flag} {path} would replace the input {item}; write the {kind} elsewhere"
            )
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path}: {parent} is not a writable directory")
    if not path.exists() and not path.is_symlink():
        return path
    if directory:
        if not path.is_dir() or path.is_symlink():
            raise ConfigError(
                f"{flag} {path} exists and is not a directory; physnet never replaces it: "
                "choose another name"
            )
        if not any(e.name != LOCK_FILE for e in path.iterdir()):
            return path
        found = output_kind(path)
        if found != kind:
            what = "not a physnet output" if found is None else f"a physnet {found} output"
            raise ConfigError(
                f"{flag} {path} is a non-empty folder and {what}; physnet never deletes it: "
                f"choose a new or empty folder for the {kind}"
            )
        foreign = [] if kind in GROWN_KINDS else foreign_entries(path, kind)
        if foreign and overwrite:
            shown = ", ".join(foreign[:3]) + (
                f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            )
            raise ConfigError(
                f"{flag} {path} holds {shown}, which physnet did not write; --overwrite "
                f"replaces only physnet's own files and never deletes yours: move "
                f"{'it' if len(foreign) == 1 else 'them'} out or choose another folder"
            )
    else:
        if path.is_dir() or path.is_symlink() or not path.is_file():
            raise ConfigError(
                f"{flag} {path} exists and is not a regular file; choose another name"
            )
        if recognise is None or not recognise(path):
            raise ConfigError(
                f"{flag} {path} exists and is not a physnet {kind} file; physnet never "
                "replaces it: choose another name"
            )
    if not overwrite:
        raise ConfigError(
            f"{flag} {path} already holds a physnet {kind}; pass --overwrite to replace it "
            "(overwrite=True in Python) or choose another name"
        )
    return path


def write_marker(
    directory: str | os.PathLike, kind: str, files: Iterable[str] | None = None
) -> None:
    """Mark ``directory`` as a physnet output of ``kind``; ``files``: the entries physnet
    wrote in it (what ``--overwrite`` may later replace, :func:`foreign_entries`)."""
    marker = {"kind": kind, "physnet": __version__}
    if files is not None:
        marker["files"] = sorted(set(files) - {MARKER})
    with atomic_path(Path(directory) / MARKER) as tmp:
        tmp.write_text(json.dumps(marker))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path beside ``path``; move it onto ``path`` only on success.

    Callers check the target first (:func:`check_output`); inside a directory physnet is
    writing, no check is needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name[:64]}."  # a name near the limit still leaves room for the rest
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix + ".tmp")
    os.close(fd)
    _apply_umask(Path(tmp), directory=False)
    try:
        yield Path(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def _fsync(path) -> None:
    """Flush a written file to disk before it is renamed into place (a power cut then never
    leaves an empty file under the final name)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_directory(
    path: str | os.PathLike,
    kind: str,
    *,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike] = (),
):
    """Yield a temporary directory beside ``path``; rename it to ``path`` only on success.

    The target is checked (:func:`check_output`) on entry and again before the rename; the new
    directory is marked as a physnet output of ``kind``. What is replaced is only an empty
    folder or (with ``overwrite``) a physnet output of the same kind.

    Raises:
        ConfigError: if the target is refused (see :func:`check_output`).
        OutputWriteError: one line, when writing the temporary folder fails (a full disk):
            the target is left as it was.
    """
    check_output(path, kind, overwrite=overwrite, inputs=inputs)
    named, path = path, Path(os.path.abspath(path))  # "." and "dir/.." name a folder
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name[:64]}.", suffix=".tmp"))
    _apply_umask(tmp, directory=True)
    try:
        try:
            yield tmp
            write_marker(tmp, kind, files=[e.name for e in tmp.iterdir()])
        except OSError as err:
            if isinstance(err, PhysnetError):
                raise
            # a full disk, a quota, a file-size limit: only the temporary folder was written
            raise OutputWriteError(
                f"could not write the {kind} {named} ({err.strerror or err}); nothing there "
                "was changed: free space and run the command again"
            ) from None
        check_output(path, kind, overwrite=overwrite, inputs=inputs)
        replace_directory(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_directory(new: Path, path: Path, keep: Iterable[str] = ()) -> None:
    """Move ``new`` to ``path``.

    A new ``path`` is a rename of ``new``. An existing ``path`` (already checked: empty, or a
    physnet output the caller may replace, holding only physnet's files) keeps its own inode
    (it may be the working directory, or hold a held ``.lock``): its entries are moved into a
    sibling ``.old`` folder, those of ``new`` moved in, then the ``.old`` folder is deleted.
    Entries named in ``keep`` stay where they are.
    """
    path = Path(path)
    if not path.exists():
        os.replace(new, path)
        return
    keep = set(keep)
    old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name[:64]}.", suffix=".old"))
    for entry in list(path.iterdir()):
        if entry.name not in keep:
            os.replace(entry, old / entry.name)
    for entry in list(Path(new).iterdir()):
        os.replace(entry, path / entry.name)
    Path(new).rmdir()
    shutil.rmtree(old, ignore_errors=True)


def strict_json(obj: Any) -> tuple[Any, list[str]]:
    """``obj`` with every non-finite float replaced by ``None``, and the key paths replaced."""
    replaced: list[str] = []

    def clean(x, where):
        if isinstance(x, dict):
            return {k: clean(v, f"{where}.{k}" if where else str(k)) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v, f"{where}[{i}]") for i, v in enumerate(x)]
        if isinstance(x, float) and not math.isfinite(x):
            replaced.append(f"{where} ({x})")
            return None
        if hasattr(x, "dtype") and getattr(x, "shape", None) == ():  # numpy scalars
            return clean(x.item(), where)
        return x

    return clean(obj, ""), replaced


def write_json(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented strict JSON, atomically.

    A non-finite number (NaN, inf) is written as ``null``; the dictionary then gains a key
    ``"non_finite"`` listing each such entry and its value, so no bare ``NaN`` token (invalid
    JSON) is written and no missing number goes unexplained.
    """
    cleaned, replaced = strict_json(obj)
    if replaced:
        note = "not finite, written as null: " + ", ".join(replaced)
        if isinstance(cleaned, dict):
            cleaned = {**cleaned, "non_finite": note}
        else:
            cleaned = {"value": cleaned, "non_finite": note}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(cleaned, indent=2, allow_nan=False) + "\n")


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
