"""The public page of a share: a notebook rendered read-only, a folder's listing, or a file's
card, each with download and 'open a copy' links, framed by `templates/share.html`.

A shared notebook may come from an attacker, and the page is served from the service's own
origin. Two guards: the rendering is sanitized (nh3 keeps formatting, tables and data: images,
and drops scripts, event handlers, iframes, forms and styles), and the handler serves it with
PAGE_CSP (see pages), which sandboxes the page into an opaque origin where no script runs and nothing
loads from elsewhere.
"""

import functools
import gzip
import hashlib
import html
import os
import threading
from collections import OrderedDict
from urllib.parse import quote

from cygnet.core.units import human_size

PAGE_CSP = (
    "sandbox allow-downloads; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "font-src data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
TEXT_PREVIEW_BYTES = 1 << 20
TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")

_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
}
_ATTRIBUTES = {
    "*": {"class", "id", "title", "align"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
}


def sanitize(fragment):
    import nh3

    return nh3.clean(
        fragment,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        clean_content_tags={"script", "style"},
        url_schemes={"http", "https", "mailto", "data"},
    )


def note(text):
    """A short escaped note in place of content that cannot be shown."""
    return f'<p class="note">{html.escape(text)}</p>'


def notebook_body(raw):
    """Sanitized HTML of a notebook's cells and outputs. A notebook that fails nbformat's
    validation (a bad or repeated cell id, a stray key) is repaired as far as nbformat can and
    rendered; one that still cannot be rendered, or is not a notebook, gets a note instead."""
    import nbformat

    from cygnet.core.html_export import html_exporter

    try:
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same answer
        return note(f"This file is not a readable notebook ({type(e).__name__}); download it instead.")
    exporter = html_exporter(template_name="basic")  # body only: we frame it
    try:
        body, _ = exporter.from_notebook_node(notebook)
    except Exception:  # noqa: BLE001 - nbformat's validation, or a template's error: repair once
        try:
            body, _ = exporter.from_notebook_node(_repaired(notebook))
        except Exception as e:  # noqa: BLE001
            return note(
                f"This notebook cannot be shown ({type(e).__name__}: it does not follow the notebook format); "
                "download it instead."
            )
    return sanitize(body)


def _repaired(notebook):
    """The notebook with fresh ids for cells whose id is invalid or repeated, then what
    nbformat's own normalization fixes (unknown keys and the like)."""
    import re
    import uuid

    import nbformat
    from nbformat import validator

    seen = set()
    for cell in notebook.get("cells", []):
        cell_id = cell.get("id")
        if not isinstance(cell_id, str) or not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", cell_id) or cell_id in seen:
            cell["id"] = cell_id = uuid.uuid4().hex[:8]
        seen.add(cell_id)
    _, normalized = validator.normalize(notebook, strip_invalid_metadata=True)
    return nbformat.from_dict(normalized)


def file_body(name, raw):
    """A text file's contents (escaped), or a note that it can only be downloaded."""
    if len(raw) <= TEXT_PREVIEW_BYTES:
        try:
            return f'<pre class="text">{html.escape(raw.decode("utf-8"))}</pre>'
        except UnicodeDecodeError:
            pass
    return note(f"{name} ({len(raw)} bytes) has no preview; download it.")


def listing_body(share, link):
    """A folder share's files, notebooks linking to their rendering."""
    rows = []
    for rel, size in share.files:
        href = link("view/" + quote(rel)) if rel.endswith(".ipynb") else link("raw/" + quote(rel))
        name = f'<a href="{html.escape(href)}">{html.escape(rel)}</a>'
        rows.append(f'<tr><td>{name}</td><td class="size">{human_size(size)}</td></tr>')
    if not rows:
        return note("This folder is empty.")
    head = "<thead><tr><th>File</th><th>Size</th></tr></thead>"
    return f'<table class="listing">{head}<tbody>{"".join(rows)}</tbody></table>'


def page(title, subtitle, body, actions):
    """The whole page from the `share.html` template: a header with the title and action links,
    then the (sanitized) body."""
    from markupsafe import Markup

    return _template().render(
        title=title, subtitle=subtitle, body=Markup(body), actions=actions, code_css=Markup(_code_css())
    )


@functools.cache
def _template():
    """share.html, loaded once from this package's templates (any server that shows shares uses it)."""
    from jinja2 import Environment, FileSystemLoader

    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True).get_template("share.html")


class RenderCache:
    """Rendered pages by (share id, revision, file): a revision never changes, so an entry never
    goes stale; a refresh makes a new revision. Holds each page plain and gzipped."""

    def __init__(self, entries=64):
        self.entries, self.pages, self.lock = entries, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            found = self.pages.get(key)
            if found:
                self.pages.move_to_end(key)
            return found

    def put(self, key, text):
        data = text.encode("utf-8")
        entry = (data, gzip.compress(data, 6), '"' + hashlib.sha256(data).hexdigest()[:32] + '"')
        with self.lock:
            self.pages[key] = entry
            while len(self.pages) > self.entries:
                self.pages.popitem(last=False)
        return entry


@functools.cache
def _code_css():
    """Pygments' colours for code cells (computed once)."""
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style="default").get_style_defs(".highlight")
