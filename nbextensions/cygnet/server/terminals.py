"""Terminals in a software view: `python`, `root`, `R` and `pip list` in a JupyterLab terminal
find what the notebook's kernel finds.

A terminal gets the environment a kernel of the user's default view gets (its setup.sh, then the
user's environment script, with the same isolation), or that of the view named when it is made
(`POST /api/terminals {"view": "<release>/<platform>"}`). With no usable view at all, it is the
server's plain environment, as Jupyter's own terminals are.
"""

import os
import shutil

from jupyter_server_terminals.terminalmanager import TerminalManager

from cygnet.core import contract
from cygnet.core.errors import BadInput, CygnetError, NotFound, Unavailable, as_http_error
from cygnet.core.proc import pass_niceness_on

# What the terminal itself sets, kept over the view's environment.
TERMINAL_VARIABLES = ("TERM", "COLUMNS", "LINES", "JUPYTER_SERVER_ROOT", "JUPYTER_SERVER_URL")
BASHRC = os.path.join(os.path.dirname(__file__), "terminal_bashrc.sh")


class ViewTerminalManager(TerminalManager):
    def __init__(self, **kwargs):
        # Unless the site chose a shell: an interactive bash with Cygnet's rc file, which reads
        # the user's ~/.bashrc and then puts the view's PATH first again. Not a login shell, as
        # Jupyter would start: /etc/profile resets PATH and would hide the view.
        parent = kwargs.get("parent")
        chosen = getattr(parent, "terminado_settings", {}).get("shell_command")
        bash = shutil.which("bash")
        if chosen is None and bash:
            kwargs["shell_command"] = [bash, "--rcfile", BASHRC, "-i"]
        super().__init__(**kwargs)

    def create(self, **kwargs):
        view = kwargs.pop("view", "") or ""
        try:
            if not isinstance(view, str):
                raise BadInput("a terminal's view is a name such as LCG_106/x86_64-el9-gcc13-opt")
            kwargs["view_env"] = self._view_env(view)
        except CygnetError as e:
            self.log.warning("cygnet: terminal not started: %s", e)
            raise as_http_error(e) from e
        # A terminal asked for without a folder starts in the workspace, not where the server was run.
        kwargs.setdefault("cwd", getattr(self.parent, "root_dir", None))
        model = super().create(**kwargs)
        # The shell leads a session of its own (a pty's): as nice as the server, and its group too.
        pass_niceness_on(self.terminals[model["name"]].ptyproc.pid)
        return model

    def _view_env(self, view):
        manager = self.parent.kernel_spec_manager
        if not hasattr(manager, "view_environment"):
            return None  # a site-chosen spec manager: Jupyter's own terminals
        try:
            return manager.view_environment(view)["env"]
        except (NotFound, Unavailable) as e:
            if view or "no usable view" not in str(e):
                raise
            return None  # no view here at all: the server's environment, as before views

    def make_term_env(self, height=25, width=80, winheight=0, winwidth=0, **kwargs):
        env = super().make_term_env(height, width, winheight, winwidth, **kwargs)
        view_env = kwargs.get("view_env")
        if view_env is None:
            return env
        own = {k: env[k] for k in TERMINAL_VARIABLES if k in env}
        own.update({k: v for k, v in env.items() if k.startswith("PYXTERM_")})
        own[contract.TERMINAL_PATH.name] = view_env.get("PATH", "")
        return {**view_env, **own}
