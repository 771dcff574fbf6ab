"""The OpenAPI 3.1 document of everything under /cygnet/api/, served at
/cygnet/api/openapi.json. A test compares its paths and methods with the routes the extension
registers, so the two cannot drift apart (tests/test_inprocess.py)."""

from jupyter_server.auth.decorator import authorized
from tornado import web

from cygnet.core.version import VERSION

from .handlers import CygnetHandler


def _obj(properties, required=()):
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _text(schema, required=False):
    """Request text where the answer's schema says string: as Cygnet checks it (items too)."""
    if schema == STRING:
        return {**TEXT, "minLength": 1} if required else TEXT
    if schema.get("type") == "array":
        return {**schema, "items": _text(schema["items"], required=True)}
    return schema


def _request(properties, required=()):
    """A request body: only these fields (others are refused), the required ones not empty."""
    schema = _obj({k: _text(v, k in required) for k, v in properties.items()})
    schema["required"] = list(required)
    schema["additionalProperties"] = False
    return schema


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _array(items):
    return {"type": "array", "items": items}


STRING, BOOL, INT, NUMBER = {"type": "string"}, {"type": "boolean"}, {"type": "integer"}, {"type": "number"}
# What Cygnet accepts as text in a request (cygnet.core.checks.text): no control characters, no
# unpaired surrogates, at most 4,096 characters.
TEXT = {"type": "string", "maxLength": 4096, "pattern": "^[^\\u0000-\\u001f\\u007f\\ud800-\\udfff]*$"}
NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_NUMBER = {"type": ["number", "null"]}
ANY_OBJECT = {"type": "object"}
NOTIFY_ON = {"enum": ["failed", "ended", "never"]}  # when a run tells its owner it ended

