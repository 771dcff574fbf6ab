"""Hadoop delegation tokens for clusters whose catalogue entry names a `token_service` (YARN and
HDFS at sites that hand tokens out over HTTP with Kerberos, as SWAN's spark-tokens do).

The server fetches them with the user's ticket (SPNEGO, cygnet.core.negotiate) when the user
authenticates and each time the ticket is renewed, into one file per cluster under the data dir;
a kernel's `connect` points the driver at it with $HADOOP_TOKEN_FILE_LOCATION, which Hadoop's
client reads and Spark ships to the executors."""

import os


def tokens_dir(data_dir):
    return os.path.join(str(data_dir), "kerberos", "tokens")


def token_file(folder, cluster_name):
    return os.path.join(folder, f"{cluster_name}.token")


def refresh(catalogue, folder):
    """Fetch every cluster's tokens; returns {cluster: None or the error's message}."""
    from cygnet.core import negotiate
    from cygnet.core.errors import CygnetError

    outcome = {}
    clusters = [c for c in catalogue.clusters if c.engine == "spark" and c.token_service]
    http = negotiate.session() if clusters else None  # one handshake per service, not per cluster
    for cluster in clusters:
        try:
            negotiate.save_token(cluster.token_service, token_file(folder, cluster.name), http)
            outcome[cluster.name] = None
        except CygnetError as e:
            outcome[cluster.name] = str(e)
    return outcome
