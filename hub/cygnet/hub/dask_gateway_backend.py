"""dask-gateway's LocalBackend (each user's scheduler and workers as their own Unix account),
with the cluster's working folder handed to the user safely, and the scheduler's and workers'
temporary files kept in it (private to the user) rather than in a /tmp/dask-scratch-space-<uid>
that Dask would make readable by every account.

Why: dask-gateway-server 2026.3.0's `LocalBackend.setup_working_directory` adds each TLS file's
path to its list with `list.extend(path)`, which adds the path's *characters*: it then chowns
"/" (the first character) to the user, and fails on the next one. A hub running as root would
give the first user who starts a cluster the machine's root folder. This backend makes the
same folders and files and chowns exactly those.
"""

import os
import tempfile

from dask_gateway_server.backends.local import LocalBackend


class UserLocalBackend(LocalBackend):
    def setup_working_directory(self, cluster):
        if self.clusters_directory:
            workdir = os.path.join(self.clusters_directory, cluster.name)
        else:  # private to root until chowned: mkdtemp makes it 0700
            workdir = tempfile.mkdtemp(prefix="dask", suffix=cluster.name)
        folders = [
            workdir,
            self.get_certs_directory(workdir),
            self.get_logs_directory(workdir),
            _scratch(workdir),
        ]
        for folder in folders:
            os.makedirs(folder, 0o700, exist_ok=True)
        cert_path, key_path = self._get_tls_paths(workdir)
        for path, data in ((cert_path, cluster.tls_cert), (key_path, cluster.tls_key)):
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
                f.write(data)
        self.set_file_permissions([*folders, cert_path, key_path], cluster.username)
        return workdir

    def get_env(self, cluster):
        env = super().get_env(cluster)
        workdir = (cluster.state or {}).get("workdir")
        if workdir:
            env["TMPDIR"] = env["DASK_TEMPORARY_DIRECTORY"] = _scratch(workdir)
        return env


def _scratch(workdir):
    return os.path.join(workdir, "tmp")
