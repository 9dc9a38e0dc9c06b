"""A griffe extension: physnet's docstrings use a few reStructuredText habits; render them as
Markdown for mkdocstrings.

- ``:class:`~physnet.LNN```, ``:func:`fit```, ``:meth:`KAN.refine```, ... (Sphinx roles)
  become inline code (``LNN``, ``fit``, ``KAN.refine``); ``~`` keeps the last component, as
  in Sphinx.
- ``:math:`x```  becomes ``$x$`` and a ``.. math::`` directive a ``$$ ... $$`` block
  (pymdownx.arithmatex; docs/_scripts/hooks.py turns both into MathML at build time).
- A paragraph ending in ``::`` followed by an indented block (an RST literal block) keeps its
  colon and the block becomes a fenced code block.
- An ``Args:`` entry naming several parameters (``rtol, atol: tolerances ...``, physnet's
  habit for parameters that go together) becomes one entry per parameter with the same text,
  so each is matched against the signature (an unknown name still warns).
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(class|func|meth|attr|data|mod|obj|exc|const):`([^`]+)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")


def _role(match: re.Match) -> str:
    text = match.group(2).strip()
    explicit = re.fullmatch(r"(.+?)\s*<(.+)>", text)
    if explicit:
        return f"`{explicit.group(1)}`"
    if text.startswith("~"):
        text = text[1:].rsplit(".", 1)[-1]
    return f"`{text.lstrip('.')}`"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _blocks(text: str) -> str:
    """``.. math::`` directives and ``::`` literal blocks as Markdown blocks."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith(".. math::"):
            base = _indent(line)
            body = [stripped[len(".. math::") :].strip()]
            i += 1
            while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
                body.append(lines[i].strip())
                i += 1
            while body and not body[-1]:
                body.pop()
            pad = " " * base
            if out and out[-1].strip():
                out.append("")
            out += [pad + "$$", *(pad + b for b in body if b), pad + "$$"]
            if i < len(lines) and lines[i].strip():
                out.append("")
            continue
        if stripped.endswith("::") and not stripped.startswith(".."):
            base = _indent(line)
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines) and _indent(lines[j]) > base:
                out.append(line[: len(line.rstrip())][:-1])  # "Example::" -> "Example:"
                block = []
                k = j
                while k < len(lines) and (not lines[k].strip() or _indent(lines[k]) > base):
                    block.append(lines[k])
                    k += 1
                while block and not block[-1].strip():
                    block.pop()
                inner = min(_indent(b) for b in block if b.strip())
                pad = " " * base
                out += ["", pad + "```python", *(pad + b[inner:] for b in block), pad + "```"]
                i = k
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


_SECTION = re.compile(r"^(\s*)(Args|Arguments|Parameters|Keyword Args|Other Parameters):\s*$")
_GROUP = re.compile(r"^(\s+)(\*{0,2}\w+(?:,\s*\*{0,2}\w+)+):(\s.*)?$")


def _split_grouped_params(text: str) -> str:
    """``a, b: text`` in an Args section -> ``a: text`` and ``b: text``."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    section_indent = None
    while i < len(lines):
        line = lines[i]
        head = _SECTION.match(line)
        if head:
            section_indent = len(head.group(1))
            out.append(line)
            i += 1
            continue
        if section_indent is not None and line.strip() and _indent(line) <= section_indent:
            section_indent = None
        group = _GROUP.match(line) if section_indent is not None else None
        if group and _indent(line) > section_indent:
            entry_indent = len(group.group(1))
            rest = [group.group(3) or ""]
            j = i + 1
            while j < len(lines) and lines[j].strip() and _indent(lines[j]) > entry_indent:
                rest.append("\n" + lines[j])
                j += 1
            for name in (n.strip() for n in group.group(2).split(",")):
                out.append(f"{group.group(1)}{name}:{rest[0]}" + "".join(rest[1:]))
            i = j
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def convert(text: str) -> str:
    """A docstring with physnet's reStructuredText habits, in Markdown."""
    text = _split_grouped_params(text)
    text = _blocks(text)
    text = _MATH_ROLE.sub(lambda m: f"${m.group(1)}$", text)
    return _ROLE.sub(_role, text)


class RstToMarkdown(griffe.Extension):
    """Convert the docstrings of every object of a loaded package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        seen: set[int] = set()
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if obj.docstring is not None:
                obj.docstring.value = convert(obj.docstring.value)
            stack += [m for m in obj.members.values() if not m.is_alias]
