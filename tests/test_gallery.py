"""The site's gallery: its core on a real share store, and its public pages from the hub's share
service in this process (they need no login). The whole path through a hub, publish in one
user's session and open a copy in another's, is in test_hub.py."""

import asyncio
import base64
import json

import nbformat
import pytest

from cygnet.core.errors import BadInput, NotFound
from cygnet.shares.gallery import Gallery, first_png
from cygnet.shares.store import ShareStore
from tests.test_shares import ME, evil_notebook, notebook, write

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def figure_notebook(text):
    code = nbformat.v4.new_code_cell(
        "plot()",
        outputs=[
            nbformat.v4.new_output("stream", name="stdout", text=text),
            nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(PNG).decode()}),
        ],
    )
    return notebook(code)


@pytest.fixture
def gallery(tmp_path):
    store = ShareStore(tmp_path / "shares.sqlite", str(tmp_path / "snapshots"), tmp_path / "ws")
    yield Gallery(store)
    store.close()


def test_owners_publish_search_and_unpublish_and_a_revoked_share_leaves(gallery, tmp_path):
    store = gallery.store
    write(tmp_path / "ws" / "fit.ipynb", figure_notebook("muon lifetime"))
    write(tmp_path / "ws" / "plain.ipynb", notebook(nbformat.v4.new_markdown_cell("no figure")))
    write(tmp_path / "ws" / "data.csv", "a,b\n")
    fit, _ = store.create("fit.ipynb", ME)
    plain, _ = store.create("plain.ipynb", ME)
    csv, _ = store.create("data.csv", ME)

    entry = gallery.publish(fit.id, ME, "Muon lifetime fit", "An exponential fit to the decay times")
    assert entry.title == "Muon lifetime fit" and not entry.hidden
    assert gallery.publish(plain.id, ME).title == "plain", "the title defaults to the notebook's name"
    assert [e.id for e in gallery.entries()] == [plain.id, fit.id], "newest first"
    assert [e.id for e in gallery.entries("MUON exponential")] == [fit.id], "every word, any case"
    assert [e.id for e in gallery.entries(ME)] == [plain.id, fit.id], "owners are searched too"
    assert gallery.entries("100%_") == [], "LIKE's wildcards are plain characters"
    assert gallery.thumbnail(gallery.entry(fit.id)) == PNG
    assert gallery.thumbnail(gallery.entry(plain.id)) is None

    with pytest.raises(BadInput, match="only a notebook"):
        gallery.publish(csv.id, ME)
    with pytest.raises(NotFound):
        gallery.publish(fit.id, "someone-else")
    with pytest.raises(NotFound):
        gallery.unpublish(fit.id, "someone-else")
    with pytest.raises(BadInput, match="title is too long"):
        gallery.publish(fit.id, ME, "x" * 201)

    hidden = gallery.hide(fit.id, "admin")
    assert hidden.hidden and [e.id for e in gallery.entries()] == [plain.id]
    assert [e.id for e in gallery.entries(include_hidden=True)] == [plain.id, fit.id]
    gallery.publish(fit.id, ME, "Renamed")  # the owner re-titles: the admin's hiding stays
    with pytest.raises(NotFound):
        gallery.entry(fit.id)
    assert not gallery.hide(fit.id, "admin", hidden=False).hidden and gallery.entry(fit.id).title == "Renamed"

    gallery.unpublish(plain.id, ME)
    with pytest.raises(NotFound, match="not in the gallery"):
        gallery.unpublish(plain.id, ME)
    store.revoke(fit.id, ME)
    assert gallery.entries() == []


def test_a_thumbnail_is_a_real_png_or_nothing():
    assert first_png(b"not json") is None
    assert first_png(json.dumps({"cells": [{"outputs": [{"data": {"image/png": "bm90IGEgcG5n"}}]}]}).encode()) is None
    assert first_png(figure_notebook("x").encode()) == PNG


def test_the_gallery_pages_are_sandboxed_searchable_and_gone_when_unpublished(gallery, tmp_path):
    from tornado.httpclient import AsyncHTTPClient
    from tornado.httpserver import HTTPServer
    from tornado.testing import bind_unused_port

    from cygnet.hub.shares_service import Service, make_app

    store = gallery.store
    write(tmp_path / "ws" / "evil.ipynb", evil_notebook("gallery-page"))
    write(tmp_path / "ws" / "fit.ipynb", figure_notebook("muon"))
    evil, _ = store.create("evil.ipynb", ME)
    fit, _ = store.create("fit.ipynb", ME)
    service = Service(store, "/services/cygnet-shares/", "/")
    service.gallery.publish(evil.id, ME, "<script>alert('t')</script>Evil", "<img src=x onerror=alert(1)> desc")
    service.gallery.publish(fit.id, ME, "Muon fit", "decay times")

    async def fetch_all(paths):
        sock, port = bind_unused_port()
        server = HTTPServer(make_app(service))
        server.add_sockets([sock])
        client = AsyncHTTPClient(force_instance=True)
        try:
            base = f"http://127.0.0.1:{port}/services/cygnet-shares/"
            answers = []
            for path in paths:
                if callable(path):
                    path()
                    continue
                answers.append(await client.fetch(base + path, raise_error=False))
            return answers
        finally:
            client.close()
            server.stop()

    listing, search, none, page, thumb, tiny, raw, bad_q, after = asyncio.run(
        fetch_all(
            [
                "gallery",
                "gallery?q=muon",
                "gallery?q=nothing+like+this",
                f"gallery/{evil.id}",
                f"gallery/{fit.id}/thumb.png",
                f"gallery/{evil.id}/thumb.png",
                f"gallery/{fit.id}/raw",
                "gallery?q=" + "x" * 300,
                lambda: service.gallery.unpublish(fit.id, ME),
                f"gallery/{fit.id}",
            ]
        )
    )
    for answer in (listing, page):
        assert answer.code == 200, answer.body
        csp = answer.headers["Content-Security-Policy"]
        assert "sandbox" in csp and "script-src" not in csp and "img-src 'self' data:" in csp
        assert answer.headers["Cache-Control"] == "no-store"
        # As on share pages: no markup from the notebook or the owner's texts survives as markup.
        for dangerous in (b"<script", b"<img src=x", b"javascript:", b"<iframe", b"steal(", b"evil_js"):
            assert dangerous not in answer.body, (dangerous, answer.body[:2000])
    assert b"Muon fit" in listing.body and b"&lt;script&gt;alert" in listing.body
    assert f"gallery/{fit.id}/thumb.png".encode() in listing.body
    assert b"Muon fit" in search.body and b"Evil" not in search.body
    assert b"No notebook matches your search" in none.body
    assert b"Results gallery-page" in page.body and f"cygnet/open?gallery={evil.id}".encode() in page.body
    assert thumb.code == 200 and thumb.headers["Content-Type"] == "image/png" and thumb.body == PNG
    assert tiny.headers["Content-Type"] == "image/png" and tiny.headers["X-Content-Type-Options"] == "nosniff"
    assert raw.code == 200 and raw.headers["Content-Type"] == "application/octet-stream"
    assert bad_q.code == 400
    assert after.code == 404 and b"unpublished" in after.body
