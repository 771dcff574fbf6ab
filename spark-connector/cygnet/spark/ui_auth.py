"""The session's Spark UIs answer only the session: Spark's own JWSFilter (Spark 4.0+) on every
driver UI Cygnet starts (classic drivers in kernels, managed Connect servers) requires
`Authorization: Bearer <JWS>` signed with the session's key, which only the session's Jupyter
server holds and uses (its /cygnet/spark-ui/ route signs each request it proxies). Another
account that reaches the UI's port directly gets 403.

The key is the session's (cygnet.core.session_key); it never reaches a command line: kernels
give it to the driver through Spark's configuration object after the JVM started, Connect
servers through a 0600 properties file.

Kernel side (standard library) except `bearer`, which the server calls."""

import base64

FILTER = "org.apache.spark.ui.JWSFilter"
KEY_OPTION = f"spark.{FILTER}.param.secretKey"


def filter_conf(key, conf=None):
    """Spark options that make a driver's UI require the session's signature; a site's own UI
    filters stay in front of it."""
    filters = [f for f in (conf or {}).get("spark.ui.filters", "").split(",") if f.strip() and f.strip() != FILTER]
    return {"spark.ui.filters": ",".join([*filters, FILTER]), KEY_OPTION: key}


def has_jws_filter(spark_version):
    """Spark 4.0 brought the JWSFilter; older Spark cannot protect its UI this way."""
    try:
        return int(str(spark_version).split(".")[0]) >= 4
    except ValueError:
        return False


def bearer(key):
    """The Authorization header's value the UIs accept: a JWS (HS256) of an empty payload."""
    import jwt

    signed = jwt.encode({}, base64.urlsafe_b64decode(_padded(key)), algorithm="HS256")
    return f"Bearer {signed}"


def _padded(key):
    return key + "=" * (-len(key) % 4)
