"""CNXML and MathML to readable plain text (the OpenStax book format).

OpenStax books are CNXML documents with MathML equations. A chat model reads text, so this
module renders both as plain text a person (or a model) can read:

* MathML: ``<m:mfrac>`` → ``(a)/(b)`` (no parentheses around a single token: ``mass/volume``),
  ``<m:msup>`` → ``a^b``, ``<m:msub>`` → ``a_b``, ``<m:msubsup>`` → ``a_b^c``,
  ``<m:msqrt>`` → ``sqrt(a)``, ``<m:mroot>`` → ``root(a, n)``, tables row by row, operators
  spaced (``a = b + c``), struck-out units (dimensional analysis) kept as plain text.
* CNXML: paragraphs, lists (``- item`` / ``1. item``), tables (cells joined by `` | ``),
  figures (their caption), notes (title and text), inline ``<sub>``/``<sup>`` (``H2O``,
  ``K_a``, ``cm^3``, ``10^-6``).

The minus sign U+2212 becomes ``-`` everywhere so that numbers stay machine-readable.
Only :mod:`xml.etree.ElementTree` is used; the reader in :mod:`hf_reft.reftool.books.openstax`
decides which elements form blocks, examples and sections.
"""

from __future__ import annotations

import contextlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextvars import ContextVar

__all__ = [
    "CNXML_NS",
    "MATHML_NS",
    "clean_text",
    "link_labels",
    "local_name",
    "render_inline",
    "render_list",
    "render_math",
    "render_table",
    "title_of",
]

CNXML_NS = "http://cnx.rice.edu/cnxml"
MATHML_NS = "http://www.w3.org/1998/Math/MathML"

#: Operators printed with a space on each side.
_SPACED_OPERATORS = frozenset(
    [
        "=",
        "+",
        "×",
        "⟶",
        "⇌",
        "→",
        "←",
        "⇋",
        "≈",
        "≡",
        "<",
        ">",
        "≤",
        "≥",
        "≪",
        "≫",
        "∝",
        "±",
        "·",
        "÷",
        "*",
        "⟷",
        "↔",
        "⇒",
        "≠",
        "~",
        "∼",
        "-",
        "−",
        "–",
        "│",
        "║",
        "|",
        "∣",
    ]
)
#: Accents drawn over or under an expression (overbars, underlines): dropped.
_ACCENTS = frozenset(["¯", "_", "‾", "^", "˙", "˜", "⏞", "⏟", "︷", "︸"])
_ATOM = re.compile(r"^[\w.,°%′″'+-]+$")
_SPACES = re.compile(r"[ \t\u00a0\u2009\u2002\u2003\u200a]+")
_UNARY_MINUS = re.compile(r"(?<=[(\[^])\s*-\s+(?=[\d.])|(?:(?<=^)|(?<=[=,]\s))-\s+(?=[\d.])")
#: (current module id, {(module id, element id): label}) for links without text.
_LINKS: ContextVar[tuple[str, Mapping[tuple[str, str], str]]] = ContextVar("_LINKS", default=("", {}))


@contextlib.contextmanager
def link_labels(module_id: str, labels: Mapping[tuple[str, str], str]) -> Iterator[None]:
    """Render empty ``<link target-id=.../>`` s in module ``module_id`` with ``labels``.

    OpenStax cross-references (``see <link target-id="fig1"/>``) carry no text; the book
    prints "Figure 1.3" there. ``labels`` maps ``(module id, target id)`` (``""`` as target for
    the module itself) to that text.
    """
    token = _LINKS.set((module_id, labels))
    try:
        yield
    finally:
        _LINKS.reset(token)


def _link_text(element: ET.Element) -> str:
    module, labels = _LINKS.get()
    document = element.get("document") or module
    return labels.get((document, element.get("target-id") or ""), "")


def local_name(element: ET.Element) -> str:
    """The tag of ``element`` without its namespace (``{ns}para`` → ``para``)."""
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def clean_text(text: str) -> str:
    """Normalise whitespace and minus signs; keep line breaks, drop blank-line runs."""
    text = text.replace("\u2212", "-").replace("\u200b", "")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


