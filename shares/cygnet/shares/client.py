"""The hub's share service (`cygnet-shares`) as a user's server, terminal or script sees it: the
same methods as `ShareStore`, each one call to the service's REST API made with the user's own
hub token ($JUPYTERHUB_API_TOKEN), so the service knows who asks and a user reaches only their
own shares. The snapshot is taken here, where the workspace is, and sent as a bundle
(`bundle`); copies come back the same way."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote, urlparse

import requests

from cygnet.core.errors import BadInput, CygnetError, Expired, NotFound, TooBusy, Unavailable
from cygnet.core.paths import place_new

from .bundle import pack, unpack_to_temp
from .folders import Forbidden
from .session import Conflict
from .store import Share, _kind, files_of, share_source

_ERRORS = {400: BadInput, 403: Forbidden, 404: NotFound, 409: Conflict, 410: Expired, 429: TooBusy, 503: Unavailable}
SPOOL_BYTES = 32 << 20


class ShareServiceClient:
    def __init__(self, service_url, token, workspace, max_bytes=1 << 30, timeout=120):
        if not token:
            raise Unavailable("the hub's share service needs this session's hub token ($JUPYTERHUB_API_TOKEN)")
        self.url = service_url.rstrip("/") + "/"
        self.page_prefix = urlparse(self.url).path + "s/"  # the public page's path, as the proxy serves it
        self.workspace = Path(workspace).resolve() if workspace else None
        self.max_bytes, self.timeout = max_bytes, timeout
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"
        self.http.trust_env = False  # the service is the hub's neighbour: never through a proxy

    # --- the owner's side -------------------------------------------------------------------
    def create(self, path, owner=None, expires_in=None, users=()):
        rel, source = self._source(path)
        kind = _kind(source)
        params = {"path": rel, "kind": kind}
        if expires_in not in (None, ""):
            params["expires_in"] = str(expires_in)
        with self._bundle(source, kind) as body:
            data = self._call("POST", "api/shares", params=params, data=body, users=users)
        return _share(data), data["token"]

    def list(self, owner=None, path=None):
        return [_share(d) for d in self._call("GET", "api/shares", params={"path": path} if path else None)]

    def shared_with(self, user=None):
        return [_share(d) for d in self._call("GET", "api/shares/with-me")]

    def get(self, share_id, owner=None):
        return _share(self._call("GET", f"api/shares/{_id(share_id)}"))

    def refresh(self, share_id, owner=None):
        share = self.get(share_id)
        try:
            _, source = self._source(share.path)
        except NotFound:
            raise NotFound(f"{share.path} no longer exists, so the share keeps its last snapshot") from None
        with self._bundle(source, _kind(source)) as body:
            return _share(self._call("POST", f"api/shares/{share.id}/refresh", data=body))

    def revoke(self, share_id, owner=None):
        share = self.get(share_id)
        self._call("DELETE", f"api/shares/{share.id}")
        return share

    # --- opening a copy ----------------------------------------------------------------------
    def resolve(self, token):
        if (
            not isinstance(token, str)
            or not 16 <= len(token) <= 64
            or not token.replace("-", "").replace("_", "").isalnum()
        ):
            raise NotFound("no such share")
        share = _share(self._call("GET", f"api/links/{token}"))
        share.bundle_path = f"api/links/{token}/bundle"
        return share

    def for_user(self, share_id, user=None):
        share = _share(self._call("GET", f"api/shares/with-me/{_id(share_id)}"))
        share.bundle_path = f"api/shares/with-me/{share.id}/bundle"
        return share

    def copy_into(self, share, folder):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.SpooledTemporaryFile(SPOOL_BYTES) as spool:
            self._call("GET", share.bundle_path, out=spool)
            spool.seek(0)
            staging, unpacked = unpack_to_temp(spool, share.name, share.kind, self.max_bytes, within=str(folder))
        try:
            return place_new(unpacked, folder, share.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def close(self):
        self.http.close()

    # --- inside ------------------------------------------------------------------------------
    def _source(self, path):
        if self.workspace is None:
            raise BadInput("no workspace to share from")
        return share_source(self.workspace, path)

    def _bundle(self, source, kind):
        spool = tempfile.SpooledTemporaryFile(SPOOL_BYTES)
        pack(source, files_of(source, self.max_bytes), kind, spool)
        spool.seek(0)
        return spool

    # --- the site's gallery (cygnet.shares.gallery) -------------------------------------------------
    def publish(self, share_id, title=None, description=None, owner=None):
        body = {k: v for k, v in (("title", title), ("description", description)) if v is not None}
        return self._call("POST", f"api/shares/{_id(share_id)}/gallery", json_body=body)

    def unpublish(self, share_id, owner=None):
        self._call("DELETE", f"api/shares/{_id(share_id)}/gallery")

    def from_gallery(self, share_id):
        """A published notebook, to copy (`copy_into`)."""
        try:
            share = _share(self._call("GET", f"api/gallery/{_id(share_id)}"))
        except NotFound as e:
            raise NotFound(str(e).replace("no share", "no notebook in the gallery")) from None
        share.bundle_path = f"api/gallery/{share.id}/bundle"
        return share

    # --- live shared folders (cygnet.shares.folders; the files are moved by live_folders) ------
    def folders(self):
        """{space, folders}: the folders this user shares live or has been let into."""
        return self._call("GET", "api/folders")

    def folder_create(self, name, path, users, mode="rw"):
        return self._call(
            "POST", "api/folders", json_body={"name": name, "path": path, "users": list(users or []), "mode": mode}
        )

    def folder_grant(self, folder_id, user, mode="rw"):
        return self._call(
            "PUT", f"api/folders/{_id(folder_id)}/members/{quote(user, safe='')}", json_body={"mode": mode}
        )

    def folder_revoke(self, folder_id, user):
        return self._call("DELETE", f"api/folders/{_id(folder_id)}/members/{quote(user, safe='')}")

    def folder_close(self, folder_id):
        """Cut every colleague off; the record while the folder is still in the space, else None."""
        return self._call("DELETE", f"api/folders/{_id(folder_id)}")

    def _call(self, method, path, params=None, data=None, users=(), out=None, json_body=None):
        """One request to the service: its JSON (None for 204), or the body copied into `out`.
        The service's refusals come back as the same errors a local store raises."""
        params = dict(params or {})
        if users:
            params["users"] = ",".join(users) if not isinstance(users, str) else users
        headers = {"Content-Type": "application/zip"} if data is not None else {}
        try:
            r = self.http.request(
                method,
                self.url + path,
                params=params,
                data=data,
                json=json_body,
                headers=headers,
                timeout=self.timeout,
                stream=out is not None,
            )
        except requests.RequestException as e:
            raise Unavailable(f"the hub's share service at {self.url} does not answer ({type(e).__name__})") from None
        with r:
            if r.status_code >= 400:
                raise _ERRORS.get(r.status_code, CygnetError)(_message(r))
            if out is not None:
                for chunk in r.iter_content(1 << 20):
                    out.write(chunk)
                return None
            return r.json() if r.status_code != 204 else None


def _message(response):
    try:
        return json.loads(response.text)["message"]
    except (ValueError, KeyError, TypeError):
        return f"the hub's share service answered {response.status_code} {response.reason}"


def _id(share_id):
    if not isinstance(share_id, str) or len(share_id) != 16 or not all(c in "0123456789abcdef" for c in share_id):
        raise NotFound(f"no share {share_id!r}")
    return share_id


def _share(data):
    """A Share from the service's JSON (which lists the snapshot's files in `listing`)."""
    share = Share(
        id=data["id"],
        owner=data["owner"],
        path=data["path"],
        kind=data["kind"],
        rev=data["rev"],
        files=data["listing"],
        created=data["created"],
        refreshed=data["refreshed"],
        expires=data.get("expires"),
        users=data.get("users", []),
        gallery=data.get("gallery"),
    )
    share.bundle_path = None
    return share
