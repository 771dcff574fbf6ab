"""A real WebDAV server for tests and benchmarks: wsgidav with cheroot on 127.0.0.1, basic auth."""

import shutil
import subprocess
import tempfile
from pathlib import Path

from .gitserve import _wait_for_port
from .jupyter import VENV_BIN, free_port


def start_wsgidav(root, user, password):
    """Serve `root`; returns (process, port). Stop it with process.terminate()."""
    port = free_port()
    config = Path(tempfile.mkdtemp(prefix="wsgidav-")) / "wsgidav.yaml"
    config.write_text(f"""host: 127.0.0.1
port: {port}
provider_mapping:
  "/": {root}
http_authenticator:
  domain_controller: null
  accept_basic: true
  accept_digest: false
  default_to_digest: false
simple_dc:
  user_mapping:
    "*":
      {user}:
        password: {password}
verbose: 0
""")
    proc = subprocess.Popen(
        [str(VENV_BIN / "wsgidav"), "--config", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for_port(port)
    finally:
        shutil.rmtree(config.parent, ignore_errors=True)  # read at start; it holds the password
    return proc, port
