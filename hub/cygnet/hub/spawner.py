"""Cygnet's spawner: JupyterHub's spawners with Cygnet's options form (software view, cores,
memory, Spark cluster, an environment script, something to open), each choice checked against
the site's own data, whether it comes from the form, a /hub/spawn?view=... link or the REST
API's user_options; the last choice is selected again next time (but what to open: that is
done once).

`CygnetSpawnerMixin` goes in front of any spawner class; `CygnetLocalSpawner` is the embedded
default (every session under the hub's own account: for trials and single-tenant machines).
"""

import os
import pwd

from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner
from tornado import web
from traitlets import Bool, Dict, HasTraits, Integer, List, Unicode, default

from cygnet.core import contract
from cygnet.core.config import Cygnet
from cygnet.core.errors import BadInput

from .form import render_form
from .options import OPTION_KEYS, check_options, landing_url, port_block, site_choices


def first_values(data):
    """{key: first value} of the form's (or a link's) fields Cygnet knows; others are dropped."""
    return {k: v[0] for k, v in data.items() if k in OPTION_KEYS and v}


class CygnetSpawnerMixin(HasTraits):
    core_choices = List([1, 2, 4], help="Cores a user may choose (the spawner's cpu_limit).").tag(config=True)
    memory_choices = List(
        Unicode(), ["2G", "4G", "8G"], help="Memory a user may choose (the spawner's mem_limit)."
    ).tag(config=True)
    spark_ports_per_user = Integer(
        30, help="Spark driver ports each user's sessions get, a slice of Cygnet.spark_port_range of their own."
    ).tag(config=True)

    view_choices = List(
        Unicode(),
        help="The views (<release>/<platform>) users may choose, when the hub cannot see the views root "
        "itself (a hub in Kubernetes without CVMFS). Empty: the views the hub discovers, as `cygnet views`.",
    ).tag(config=True)

    view_descriptions = Dict(
        value_trait=Unicode(),
        help="What the form says of a view, by view (<release>/<platform>) or by release, e.g. "
        "{'LCG_107': 'LCG 107: ROOT 6.34, Python 3.11'}. Without one, the form shows the view's Python.",
    ).tag(config=True)

    gpu_choices = List(
        Dict(),
        help="GPUs users may ask for, each {'name': ..., 'label'?: ..., 'slurm_gres'?: 'gpu:1', 'kubernetes'?: "
        "{'nvidia.com/gpu': 1}, 'docker_count'?: 1, 'groups'?: [...]}: the name is what the form and the REST API "
        "take; slurm_gres, kubernetes and docker_count are what it asks each spawner for (Slurm's --gres, the "
        "pod's resource limits, e.g. a MIG slice 'nvidia.com/mig-1g.10gb', Docker's device requests); 'groups' "
        "limits it to members of those groups (the hub's, or Unix groups). Empty: no GPU field in the form.",
    ).tag(config=True)

    def _choices(self):
        choices = site_choices(
            Cygnet(parent=self), self.core_choices, self.memory_choices, self.view_choices, self.view_descriptions
        )
        choices.gpus = [{**g, "free": self.gpus_free(g)} for g in self.gpu_choices if self._may_use(g)]
        return choices

    def _may_use(self, gpu):
        """Whether this user may ask for `gpu`: everyone, or a member of one of its groups."""
        if not gpu.get("name"):
            return False
        allowed = set(gpu.get("groups") or [])
        if not allowed:
            return True
        mine = {g.name for g in getattr(self.user, "groups", [])}
        try:
            import grp

            account = pwd.getpwnam(self.user.name)
            mine |= {grp.getgrgid(gid).gr_name for gid in os.getgrouplist(self.user.name, account.pw_gid)}
        except (KeyError, OSError):
            pass
        return bool(allowed & mine)

    def gpus_free(self, gpu):
        """How many of `gpu` are free now, where the spawner can tell (None: it cannot)."""
        return None

    def apply_gpu(self, gpu):
        """Ask this spawner for `gpu` (a gpu_choices entry, or None for no GPU)."""

    @default("options_form")
    def _cygnet_options_form(self):
        def form(spawner):
            choices = spawner._choices()
            return render_form(choices, {**choices.defaults(), **(spawner.user_options or {})})

        return form

    @default("options_from_form")
    def _cygnet_options_from_form(self):
        return first_values

    def options_from_query(self, query_data):
        """A /hub/spawn?view=...&cluster=... link: the same choices as the form, checked alike."""
        return first_values(query_data)

    @default("auth_state_hook")
    def _cygnet_auth_state_hook(self):
        def keep_ticket(spawner, auth_state):
            spawner.kerberos_ticket = (auth_state or {}).get("kerberos_ccache")

        return keep_ticket

    def get_env(self):
        """The session's environment, with the login's Kerberos ticket when there is one
        (.kerberos_login): the session's server installs it as the user's cache."""
        env = super().get_env()
        if os.environ.get("KRB5_CONFIG"):  # a hub given its realms this way gives them to sessions
            env.setdefault("KRB5_CONFIG", os.environ["KRB5_CONFIG"])
        ticket = getattr(self, "kerberos_ticket", None)
        if ticket:
            env[contract.KERBEROS_TICKET.name] = ticket
        return env

    @default("apply_user_options")
    def _cygnet_apply_user_options(self):
        return lambda spawner, options: spawner.apply_cygnet_options(options)

    def apply_cygnet_options(self, options):
        """Check the choice against the site and apply it: limits, the default kernel's view,
        and the choice in the session's environment (Spark's local mode follows the cores)."""
        try:
            chosen = check_options(options, self._choices())
        except BadInput as e:
            raise web.HTTPError(400, str(e)) from None
        self.user_options = {k: v for k, v in chosen.items() if k != "open"}  # selected again next time
        if not hasattr(self, "_site_default_url"):
            self._site_default_url = self.default_url
        self.default_url = landing_url(chosen["open"]) or self._site_default_url
        self.cpu_limit = float(chosen["cores"])
        self.mem_limit = chosen["memory"]
        self.apply_gpu(next((g for g in self.gpu_choices if g.get("name") == chosen["gpu"]), None))
        ports = port_block(self.user.id, Cygnet(parent=self).spark_port_range, self.spark_ports_per_user)
        self.args = [a for a in self.args if not a.startswith(("--Cygnet.default_view=", "--Cygnet.spark_port_range="))]
        self.args += [f"--Cygnet.default_view={chosen['view']}", f"--Cygnet.spark_port_range={ports}"]
        self.environment = {
            **self.environment,
            contract.VIEW_CHOSEN.name: chosen["view"],
            contract.CORES.name: str(chosen["cores"]),
            contract.MEMORY.name: chosen["memory"],
            contract.GPU.name: "" if chosen["gpu"] == "none" else chosen["gpu"],
            contract.SPARK_CLUSTER.name: "" if chosen["cluster"] == "none" else chosen["cluster"],
            contract.ENV_SCRIPT.name: chosen["env_script"],
        }


