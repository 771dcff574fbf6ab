"""Real-time co-editing: jupyter-collaboration set up for a Cygnet session.

Done at link time, before the collaboration extensions read their configuration:
- it is on or off with `Cygnet.collaboration`;
- what it writes (the documents' update store, the file ids, its session records) goes to a
  private folder of the user's data dir, one per workspace, instead of the workspace
  (`.jupyter_ystore.db`, `.jupyter/`) and Jupyter's data dir shared by every server of the account;
- under `cygnet up`, whoever logs in with the session's token or password is the account's owner,
  so co-editors see a name, not "Anonymous Io". Under the hub, the hub names each user.
A site's own setting for any of these stays.
"""

import getpass
import hashlib
import os
import pwd
from pathlib import Path

from jupyter_server.auth.identity import PasswordIdentityProvider, User

from cygnet.core import scratch

FOLDER = "collaboration"  # in the data dir, then one folder per workspace


class AccountIdentityProvider(PasswordIdentityProvider):
    """jupyter_server's token and password login, naming the account's owner: a `cygnet up`
    session is one person's, whichever browser they open it in."""

    def generate_anonymous_user(self, handler):
        return account_user()


def account_user(account=None):
    """The account's owner as Jupyter's user model: login name, and the full name from the
    password database when it has one."""
    name = account or getpass.getuser()
    try:
        full = pwd.getpwnam(name).pw_gecos.split(",")[0].strip()
    except KeyError:
        full = ""
    display = full or name
    initials = "".join(word[0] for word in display.split()[:2]).upper() or name[:1].upper()
    return User(username=name, name=name, display_name=display, initials=initials)


def store_folder(data_dir, workspace):
    """The private folder for one workspace's collaboration state. File ids are paths relative to
    the workspace, so two workspaces must not share one."""
    key = hashlib.sha256(os.path.realpath(workspace).encode()).hexdigest()[:16]
    folder = Path(data_dir) / FOLDER / key
    for path in (data_dir, folder.parent, folder):  # linking comes before the session's umask 077
        scratch.private_dir(str(path))
    return folder


def link(serverapp, config):
    """Configure collaboration for this server from Cygnet's settings (`config`)."""
    settings = serverapp.config
    if "disable_rtc" not in settings.YDocExtension:
        settings.YDocExtension.disable_rtc = not config.collaboration
    if settings.ServerApp.get("identity_provider_class") is None:  # the hub sets its own
        serverapp.identity_provider_class = AccountIdentityProvider
    if not config.collaboration:
        return
    folder = store_folder(config.data_dir, serverapp.root_dir)
    places = {
        ("SQLiteYStore", "db_path"): folder / "documents.db",
        ("BaseFileIdManager", "db_path"): folder / "file-ids.db",
        ("YDocExtension", "session_store_path"): folder / "sessions.json",
    }
    for (section, name), path in places.items():
        if name not in settings[section]:
            settings[section][name] = str(path)
