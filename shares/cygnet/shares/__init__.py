"""Shares: links to a snapshot of a notebook, file or folder that keep working when the owner's
session stops, and shares with named colleagues. Everything about them lives here, used by the
user's server (`cygnet.server.share_handlers`, `cygnet.server.share_public`), by the hub's share
service (`cygnet.hub.shares_service`) and by `cygnet share`:

- `store`: the share store (SQLite rows, snapshots in a box), its checks, `open_share_store`
  (the embedded store or the hub's service) and `share_link`;
- `client`: the hub's share service as a store, over its REST API;
- `bundle`: a snapshot as one zip, as a server sends it to the service and a copy comes back;
- `render`: a share's page made safe (sanitized notebook, file or listing in `templates/`);
- `pages`: the public pages for any tornado handler (`SharePages`, `BadShareLinks`, `page_routes`);
- `cli`: `cygnet share`.

Not kernel-side: kernels never get it (Cygnet.kernel_packages). This file imports nothing, so
`cygnet share` loads only what it uses.
"""
