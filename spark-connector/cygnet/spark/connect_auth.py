"""Spark Connect servers that answer only their owner: Spark's pre-shared token
(`spark.connect.authenticate.token`, read by the server from $SPARK_CONNECT_AUTHENTICATE_TOKEN
and by pyspark's client from the same variable), never on a command line or in a URL.

A managed server gets a token of its own, kept 0600 beside its state; kernels that connect put
it in their environment while connected (so code that builds its own session from $SPARK_REMOTE
joins with it too). A site's `connect` cluster may name a token file or variable.

pyspark's client sends a token over TLS, except to `localhost`, where it uses gRPC's local
credentials: managed servers are addressed as sc://localhost:PORT for that reason.

Kernel side (standard library; pyspark only in `channel`)."""

import os
import secrets
from pathlib import Path

from cygnet.core.atomic import atomic_write
from cygnet.core.errors import NotAuthenticated

TOKEN_ENV = "SPARK_CONNECT_AUTHENTICATE_TOKEN"


def new_token():
    return secrets.token_urlsafe(32)


def write_token(path, token):
    """The token in a file only its account reads (written whole, 0600 from the start)."""
    atomic_write(path, token, mode=0o600)


def read_token(path):
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        return None


def cluster_token(cluster):
    """The token a site's `connect` cluster asks for (token_env or token_file), or None."""
    if cluster.token_env:
        value = os.environ.get(cluster.token_env)
        if not value:
            raise NotAuthenticated(
                f"Spark Connect cluster {cluster.name} needs its token in ${cluster.token_env}, which this "
                "kernel does not have (export it in your environment script)"
            )
        return value
    if cluster.token_file:
        path = os.path.expanduser(cluster.token_file)
        token = read_token(path)
        if token is None:
            raise NotAuthenticated(
                f"Spark Connect cluster {cluster.name} needs its token from {path}, which is unreadable"
            )
        return token
    return None


def use_token(token):
    """This kernel's Connect clients send `token` (None: no token)."""
    if token:
        os.environ[TOKEN_ENV] = token
    else:
        os.environ.pop(TOKEN_ENV, None)


def channel(url, token=None):
    """A Connect client's channel to `url` with `token`: for clients the server itself makes
    (warming a server up, releasing a dead kernel's session), without touching its environment."""
    from pyspark.sql.connect.client import DefaultChannelBuilder

    builder = DefaultChannelBuilder(url)
    if token:
        builder.set("token", token)
    return builder
