"""The public page of a share: a notebook rendered read-only, a folder's listing, or a file's
card, each with download and 'open a copy' links.

A shared notebook may come from an attacker, and the page is served from the service's own
origin. Two guards: the rendering is sanitized (nh3 keeps formatting, tables and data: images,
and drops scripts, event handlers, iframes, forms and styles), and the handler serves it with
PAGE_CSP, which sandboxes the page into an opaque origin where no script runs and nothing
loads from elsewhere.
"""

import gzip
import hashlib
import html
import threading
from collections import OrderedDict
from urllib.parse import quote

PAGE_CSP = ("sandbox allow-downloads; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
            "font-src data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
TEXT_PREVIEW_BYTES = 1 << 20

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details",
    "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong",
    "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var",
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

    return nh3.clean(fragment, tags=_TAGS, attributes=_ATTRIBUTES, clean_content_tags={"script", "style"},
                     url_schemes={"http", "https", "mailto", "data"})


def notebook_body(raw):
    """Sanitized HTML of a notebook's cells and outputs. A notebook that fails nbformat's
    validation (a bad or repeated cell id, a stray key) is repaired as far as nbformat can and
    rendered; one that still cannot be rendered, or is not a notebook, gets a note instead."""
    import nbformat
    from nbconvert import HTMLExporter

    try:
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same answer
        return f'<p class="note">This file is not a readable notebook ({html.escape(type(e).__name__)}); download it instead.</p>'
    exporter = HTMLExporter(template_name="basic")  # body only: we frame it
    try:
        body, _ = exporter.from_notebook_node(notebook)
    except Exception:  # noqa: BLE001 - nbformat's validation, or a template's error: repair once
        try:
            body, _ = exporter.from_notebook_node(_repaired(notebook))
        except Exception as e:  # noqa: BLE001
            return (f'<p class="note">This notebook cannot be shown ({html.escape(type(e).__name__)}: it does '
                    f'not follow the notebook format); download it instead.</p>')
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
            return f"<pre class=\"text\">{html.escape(raw.decode('utf-8'))}</pre>"
        except UnicodeDecodeError:
            pass
    return f'<p class="note">{html.escape(name)} ({len(raw)} bytes) has no preview; download it.</p>'


def listing_body(share, link):
    """A folder share's files, notebooks linking to their rendering."""
    rows = []
    for rel, size in share.files:
        href = link("view/" + quote(rel)) if rel.endswith(".ipynb") else link("raw/" + quote(rel))
        rows.append(f'<tr><td><a href="{html.escape(href)}">{html.escape(rel)}</a></td>'
                    f'<td class="size">{_size(size)}</td></tr>')
    if not rows:
        return '<p class="note">This folder is empty.</p>'
    return f'<table class="listing"><thead><tr><th>File</th><th>Size</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'


def page(title, subtitle, body, actions):
    """The whole page: a header with the title and action links, then the body."""
    links = " ".join(f'<a class="action" href="{html.escape(href)}">{html.escape(label)}</a>' for label, href in actions)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<meta name=\"referrer\" content=\"no-referrer\">"
            f"<title>{html.escape(title)} · Cygnet</title><style>{_css()}</style></head>"
            f"<body><header><div><h1 class=\"title\">{html.escape(title)}</h1>"
            f"<p class=\"subtitle\">{html.escape(subtitle)}</p></div><nav>{links}</nav></header>"
            f"<main>{body}</main></body></html>")


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


def _size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


_CSS = None


def _css():
    """Page style plus Pygments' colours for code (computed once)."""
    global _CSS
    if _CSS is None:
        from pygments.formatters import HtmlFormatter

        _CSS = _BASE_CSS + HtmlFormatter(style="default").get_style_defs(".highlight")
    return _CSS


_BASE_CSS = """
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#f6f8fa}
header{display:flex;justify-content:space-between;align-items:center;gap:1em;padding:.6em 1.5em;background:#1f4e79;color:#fff}
header h1.title{font-size:1.2em;margin:0} header .subtitle{margin:0;opacity:.8;font-size:.9em}
nav a.action{color:#fff;border:1px solid #fff8;border-radius:4px;padding:.3em .8em;text-decoration:none;margin-left:.5em}
main{max-width:1100px;margin:1.5em auto;padding:1em 2em;background:#fff;border:1px solid #d0d7de;border-radius:6px}
.cell{margin:.6em 0;display:block} .input,.output_area{display:flex}
.prompt{min-width:6em;color:#6e7781;font-family:monospace;font-size:.85em;padding-top:.4em;text-align:right;padding-right:.6em}
.inner_cell,.output_subarea{flex:1;min-width:0;overflow-x:auto}
.input_area{background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;padding:.2em .6em}
pre{margin:.3em 0;font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;white-space:pre-wrap;word-break:break-word}
.output_stderr{background:#fff5f5} img{max-width:100%}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #d0d7de;padding:.25em .6em;text-align:right}
table.listing{width:100%} table.listing td:first-child,table.listing th:first-child{text-align:left}
.note{color:#57606a;font-style:italic} a.anchor-link{display:none}
"""
