"""The gallery's public pages (served by the hub's share service): the searchable list of
published notebooks, and each notebook's read-only page with *Open in Cygnet*. They are sandboxed
like share pages (render.PAGE_CSP), and may also show images from their own origin (the thumbnails)."""

import html
from urllib.parse import quote, urlencode

from . import render

GALLERY_CSP = render.PAGE_CSP.replace("img-src data:", "img-src 'self' data:")

_STYLE = (
    "<style>.gallery-search{display:flex;gap:.5em;margin:0 0 1em}"
    ".gallery-search input{flex:1;padding:.3em .5em}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:1em;padding:0;list-style:none}"
    ".card{border:1px solid #d0d7de;border-radius:6px;padding:.6em;background:#fff}"
    ".card img,.card .nothumb{width:100%;height:140px;object-fit:contain;background:#f6f8fa;display:block}"
    ".card .nothumb{line-height:140px;text-align:center;color:#6e7781}"
    ".card h2{font-size:1.05em;margin:.4em 0 .2em}.card p{margin:.2em 0;color:#57606a}</style>"
)


def listing_body(entries, query, prefix, has_thumb):
    """The search box (a plain GET form: no script runs in the sandbox) and one card per entry."""
    search = (
        f'<form class="gallery-search" method="get" action="{html.escape(prefix)}gallery">'
        f'<input name="q" type="search" placeholder="Search titles, descriptions, owners" '
        f'value="{html.escape(query or "")}"><button>Search</button></form>'
    )
    if not entries:
        what = "matches your search" if query else "has been published yet"
        return _STYLE + search + render.note(f"No notebook {what}.")
    cards = []
    for entry in entries:
        page = f"{prefix}gallery/{entry.id}"
        picture = (
            f'<img src="{html.escape(page)}/thumb.png" alt="" loading="lazy">'
            if has_thumb(entry)
            else '<div class="nothumb">no figure</div>'
        )
        cards.append(
            f'<li class="card"><a href="{html.escape(page)}">{picture}<h2>{html.escape(entry.title)}</h2></a>'
            f"<p>{html.escape(entry.share.owner)} · {html.escape(entry.share.path)}</p>"
            f"<p>{html.escape(entry.description)}</p></li>"
        )
    return _STYLE + search + f'<ul class="cards">{"".join(cards)}</ul>'


def open_link(hub_base, share_id):
    """*Open in Cygnet*: a copy in the viewer's own session, through login and spawn."""
    return f"{hub_base}hub/user-redirect/cygnet/open?{urlencode({'gallery': share_id})}"


def search_link(prefix, query):
    return f"{prefix}gallery" + (f"?q={quote(query)}" if query else "")