# --------------------------------------------------------------------------- MathML
def _wrap(text: str) -> str:
    """Parenthesise ``text`` unless it is a single token."""
    text = re.sub(r"^-\s+(?=[\d.])", "-", text.strip().replace("\u2212", "-").replace("\u2013", "-"))
    return text if _ATOM.match(text) else f"({text})"


def _math_children(element: ET.Element) -> list[str]:
    """Rendered children; a space after a power when a unit follows (``10^14 s^(-1)``)."""
    out: list[str] = []
    previous = ""
    for child in element:
        name = local_name(child)
        if name in ("annotation", "annotation-xml"):
            continue
        text = _math(child)
        if previous == "msup" and out and out[-1][-1:] in "0123456789)" and text[:1].isalpha():
            text = " " + text
        out.append(text)
        previous = name
    return out


def _math(element: ET.Element) -> str:
    """Render one MathML element (no tail)."""
    name = local_name(element)
    if name in ("mn", "mi", "mtext", "ms"):
        return "".join(element.itertext())
    if name == "mo":
        op = "".join(element.itertext()).strip()
        return f" {op} " if op in _SPACED_OPERATORS else op
    if name == "mspace":
        return " "
    if name in ("mphantom", "annotation", "annotation-xml", "none", "mprescripts"):
        return ""
    parts = _math_children(element)
    if name == "mfrac" and len(parts) == 2:
        return f"{_wrap(parts[0])}/{_wrap(parts[1])}"
    if name == "msup" and len(parts) == 2:
        return f"{parts[0].strip()}^{_wrap(parts[1])}"
    if name == "msub" and len(parts) == 2:
        return f"{parts[0].strip()}_{_wrap(parts[1])}"
    if name == "msubsup" and len(parts) == 3:
        return f"{parts[0].strip()}_{_wrap(parts[1])}^{_wrap(parts[2])}"
    if name == "msqrt":
        return f"sqrt({''.join(parts).strip()})"
    if name == "mroot" and len(parts) == 2:
        return f"root({parts[0].strip()}, {parts[1].strip()})"
    if name in ("mover", "munder") and len(parts) == 2:
        base, extra = parts[0].strip(), parts[1].strip()
        if not extra or extra in _ACCENTS:
            return parts[0]
        if base in ("⟶", "→", "⇌"):  # a reaction arrow with its condition: ⟶(Δ)
            return f" {base}({extra}) "
        return f"{base}_({extra})" if name == "munder" else f"{base}^({extra})"
    if name == "munderover" and len(parts) == 3:
        return f"{parts[0].strip()}_({parts[1].strip()})^({parts[2].strip()})"
    if name == "mfenced":
        open_, close = element.get("open", "("), element.get("close", ")")
        sep = element.get("separators", ",")
        inner = (sep[:1] + " ").join(p.strip() for p in parts) if sep else "".join(parts)
        return f"{open_}{inner}{close}"
    if name == "mmultiscripts":
        # base, post (sub, sup) pairs, <mprescripts/>, pre (sub, sup) pairs
        children = [c for c in element]
        names = [local_name(c) for c in children]
        cut = names.index("mprescripts") if "mprescripts" in names else len(children)
        base = _math(children[0]).strip() if children else ""
        post, pre = children[1:cut], children[cut + 1 :]

        def scripts(pairs: list[ET.Element]) -> str:
            out = ""
            for i in range(0, len(pairs) - 1, 2):
                sub, sup = _math(pairs[i]).strip(), _math(pairs[i + 1]).strip()
                out += (f"_{_wrap(sub)}" if sub else "") + (f"^{_wrap(sup)}" if sup else "")
            return out

        prefix = scripts(pre)
        return f"{prefix} {base}{scripts(post)}" if prefix else f"{base}{scripts(post)}"
    if name == "mtable":
        rows = [r for r in element if local_name(r) in ("mtr", "mlabeledtr")]
        return "\n".join(" ".join(_math(cell).strip() for cell in row).strip() for row in rows)
    if name in ("mtr", "mlabeledtr"):
        return " ".join(p.strip() for p in parts)
    # math, mrow, mstyle, mpadded, menclose, merror, semantics, mtd, maction, ...
    return "".join(parts)