class CygnetLocalSpawner(CygnetSpawnerMixin, SimpleLocalProcessSpawner):
    """Every user's session as a local process under the hub's account, in a home of its own
    under `home_dir_template`: no isolation between users (trials, single-tenant machines)."""


class CygnetSystemUserSpawner(CygnetSpawnerMixin, LocalProcessSpawner):
    """Every user's session as their own Unix account (the hub runs as root and each user has an
    account of the same name): the workspace is their home, and the kernel's, terminal's and
    server's files are theirs alone. Homes are made private (0700) before each start, since
    Debian's useradd makes them readable by everyone."""

    private_homes = Bool(True, help="Make each user's home directory 0700 before their session starts.").tag(
        config=True
    )

    async def start(self):
        account_home(self.user.name, private=self.private_homes)
        return await super().start()


def account_home(name, private=True):
    """The home of the Unix account `name` (a clear error when there is none), made 0700 first
    when `private` (Debian's useradd makes homes readable by everyone)."""
    try:
        home = pwd.getpwnam(name).pw_dir
    except KeyError:
        raise web.HTTPError(
            500, f"{name} has no account on this machine: each user needs a Unix account of that name"
        ) from None
    if private and os.path.isdir(home) and os.stat(home).st_mode & 0o077:
        os.chmod(home, os.stat(home).st_mode & 0o700)
    return home


class CygnetContainerMixin(CygnetSpawnerMixin):
    """What Cygnet's container spawners share: the session image run as `jupyterhub-singleuser`
    (its own command is `cygnet up`), and the host's folders mounted in (`mount`, per spawner)."""

    host_mounts = Dict(
        value_trait=Unicode(),
        default_value={"/cvmfs": "ro"},
        help="Folders of the host (node) mounted into every session at the same path, 'ro' or 'rw': "
        "CVMFS for the views (read-only), a FUSE-mounted EOS (read-write), as SWAN mounts them.",
    ).tag(config=True)

    @default("cmd")
    def _singleuser(self):
        return ["jupyterhub-singleuser"]

    def apply_cygnet_options(self, options):
        super().apply_cygnet_options(options)
        self.mount_host_folders(sorted(self.host_mounts.items()))

    def mount_host_folders(self, mounts):
        raise NotImplementedError