SCHEMAS = {
    "Error": _obj({"message": STRING, "reason": NULLABLE_STRING}, ["message"]),
    "ViewKernel": _obj(
        {"name": STRING, "display_name": STRING, "language": STRING, "usable": BOOL, "reason": STRING},
        ["name", "usable"],
    ),
    "View": _obj(
        {
            "name": STRING,
            "release": STRING,
            "platform": STRING,
            "path": STRING,
            "python": NULLABLE_STRING,
            "python_version": NULLABLE_STRING,
            "usable": BOOL,
            "reason": STRING,
            "base": STRING,
            "kernels": _array(_ref("ViewKernel")),
        },
        ["name", "usable", "kernels"],
    ),
    "Run": _obj(
        {
            "id": STRING,
            "owner": STRING,
            "notebook": STRING,
            "parameters": ANY_OBJECT,
            "view": STRING,
            "kernel": STRING,
            "backend": STRING,
            "cluster": STRING,
            "job_id": STRING,
            "state": {"enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
            "cells_done": INT,
            "cells_total": INT,
            "created": NUMBER,
            "started": NULLABLE_NUMBER,
            "ended": NULLABLE_NUMBER,
            "output": STRING,
            "html": STRING,
            "error": STRING,
            "log_tail": STRING,
            "schedule": STRING,
            "notify": _ref("NotifyShown"),
            "notifications": _array(
                _obj(
                    {
                        "channel": {"enum": ["email", "webhook"]},
                        "target": STRING,
                        "state": {"enum": ["pending", "sent", "failed"]},
                        "attempts": INT,
                        "last_error": STRING,
                        "next_try": NUMBER,
                        "sent": NULLABLE_NUMBER,
                    }
                )
            ),
            "webhook_secret": STRING,
        },
        ["id", "state", "notebook", "output"],
    ),
    "Notify": _obj(
        {
            "on": NOTIFY_ON,
            "email": TEXT,
            "webhook": TEXT,
            "webhook_secret": TEXT,
        }
    )
    | {"additionalProperties": False},
    "NotifyShown": _obj({"on": NOTIFY_ON, "email": STRING, "webhook": STRING, "webhook_signed": BOOL}),
    "Schedule": _obj(
        {
            "id": STRING,
            "owner": STRING,
            "notebook": STRING,
            "parameters": ANY_OBJECT,
            "view": STRING,
            "cluster": STRING,
            "backend": STRING,
            "cron": STRING,
            "every": NUMBER,
            "timezone": STRING,
            "start": NULLABLE_NUMBER,
            "end": NULLABLE_NUMBER,
            "paused": BOOL,
            "misfire": {"enum": ["skip", "catch_up"]},
            "overlap": {"enum": ["skip", "allow"]},
            "notify": _ref("NotifyShown"),
            "check_new_views": BOOL,
            "views_known": _array(STRING),
            "created": NUMBER,
            "next_slot": NULLABLE_NUMBER,
            "last_slot": NULLABLE_NUMBER,
            "last_run": STRING,
            "fired": INT,
            "skipped": INT,
            "firings": _array(
                _obj(
                    {
                        "slot": NUMBER,
                        "state": {"enum": ["claimed", "submitted", "skipped", "failed"]},
                        "run": STRING,
                        "note": STRING,
                    }
                )
            ),
            "webhook_secret": STRING,
        },
        ["id", "notebook", "paused", "next_slot"],
    ),
    "ScheduleRequest": _request(
        {
            "notebook": STRING,
            "parameters": ANY_OBJECT,
            "view": STRING,
            "cluster": STRING,
            "backend": STRING,
            "cron": STRING,
            "every": {"type": ["number", "string"]},
            "timezone": STRING,
            "start": {"type": ["number", "string"]},
            "end": {"type": ["number", "string"]},
            "misfire": {"enum": ["skip", "catch_up"]},
            "overlap": {"enum": ["skip", "allow"]},
            "notify": _ref("Notify"),
            "check_new_views": BOOL,
        },
        ["notebook"],
    ),
    "SchedulePatch": _request({"paused": BOOL}, ["paused"]),
    "RunRequest": _request(
        {
            "notebook": STRING,
            "parameters": ANY_OBJECT,
            "view": STRING,
            "cluster": STRING,
            "backend": {"enum": ["", "local", "slurm", "htcondor", "kubernetes"]},
            "out": STRING,
            "notify": _ref("Notify"),
        },
        ["notebook"],
    ),
    "CheckViewsRequest": _request(
        {
            "notebook": STRING,
            "views": {**_array(STRING), "minItems": 2, "maxItems": 2},
            "parameters": ANY_OBJECT,
            "cluster": STRING,
            "backend": {"enum": ["", "local", "slurm", "htcondor", "kubernetes"]},
            "notify": _ref("Notify"),
        },
        ["notebook", "views"],
    ),
    "RunComparison": _obj(
        {
            "a": ANY_OBJECT,
            "b": ANY_OBJECT,
            "cells": _array(
                _obj(
                    {
                        "cell": INT,
                        "source": STRING,
                        "verdict": {"enum": ["same", "close", "differs", "only-a", "only-b"]},
                        "detail": STRING,
                    }
                )
            ),
            "verdict": {"enum": ["same", "close", "differs"]},
            "counts": ANY_OBJECT,
            "tolerance": _obj({"rel_tol": NUMBER, "abs_tol": NUMBER}),
            "diff_url": NULLABLE_STRING,
        },
        ["a", "b", "cells", "verdict"],
    ),
    "RunForm": _obj(
        {
            "parameters": _array(_obj({"name": STRING, "default": STRING, "type": STRING, "help": STRING})),
            "views": _array(STRING),
            "default_view": STRING,
            "clusters": _array(STRING),
            "backends": _array(STRING),
            "default_backend": STRING,
        }
    ),
    "SyncJob": _obj(
        {
            "id": STRING,
            "state": {"enum": ["queued", "running", "done", "failed", "interrupted"]},
            "progress": ANY_OBJECT,
            "summary": {"type": ["object", "null"]},
            "error": NULLABLE_STRING,
        },
        ["id", "state"],
    ),
    "SyncRequest": _request({"src": STRING, "dest": STRING, "delete": BOOL, "dry_run": BOOL}, ["src"]),
    "History": _obj(
        {
            "path": STRING,
            "versions": _array(
                _obj(
                    {
                        "source": {"enum": ["checkpoint", "box"]},
                        "id": STRING,
                        "when": STRING,
                        "size": INT,
                        "where": STRING,
                    },
                    ["source", "id", "when"],
                )
            ),
        },
        ["path", "versions"],
    ),
    "RestoreRequest": _request({"path": STRING, "version": STRING}, ["path", "version"]),
    "SparkServer": _obj(
        {
            "id": STRING,
            "cluster": STRING,
            "view": STRING,
            "state": {"enum": ["starting", "ready", "failed"]},
            "url": NULLABLE_STRING,
            "ui_url": NULLABLE_STRING,
        },
        ["id", "state"],
    ),
    "SparkServerRequest": _request(
        {"cluster": STRING, "bundles": _array(STRING), "options": ANY_OBJECT, "view": STRING}, ["cluster"]
    ),
    "Ticket": _obj(
        {
            "principal": NULLABLE_STRING,
            "expires": NULLABLE_NUMBER,
            "renew_until": NULLABLE_NUMBER,
            "ccache": STRING,
            "available": BOOL,
        }
    ),
    "KerberosRequest": _request({"principal": STRING, "password": STRING}, ["password"]),
    "Share": _obj(
        {
            "id": STRING,
            "path": STRING,
            "kind": STRING,
            "name": STRING,
            "state": {"enum": ["active", "expired"]},
            "expires": NULLABLE_NUMBER,
            "users": _array(STRING),
        },
        ["id"],
    ),
    "ShareRequest": _request(
        {"path": STRING, "expires_in": {"type": ["string", "integer", "null"]}, "users": _array(STRING)}, ["path"]
    ),
    "Link": _obj({"url": STRING, "markdown": STRING}, ["url"]),
    "Session": _obj(
        {"owner": STRING, "you": STRING, "hub": {"type": "boolean"}, "shared_with": {"type": ["array", "null"]}},
        ["owner", "you", "hub", "shared_with"],
    ),
    "SessionLimit": _obj(
        {
            "scheduler": {"type": ["string", "null"]},
            "job": {"type": ["string", "null"]},
            "ends": NULLABLE_NUMBER,
            "warn_before": NUMBER,
            "usage_note": {"type": ["string", "null"]},
        },
        ["scheduler", "job", "ends", "warn_before", "usage_note"],
    ),
    "GalleryEntry": _obj(
        {
            "id": STRING,
            "title": STRING,
            "description": STRING,
            "owner": STRING,
            "path": STRING,
            "published": NUMBER,
            "refreshed": NUMBER,
            "hidden": {"type": "boolean"},
        },
        ["id", "title", "owner"],
    ),
    "GalleryRequest": _request({"title": STRING, "description": STRING}),
    "SessionGrant": _obj({"user": STRING, "created": STRING}, ["user", "created"]),
    "SessionShareRequest": _request({"users": _array(STRING)}, ["users"]),
    "LiveFolder": _obj(
        {
            "id": STRING,
            "owner": STRING,
            "name": STRING,
            "path": STRING,
            "target": STRING,
            "created": {"type": "number"},
            "state": {"enum": ["shared", "closed"]},
            "members": {"type": "object", "additionalProperties": {"enum": ["rw", "ro"]}},
        },
        ["id", "owner", "name", "path", "target", "state", "members"],
    ),
    "LiveFolders": _obj(
        {
            "space": {"type": ["string", "null"]},
            "available": {"type": "boolean"},
            "why": STRING,
            "folders": _array(_ref("LiveFolder")),
        },
        ["available", "folders"],
    ),
    "LiveFolderRequest": _request(
        {"path": STRING, "users": _array(STRING), "mode": {"enum": ["rw", "ro"]}}, ["path", "users"]
    ),
    "LiveFolderMemberRequest": _request({"mode": {"enum": ["rw", "ro"]}}, []),
}


def _operation(
    summary, *, ok=200, response=ANY_OBJECT, body=None, query=(), path_id=None, errors=(400, 404), path_name=None
):
    operation = {"summary": summary, "responses": {}}
    if ok == 204:
        operation["responses"]["204"] = {"description": "done"}
    else:
        content_type = "text/event-stream" if response == "events" else "application/json"
        schema = {} if response == "events" else response  # each event's data: JSON (see the user guide)
        operation["responses"][str(ok)] = {"description": "success", "content": {content_type: {"schema": schema}}}
    for status in (*errors, 403, 414, 429, 503):  # 414: a query over 8,192 characters; 429: too much at once
        operation["responses"][str(status)] = {
            "description": "an error, with a message naming its cause",
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    # path_id: the schema of the path's {id} (or, for TEXT, of its {path})
    name = path_name or ("path" if path_id is TEXT else "id")
    parameters = [{"name": name, "in": "path", "required": True, "schema": path_id}] if path_id else []
    parameters += [
        {"name": name, "in": "query", "required": required, "schema": _text(STRING, required)}
        for name, required in query
    ]
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    return operation


def _id(hex_digits):
    return {"type": "string", "pattern": f"^[0-9a-f]{{{hex_digits}}}$"}


RUN_ID, JOB_ID, SERVER_ID, SHARE_ID = _id(12), _id(32), _id(16), _id(16)


def _member_operation(summary, body=None, errors=(400, 404)):
    """An operation on /folders/{id}/members/{user}: two path parameters."""
    operation = _operation(summary, response=_ref("LiveFolder"), path_id=SHARE_ID, body=body, errors=errors)
    operation["parameters"].append(
        {"name": "user", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[^/]{1,255}$"}}
    )
    return operation


OPEN_QUERY = [
    (name, False) for name in ("repo", "branch", "path", "target", "url", "share", "shared", "gallery", "env")
]

PATHS = {
    "/views": {"get": _operation("Every view, usable or not, with its kernels", response=_array(_ref("View")))},
    "/open": {
        "get": _operation(
            "Open a repository, a notebook or a share by link: server-sent events (progress, then done or "
            "failed; bad parameters too are a failed event)",
            response="events",
            query=OPEN_QUERY,
        )
    },
    "/link": {
        "get": _operation(
            "The shareable link (and badge) of the Git checkout holding a workspace path",
            response=_ref("Link"),
            query=[("from", True)],
        )
    },
    "/runs": {
        "get": _operation("Your batch runs, newest first", response=_array(_ref("Run"))),
        "post": _operation("Run a notebook as a batch job", ok=201, response=_ref("Run"), body="RunRequest"),
    },
    "/runs/form": {
        "get": _operation(
            "What the Run as Batch Job dialog offers for a notebook",
            response=_ref("RunForm"),
            query=[("notebook", True)],
        )
    },
    "/runs/compare": {
        "get": _operation(
            "Compare two ended runs' results cell by cell (numbers within a tolerance), with their "
            "parameters, views and durations, and a link to nbdime's diff of the two notebooks",
            response=_ref("RunComparison"),
            query=[("a", True), ("b", True), ("rel_tol", False), ("abs_tol", False)],
        )
    },
    "/runs/check-views": {
        "post": _operation(
            "Run a notebook with the same parameters on two views (an old release and a new one), to "
            "compare the two runs once they end",
            ok=201,
            response=_obj({"runs": _array(_ref("Run"))}, ["runs"]),
            body="CheckViewsRequest",
        )
    },
    "/runs/{id}": {
        "get": _operation("One run, with its log's tail", response=_ref("Run"), path_id=RUN_ID),
        "delete": _operation("Cancel a run", response=_ref("Run"), path_id=RUN_ID),
    },
    "/schedules": {
        "get": _operation("Your schedules", response=_array(_ref("Schedule"))),
        "post": _operation(
            "Run a notebook on a schedule (a cron expression or an interval); the webhook secret made for its "
            "notify is in this answer only",
            ok=201,
            response=_ref("Schedule"),
            body="ScheduleRequest",
        ),
    },
    "/schedules/{id}": {
        "get": _operation("One schedule and its latest firings", response=_ref("Schedule"), path_id=RUN_ID),
        "patch": _operation(
            "Pause or resume a schedule", response=_ref("Schedule"), body="SchedulePatch", path_id=RUN_ID
        ),
        "delete": _operation("Remove a schedule (its runs stay)", ok=204, path_id=RUN_ID),
    },
    "/sync": {
        "get": _operation("Your sync jobs, newest first", response=_array(_ref("SyncJob"))),
        "post": _operation(
            "Sync a workspace folder into the box", ok=202, response=_ref("SyncJob"), body="SyncRequest"
        ),
    },
    "/sync/{id}": {"get": _operation("One sync job", response=_ref("SyncJob"), path_id=JOB_ID)},
    "/sync/{id}/resume": {
        "post": _operation(
            "A new job with a failed or interrupted job's parameters", ok=202, response=_ref("SyncJob"), path_id=JOB_ID
        )
    },
    "/history": {
        "get": _operation(
            "A file's versions, newest first: its checkpoints and the versions the box keeps of it",
            response=_ref("History"),
            query=[("path", True)],
        )
    },
    "/history/diff": {
        "get": _operation(
            "The diff between two versions of a file (b: the current file by default): nbdime's for notebooks",
            response=_obj({"path": STRING, "a": STRING, "b": STRING, "diff": STRING}, ["path", "a", "b", "diff"]),
            query=[("path", True), ("a", True), ("b", False)],
        )
    },
    "/history/restore": {
        "post": _operation(
            "Put a version back in place of the file, keeping the current file as a checkpoint first",
            response=ANY_OBJECT,
            body="RestoreRequest",
        )
    },
    "/compute/clusters": {
        "get": _operation(
            "The site's clusters of every engine (Spark, Dask), each with its engine", response=_array(ANY_OBJECT)
        )
    },
    "/spark/clusters": {
        "get": {
            **_operation("Deprecated: the old route of /compute/clusters", response=_array(ANY_OBJECT)),
            "deprecated": True,
        }
    },
    "/spark/bundles": {
        "get": _operation("Configuration bundles", response=_array(ANY_OBJECT), query=[("cluster", False)])
    },
    "/spark/options": {"get": _operation("Known Spark options, for completion", response=_array(ANY_OBJECT))},
    "/spark/servers": {
        "get": _operation("Your managed Spark Connect servers", response=_array(_ref("SparkServer"))),
        "post": _operation(
            "Start a managed Spark Connect server", ok=202, response=_ref("SparkServer"), body="SparkServerRequest"
        ),
    },
    "/spark/servers/{id}": {
        "get": _operation("One managed server, with its log's tail", response=_ref("SparkServer"), path_id=SERVER_ID),
        "delete": _operation("Stop it", ok=204, path_id=SERVER_ID),
    },
    "/kerberos": {
        "get": _operation("Your Kerberos ticket", response=_ref("Ticket")),
        "post": _operation("Authenticate (get a ticket)", response=_ref("Ticket"), body="KerberosRequest"),
        "delete": _operation("Forget the ticket", ok=204),
    },
    "/shares": {
        "get": _operation("Your share links (of one path)", response=_array(_ref("Share")), query=[("path", False)]),
        "post": _operation(
            "Share a file or folder by link (the answer adds its token and url, shown once)",
            ok=201,
            response=_ref("Share"),
            body="ShareRequest",
        ),
    },
    "/shares/with-me": {"get": _operation("What others shared with you", response=_array(_ref("Share")))},
    "/shares/{id}": {
        "get": _operation("One of your shares", response=_ref("Share"), path_id=SHARE_ID),
        "delete": _operation("Revoke it", ok=204, path_id=SHARE_ID),
    },
    "/shares/{id}/gallery": {
        "post": _operation(
            "Publish your notebook share to the site's gallery (the hub's), or change its title and description",
            ok=201,
            response=_ref("GalleryEntry"),
            body="GalleryRequest",
            path_id=SHARE_ID,
        ),
        "delete": _operation("Unpublish it", ok=204, path_id=SHARE_ID),
    },
    "/shares/{id}/refresh": {
        "post": _operation("Take a new snapshot for the same link", response=_ref("Share"), path_id=SHARE_ID)
    },
    "/session": {
        "get": _operation(
            "Whose session this is and who asks; the owner also sees who it is shared with", response=_ref("Session")
        )
    },
    "/session/limit": {
        "get": _operation(
            "When this session's batch job reaches its time limit (null outside a job or without a limit), "
            "how many seconds before JupyterLab warns, and the hub's soft-quota warning for your groups",
            response=_ref("SessionLimit"),
            errors=(),
        )
    },
    "/session/shares": {
        "get": _operation(
            "The hub users this running session is shared with (the owner's only)",
            response=_array(_ref("SessionGrant")),
        ),
        "post": _operation(
            "Share this running session with hub users: they open its files and kernels, and run code as you",
            ok=201,
            response=_array(_ref("SessionGrant")),
            body="SessionShareRequest",
            errors=(400, 404, 409),
        ),
    },
    "/session/shares/{user}": {
        "delete": _operation(
            "End a user's access to this session; their open connections are closed",
            response=_obj({"revoked": STRING, "closed": {"type": "integer"}}, ["revoked", "closed"]),
            path_id={"type": "string", "pattern": "^[^/]{1,255}$"},
            path_name="user",
        )
    },
    "/folders": {
        "get": _operation(
            "Folders shared live: yours and those shared with you (each linked at shared/<owner>/<name>)",
            response=_ref("LiveFolders"),
            errors=(),
        ),
        "post": _operation(
            "Share a workspace folder live with hub users, read-write or read-only: they work in it from their "
            "own sessions, with their own accounts",
            ok=201,
            response=_ref("LiveFolder"),
            body="LiveFolderRequest",
            errors=(400, 404, 409),
        ),
    },
    "/folders/own-kernel": {
        "get": _operation(
            "For a colleague this session is shared with: where their own session opens this notebook with "
            "their own kernel (the folder must be shared live with them)",
            response=_obj({"path": STRING, "url": STRING}, ["path", "url"]),
            query=[("path", True)],
        )
    },
    "/folders/{id}": {
        "delete": _operation(
            "Stop sharing a folder live: everyone is cut off at once and it comes back to its place",
            response=_obj({"id": STRING, "path": STRING}, ["id", "path"]),
            path_id=SHARE_ID,
        )
    },
    "/folders/{id}/members/{user}": {
        "put": _member_operation(
            "Let one more hub user into a folder you share live", body="LiveFolderMemberRequest", errors=(400, 404, 409)
        ),
        "delete": _member_operation("Cut a user off a folder you share live (at once)"),
    },
    "/storage/{path}": {
        "get": _operation(
            "A file in your EOS home (Range requests answer 206), or with ?list (or a folder) its entries",
            response={},
            path_id=TEXT,
            query=[("list", False)],
            errors=(400, 404, 416),
        ),
        "put": _operation(
            "Upload the body as a file (atomically; folders are made)", ok=201, path_id=TEXT, errors=(400, 404, 413)
        ),
        "delete": _operation("Delete a file or an empty folder", ok=204, path_id=TEXT),
    },
    "/openapi.json": {"get": _operation("This document", errors=())},
}


def document(base_url="/"):
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cygnet",
            "version": VERSION,
            "description": "Cygnet's REST API: software views, opening by link, batch runs, box sync, Spark, "
            "Kerberos and share links. Every call needs the Jupyter (or JupyterHub) login: a token in the "
            "Authorization header, or the session cookie with the XSRF token for changes.",
        },
        "servers": [{"url": base_url.rstrip("/") + "/cygnet/api"}],
        "security": [{"token": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "Authorization"}},
        },
    }


