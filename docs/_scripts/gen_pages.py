"""Pages generated at build time (mkdocs-gen-files): nothing here is committed as text.

- ``reference/cli.md``: the ``physnet`` command, walked from its argparse parser
  (``physnet.cli.build_parser``), so every subcommand, flag, choice and default is the code's.
- ``reference/api/*.md``: one page per package, a mkdocstrings block for every public name
  (docs/_scripts/public_names.py, the list tests/test_docstrings.py checks), each rendered once
  on the page of the package that defines it and linked from the packages that re-export it.
- The results pages, experiment READMEs, benchmark and notebook pages: the repository's own
  files (``results/``, ``experiments/``, ``benchmarks/``, ``notebooks/``) placed in the site
  under the same paths, so their relative links and figures work unchanged. A link to a
  folder becomes a link to its README; a link to a file the site does not hold (a script,
  a JSON result) brings that file along as a download.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import mkdocs_gen_files

sys.path.insert(0, str(Path(__file__).parent))
from griffe_rst import convert  # noqa: E402
from public_names import ROOT, packages, public_names  # noqa: E402

# --------------------------------------------------------------------------------------- CLI


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|").replace("<", "&lt;")


def _flags(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    names = ", ".join(f"`{s}`" for s in action.option_strings)
    if action.nargs == 0:
        return names
    if action.choices is not None and action.metavar is None:
        return f"{names} `{{{','.join(map(str, action.choices))}}}`"
    metavar = action.metavar or action.dest.upper()
    return f"{names} `{metavar}`"


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    formatter = parser._get_formatter()
    text = formatter._expand_help(action) if action.help else ""
    if action.choices is not None and action.metavar is not None and action.option_strings:
        text += f" (choices: {', '.join(f'`{c}`' for c in action.choices)})"
    default = action.default
    if (
        action.option_strings
        and action.nargs != 0
        and default not in (None, argparse.SUPPRESS)
        and "default" not in text
    ):
        text += f" (default: `{default}`)"
    return _cell(text)


def _subcommands(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, sub, helps.get(name)


def _command_page(parser, path: str, help_line: str | None, level: int, out) -> None:
    hashes = "#" * level
    out.write(f"{hashes} `{path}`\n\n")
    if help_line:
        out.write(f"{_cell(help_line)}.\n\n" if not help_line.endswith(".") else f"{help_line}\n\n")
    if parser.description and parser.description != help_line:
        out.write(f"{parser.description}\n\n")
    usage = parser.format_usage().strip().removeprefix("usage: ")
    out.write(f"```text\n{usage}\n```\n\n")
    rows = [
        a
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
        and a.help != argparse.SUPPRESS
    ]
    if rows:
        out.write("| argument | meaning |\n|---|---|\n")
        for a in rows:
            out.write(f"| {_flags(a)} | {_help(parser, a)} |\n")
        out.write("\n")
    for name, sub, sub_help in _subcommands(parser):
        _command_page(sub, f"{path} {name}", sub_help, min(level + 1, 4), out)


def write_cli_reference() -> None:
    from physnet.cli import build_parser

    parser = build_parser()
    with mkdocs_gen_files.open("reference/cli.md", "w") as out:
        out.write(
            "# Command line reference\n\n"
            "Generated from physnet's argument parser (`physnet.cli.build_parser`) when the "
            "site is built, so it lists exactly the flags of this version. The choices of "
            "`--system`, `--model`, `--approximator`, `--loss` and `--solver`, and the system "
            "and model parameter flags, come from physnet's registries: a system, model or "
            "loss you register appears here (see [Extending physnet](../how-to/extending.md)). "
            "`physnet COMMAND --help` prints the same text.\n\n"
            "Commands: "
            + ", ".join(f"[`{name}`](#physnet-{name})" for name, _, _ in _subcommands(parser))
            + ".\n\n"
        )
        usage = parser.format_usage().strip().removeprefix("usage: ")
        out.write(f"```text\n{usage}\n```\n\n")
        out.write("| global option | meaning |\n|---|---|\n")
        for a in parser._actions:
            if a.option_strings and not isinstance(a, argparse._HelpAction):
                out.write(f"| {_flags(a)} | {_help(parser, a)} |\n")
        out.write("\n")
        for name, sub, sub_help in _subcommands(parser):
            _command_page(sub, f"physnet {name}", sub_help, 2, out)


# --------------------------------------------------------------------------------------- API


def _page(package: str) -> str:
    return "physnet" if package == "physnet" else package.split(".", 1)[1]


def _summary(doc: str | None) -> str:
    """The first line of a docstring, its reStructuredText habits as Markdown, for a table."""
    return _cell(convert(doc.strip().splitlines()[0])) if doc else ""


def write_api_reference() -> None:
    names = public_names()
    by_package: dict[str, list] = {p: [] for p in packages()}
    for n in names:
        by_package[n.package].append(n)
    module_docs = {n.module: n.docstring for n in names if n.kind == "module"}
    # the page that renders each definition: the package nearest its module, when that
    # package exports it, otherwise the first package exporting it
    exporters: dict[tuple[str, str], list[str]] = {}
    for n in names:
        exporters.setdefault((n.module, n.line, n.kind), []).append(n.package)

    def home(n) -> str:
        found = exporters[(n.module, n.line, n.kind)]
        return n.home if n.home in found else found[0]

    with mkdocs_gen_files.open("reference/api/index.md", "w") as out:
        out.write(
            "# API reference\n\n"
            "Every public name of physnet and its sub-packages, generated from the docstrings "
            "by mkdocstrings. A name is documented on the page of the package that defines "
            "it; packages that re-export it (``physnet`` itself re-exports the everyday "
            "names: `pn.HNN`, `pn.fit`, ...) link there.\n\n"
            "| package | |\n|---|---|\n"
        )
        for package in packages():
            doc = module_docs.get(package)
            if doc is None:
                import importlib

                doc = importlib.import_module(package).__doc__
            out.write(f"| [`{package}`]({_page(package)}.md) | {_summary(doc)} |\n")

    for package, members in by_package.items():
        page = f"reference/api/{_page(package)}.md"
        with mkdocs_gen_files.open(page, "w") as out:
            out.write(f"# `{package}`\n\n")
            out.write(
                f"::: {package}\n    options:\n      members: false\n"
                "      show_root_heading: false\n      show_root_toc_entry: false\n\n"
            )
            own = [m for m in members if home(m) == package and m.kind != "module"]
            elsewhere = [m for m in members if home(m) != package or m.kind == "module"]
            if own:
                out.write("| name | |\n|---|---|\n")
                for m in own:
                    out.write(f"| [`{m.name}`](#{m.path}) | {_summary(m.docstring)} |\n")
                out.write("\n")
            if elsewhere:
                out.write("**Re-exported here:**\n\n| name | documented in |\n|---|---|\n")
                for m in elsewhere:
                    target = m.module if m.kind == "module" else home(m)
                    anchor = "" if m.kind == "module" else f"#{target}.{m.name}"
                    out.write(f"| [`{m.name}`]({_page(target)}.md{anchor}) | `{target}` |\n")
                out.write("\n")
            for m in own:
                out.write(f"::: {m.path}\n\n")


# ----------------------------------------------------------------------- repository pages

MIRRORED = ["results", "experiments", "benchmarks", "notebooks"]
_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")
_copied: set[Path] = set()


def _copy(path: Path) -> None:
    if path in _copied:
        return
    _copied.add(path)
    rel = path.relative_to(ROOT).as_posix()
    with mkdocs_gen_files.open(rel, "wb") as out:
        out.write(path.read_bytes())


def _fix_link(md_file: Path, match: re.Match) -> str:
    prefix, target, suffix = match.groups()
    if re.match(r"^[a-z]+:|^#|^/", target):
        return match.group(0)
    path_part, _, anchor = target.partition("#")
    resolved = (md_file.parent / path_part).resolve()
    if not resolved.is_relative_to(ROOT) or not resolved.exists():
        return match.group(0)  # strict mode reports it
    if resolved.is_dir():
        readme = resolved / "README.md"
        if readme.is_file():
            new = (path_part.rstrip("/") + "/README.md") + (f"#{anchor}" if anchor else "")
            _queue.append(readme)
            return f"{prefix}{new}{suffix}"
        # a folder without a page: keep the words, drop the link
        return prefix[1:-2] if not prefix.startswith("!") else match.group(0)
    if resolved.suffix == ".md":
        _queue.append(resolved)
    elif resolved.suffix != ".ipynb" or resolved.parent != ROOT / "notebooks":
        _copy(resolved)
    return match.group(0)


_queue: list[Path] = []


def _mirror_markdown(md_file: Path) -> None:
    if md_file in _copied:
        return
    _copied.add(md_file)
    text = md_file.read_text(encoding="utf-8")
    text = _LINK.sub(lambda m: _fix_link(md_file, m), text)
    rel = md_file.relative_to(ROOT).as_posix()
    with mkdocs_gen_files.open(rel, "w") as out:
        out.write(text)


def write_repository_pages() -> None:
    for folder in MIRRORED:
        _queue.extend(sorted((ROOT / folder).rglob("README.md")))
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        _copy(notebook)
    while _queue:
        _mirror_markdown(_queue.pop(0))


write_cli_reference()
write_api_reference()
write_repository_pages()
