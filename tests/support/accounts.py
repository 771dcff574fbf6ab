"""Unix accounts made for a test module (as root) and removed with everything they ran."""

import contextlib
import pwd
import subprocess


@contextlib.contextmanager
def unix_accounts(*names):
    """{name: passwd entry} of accounts made (unless they exist) for the block; afterwards their
    processes are killed and the accounts removed with their homes."""
    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
    try:
        yield {name: pwd.getpwnam(name) for name in names}
    finally:
        for name in names:
            subprocess.run(["pkill", "-KILL", "-u", name], check=False)
            subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)
