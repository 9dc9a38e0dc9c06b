"""MkDocs hooks: formulas as MathML, written when the site is built.

pymdownx.arithmatex (generic mode) marks ``$...$`` and ``$$...$$`` in the pages and in the
docstrings; this hook turns each into MathML with latex2mathml, which browsers render without
JavaScript or a network connection. A formula that does not convert is a build warning (an
error under ``mkdocs build --strict``).
"""

from __future__ import annotations

import html
import logging
import re

from latex2mathml.converter import convert

log = logging.getLogger("mkdocs.hooks.mathml")

_INLINE = re.compile(r'<span class="arithmatex">\\\((.+?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(.+?)\\\]</div>', re.S)


def _mathml(tex: str, display: str, where: str) -> str | None:
    tex = html.unescape(tex).strip()
    try:
        # accents (q̇, q̈, p̂, ...) sit on their base, not above it as a limit would
        return convert(tex, display=display).replace("<mover>", '<mover accent="true">')
    except Exception as err:  # latex2mathml raises several types
        log.warning("%s: formula %r does not convert to MathML: %s", where, tex, err)
        return None


def on_page_content(content, page, **kwargs):
    where = page.file.src_uri

    def block(match):
        out = _mathml(match.group(1), "block", where)
        return match.group(0) if out is None else f'<div class="math-block">{out}</div>'

    def inline(match):
        out = _mathml(match.group(1), "inline", where)
        return match.group(0) if out is None else out

    return _INLINE.sub(inline, _BLOCK.sub(block, content))