def render_math(element: ET.Element) -> str:
    """Readable text of a ``<m:math>`` element (or any MathML element).

    Example: ``<m:mfrac><m:mtext>90.7 g</m:mtext><m:msup><m:mtext>8.00 cm</m:mtext><m:mn>3</m:mn>
    </m:msup></m:mfrac>`` → ``(90.7 g)/(8.00 cm^3)``.
    """
    text = _math(element).replace("\u2212", "-").replace("\u2013", "-")
    lines = (_UNARY_MINUS.sub("-", _SPACES.sub(" ", line).strip()) for line in text.split("\n"))
    return "\n".join(lines)


# --------------------------------------------------------------------------- inline CNXML
def _script(text: str, mark: str) -> str:
    text = _UNARY_MINUS.sub("-", text.strip().replace("\u2212", "-").replace("\u2013", "-"))
    if not text:
        return ""
    if mark == "_" and text.isdigit():
        return text  # chemical formulas: H<sub>2</sub>O → H2O
    return f"{mark}{_wrap(text)}"


def render_inline(element: ET.Element, *, skip: frozenset[str] = frozenset({"title"})) -> str:
    """Text of ``element`` and its inline children (without the element's own tail).

    Args:
        element: a CNXML element such as ``<para>``, ``<item>``, ``<entry>``, ``<caption>``.
        skip: local names of children left out (their tails are kept).
    """
    pieces: list[str] = [element.text or ""]
    for child in element:
        name = local_name(child)
        if name in skip or name in ("footnote", "media", "image", "label"):
            pass
        elif name == "math":
            pieces.append(render_math(child))
        elif name == "sub":
            pieces.append(_script(render_inline(child, skip=skip), "_"))
        elif name == "sup":
            pieces.append(_script(render_inline(child, skip=skip), "^"))
        elif name == "newline":
            pieces.append("\n")
        elif name == "space":
            pieces.append(" ")
        elif name == "quote":
            pieces.append(f"“{render_inline(child, skip=skip)}”")
        elif name == "list":
            pieces.append("\n" + render_list(child) + "\n")
        elif name == "link" and not "".join(child.itertext()).strip():
            pieces.append(_link_text(child))
        else:  # emphasis, term, link, span, foreign, cite, code, ...
            pieces.append(render_inline(child, skip=skip))
        pieces.append(child.tail or "")
    return "".join(pieces)


def render_list(element: ET.Element) -> str:
    """A CNXML ``<list>`` as ``- item`` lines (``1. item`` for enumerated lists)."""
    numbered = element.get("list-type") == "enumerated"
    lines = []
    for i, item in enumerate((c for c in element if local_name(c) == "item"), start=1):
        text = clean_text(render_inline(item)).replace("\n", " ")
        lines.append(f"{i}. {text}" if numbered else f"- {text}")
    return "\n".join(lines)


def render_table(element: ET.Element) -> str:
    """A CNXML ``<table>`` row by row, cells joined by `` | ``."""
    lines = []
    title = element.find(f"{{{CNXML_NS}}}title")
    if title is not None and (t := clean_text(render_inline(title, skip=frozenset()))):
        lines.append(t)
    for row in element.iter(f"{{{CNXML_NS}}}row"):
        cells = [clean_text(render_inline(e)).replace("\n", " ") for e in row if local_name(e) == "entry"]
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def title_of(element: ET.Element) -> str:
    """The text of ``element``'s own ``<title>`` child, or ``""``."""
    title = element.find(f"{{{CNXML_NS}}}title")
    return clean_text(render_inline(title, skip=frozenset())) if title is not None else ""