class OpenAPIHandler(CygnetHandler):
    """GET /cygnet/api/openapi.json: this service's API, described."""

    co_editors = True  # read-only, and about what a co-editor works on

    @web.authenticated
    @authorized
    def get(self):
        self.finish_json(document(self.base_url))


class UnknownAPIHandler(CygnetHandler):
    """Any other path under /cygnet/api/: a JSON 404 pointing at the document (not an HTML page)."""

    co_editors = True

    def _unknown(self, *args):
        raise web.HTTPError(
            404, f"no Cygnet API at {self.request.path}; the API is described at /cygnet/api/openapi.json"
        )

    @web.authenticated
    def get(self, *args):
        self._unknown()

    post = put = patch = delete = get


def reference():
    """docs/api-reference.md: the document rendered for people (`python -m
    cygnet.server.openapi > docs/api-reference.md`, `make docs`); a test keeps it current."""
    lines = [
        "# API reference",
        "",
        "<!-- Made by `python -m cygnet.server.openapi` from cygnet.server.openapi: edit the document there,",
        "     then run `make docs`. The machine-readable form is GET /cygnet/api/openapi.json. -->",
        "",
        "Every path is under `/cygnet/api`, behind the Jupyter (or JupyterHub) login. Errors are JSON",
        '`{"message": ...}`; every operation may also answer 403 (no login), 414 (a query over 8,192',
        "characters), 429 (too much long work at once) and 503 (a service behind Cygnet unavailable).",
        "",
        "| Method | Path | What it does | Parameters | Body | Success |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for path, item in PATHS.items():
        for method, op in item.items():
            params = ", ".join(
                f"`{p['name']}`{'' if p['required'] else '?'} ({p['in']})" for p in op.get("parameters", [])
            )
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            body_name = body.get("$ref", "").rsplit("/", 1)[-1]
            success = next(code for code in op["responses"] if code.startswith("2"))
            lines.append(
                f"| {method.upper()} | `{path}` | {op['summary']} | {params or '-'} | "
                f"{f'[{body_name}](#{body_name.lower()})' if body_name else '-'} | {success} |"
            )
    lines += ["", "## Schemas", ""]
    for name, schema in SCHEMAS.items():
        required = set(schema.get("required", []))
        fields = ", ".join(f"`{k}`{'' if k in required else '?'}" for k in schema.get("properties", {}))
        closed = " Other fields are refused." if schema.get("additionalProperties") is False else ""
        lines += [f"### {name}", "", f"Fields: {fields}.{closed}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference())


default_handlers = [("/cygnet/api/openapi.json", OpenAPIHandler)]
# Collected last: it answers only what no feature's route matched.
fallback_handlers = [("/cygnet/api/.*", UnknownAPIHandler)]
