"""Cygnet's spawner: JupyterHub's spawners with Cygnet's options form (software view, cores,
memory, Spark cluster, an environment script, something to open), each choice checked against
the site's own data, whether it comes from the form, a /hub/spawn?view=... link or the REST
API's user_options; the last choice is selected again next time (but what to open: that is
done once).

`CygnetSpawnerMixin` goes in front of any spawner class; `CygnetLocalSpawner` is the embedded
default (every session under the hub's own account: for trials and single-tenant machines).
"""

import asyncio
import os
import pwd
import time

from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner
from tornado import web
from traitlets import Bool, Dict, Float, HasTraits, Integer, List, Unicode, default

from cygnet.core import contract
from cygnet.core.config import Cygnet
from cygnet.core.errors import BadInput
from cygnet.core.loopback import free_port
from cygnet.core.proc import run_nicer_soon

from .form import render_form
from .options import OPTION_KEYS, check_options, landing_url, port_block, site_choices

_LEDGERS = {}  # usage ledger path -> (its inode, the hub process's connection to it)


def _inode(path):
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def gpu_count(choice):
    """How many GPUs a gpu_choices entry is, for the usage ledger: its 'count', else what it asks
    Slurm, Kubernetes or Docker for (a MIG slice counts as one); 0 for none."""
    if not choice:
        return 0.0
    if "count" in choice:
        return float(choice["count"])
    gres = str(choice.get("slurm_gres", "")).rsplit(":", 1)
    if len(gres) == 2 and gres[1].isdigit():
        return float(gres[1])
    kubernetes = choice.get("kubernetes") or {}
    if kubernetes:
        return float(sum(int(v) for v in kubernetes.values()))
    return float(choice.get("docker_count", 1))


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

    usage_ledger = Unicode(
        help="The usage ledger's SQLite file (cygnet.hub.usage): each session's cores, GPUs and running time, "
        "per user and group. `cygnet hub` sets <hub dir>/usage.sqlite; empty: nothing is recorded.",
    ).tag(config=True)
    usage_quotas = Dict(
        value_trait=Float(),
        help="Soft quotas: core-hours per calendar month by group name, e.g. {'physics': 5000}. From "
        "usage_warn_at of a quota on, the form and JupyterLab tell the group's members; nobody is refused.",
    ).tag(config=True)
    usage_warn_at = Float(0.8, help="The share of a soft quota from which its group's members are warned.").tag(
        config=True
    )

    def _groups(self):
        """The user's groups: the hub's, and their Unix account's (where they have one)."""
        from .usage import unix_groups

        return {g.name for g in getattr(self.user, "groups", None) or []} | unix_groups(self.user.name)

    def _may_use(self, gpu):
        """Whether this user may ask for `gpu`: everyone, or a member of one of its groups."""
        if not gpu.get("name"):
            return False
        allowed = set(gpu.get("groups") or [])
        return not allowed or bool(allowed & self._groups())

    # --- the usage ledger -----------------------------------------------------------------
    def _ledger(self):
        """The hub's one connection to the ledger, kept open: a connection per spawn cost its
        schema check and, at its close, a checkpoint with an fsync, on the hub's event loop
        (while ten sessions start, every hub request waited behind it). A ledger file replaced
        or removed since is opened again."""
        if not self.usage_ledger:
            return None
        from .usage import UsageLedger

        path = self.usage_ledger
        kept = _LEDGERS.get(path)
        if kept is None or kept[0] != _inode(path):
            if kept is not None:
                kept[1].close()
            ledger = UsageLedger(path)
            kept = _LEDGERS[path] = (_inode(path), ledger)
        return kept[1]

    def usage_notes(self):
        """The soft-quota warnings for this user's groups (empty without quotas or a ledger)."""
        if not self.usage_quotas or not self.usage_ledger:
            return []
        from .usage import quota_notes

        return quota_notes(self._ledger(), self._groups(), self.usage_quotas, self.usage_warn_at)

    async def until_listening(self, started, every=0.05):
        """Return once the new server answers as this session (200 from its own `api` path), or
        `http_timeout` passed. JupyterHub looks for it with backoff up to 5 s between tries after
        start() returns, which here cost up to 3 s of a 2 s server start; from here its first try
        finds it. Until the port accepts connections only a plain connect is tried (next to
        nothing for the hub's loop, ten spawns at once included). A server that exits first is a
        failed start: another session's server on its port must not pass for it (JupyterHub's own
        check takes any answer)."""
        from urllib.parse import urlsplit

        from tornado.httpclient import AsyncHTTPClient

        if isinstance(started, tuple):
            scheme, host, port = "http", started[0], int(started[1])
        else:
            parts = urlsplit(str(started))
            scheme, host = parts.scheme or "http", parts.hostname
            port = parts.port or (443 if scheme == "https" else 80)
        url = f"{scheme}://{host}:{port}{self.server.base_url if self.server else '/'}api"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.http_timeout
        tries = 0
        while loop.time() < deadline:
            tries += 1
            accepting = await _accepts(host, port)
            if accepting:
                if scheme == "https":
                    return  # the hub's own check, with its certificates, says whose it is
                try:
                    answer = await AsyncHTTPClient().fetch(url, raise_error=False, request_timeout=10)
                    if answer.code == 200:
                        return
                except Exception:  # noqa: BLE001 - reset while it starts: tried again
                    pass
            if (tries % 20 == 0 or accepting) and await self.poll() is not None:
                if accepting:  # not the session's: it exited, and something else answers there
                    raise PortTaken(
                        500,
                        f"the session's server exited before it answered on port {port}: another program listens there",
                    )
                raise web.HTTPError(
                    500, f"the session's server exited before it answered on port {port}; start it again"
                )
            await asyncio.sleep(every)

    async def _start_listening(self):
        """The spawner's start, and the wait for its server (until_listening). Where the spawner
        picks the session's port itself (DistinctPortsMixin), a server that found its port taken
        by another program is started again on another, up to PORT_RETRIES times: any program
        on the machine may pick a port below the ephemeral range between the pick and the
        server's bind (another hub, a user's own server)."""
        retries = PORT_RETRIES if isinstance(self, DistinctPortsMixin) else 0
        token = self.api_token  # the hub's token for this start: poll() clears it when the server exits
        while True:
            self.api_token = token
            started = await super().start()
            try:
                await self.until_listening(started)
                return started
            except PortTaken:
                if not retries:
                    raise
                retries -= 1
                self.log.warning(
                    "cygnet: %s's session found port %s taken; starting it on another", self.user.name, self.port
                )
                self.port = 0  # DistinctPortsMixin picks another

    async def start(self):
        notes = self.usage_notes()
        self.environment = {**self.environment, contract.USAGE_NOTE.name: " ".join(notes)}
        started = await self._start_listening()
        try:
            ledger = self._ledger()
            if ledger is not None:
                gpu = (self.user_options or {}).get("gpu", "none")
                chosen = next((g for g in self.gpu_choices if g.get("name") == gpu), {})
                self._usage_id = ledger.opened(
                    self.user.name,
                    self._groups(),
                    self.cpu_limit or 1,
                    gpu_count(chosen),
                    server=self.name or "",
                )
        except Exception as e:  # noqa: BLE001 - the session runs whatever the ledger says
            self.log.warning("cygnet: the usage ledger did not record %s's session: %s", self.user.name, e)
        return started

    def get_state(self):
        state = super().get_state()
        if getattr(self, "_usage_id", None) is not None:
            state["cygnet_usage_id"] = self._usage_id
        return state

    def load_state(self, state):
        super().load_state(state)
        if state.get("cygnet_usage_id") is not None:  # a hub restarted while the session ran
            self._usage_id = state["cygnet_usage_id"]

    def clear_state(self):
        """The session is over (JupyterHub clears a spawner's state after every stop, however the
        server ended, and before a new start): its ledger row ends now."""
        super().clear_state()
        usage_id, self._usage_id = getattr(self, "_usage_id", None), None
        if usage_id is not None and self.usage_ledger:
            try:
                self._ledger().ended(usage_id)
            except Exception as e:  # noqa: BLE001 - a stop must not fail on the ledger
                self.log.warning("cygnet: the usage ledger did not close %s's session: %s", self.user.name, e)

    def gpus_free(self, gpu):
        """How many of `gpu` are free now, where the spawner can tell (None: it cannot)."""
        return None

    def apply_gpu(self, gpu):
        """Ask this spawner for `gpu` (a gpu_choices entry, or None for no GPU)."""

    @default("options_form")
    def _cygnet_options_form(self):
        def form(spawner):
            choices = spawner._choices()
            notes = spawner.usage_notes()
            return render_form(choices, {**choices.defaults(), **(spawner.user_options or {})}, notes)

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


class NiceSessionsMixin(HasTraits):
    """Sessions on the hub's own machine run a little nicer than the hub: when a wave of users
    logs in at once, their servers' starts take the cores and the hub, its proxy and services
    still answer at once (the login page, the REST API, share pages).

    They are started with Popen's own arguments (working folder, account, groups), never a Python
    `preexec_fn`: with one, Popen forks the whole hub and runs Python in the child until its exec
    while the hub's loop waits, 18 ms a spawn at the hub's size (measured; more while a wave of
    sessions holds the cores), every other request of the hub behind it. Without one, Popen uses
    vfork or does it all in C, and the niceness is set on the new process right after, on its
    scheduling group too (`cygnet.core.proc.run_nicer_soon`: a session is a group of its own)."""

    session_nice = Integer(
        10,
        help="The niceness sessions on the hub's machine run at (0-19; 0: as the hub). The hub, its proxy "
        "and services stay at their own, so they answer while many sessions start or compute.",
    ).tag(config=True)

    def make_preexec_fn(self, name):
        return None  # see the class's note: launch_kwargs() does its work

    def launch_kwargs(self):
        """Popen's arguments that start the session in its home, as its account."""
        return {}

    async def start(self):
        configured = self.popen_kwargs
        self.popen_kwargs = {**self.launch_kwargs(), **configured}  # a site's own popen_kwargs win
        try:
            started = await super().start()
        finally:
            self.popen_kwargs = configured
        nice = max(0, min(19, self.session_nice))
        if nice and self.pid:
            try:  # relative to the hub's own, as os.nice in the child was
                await run_nicer_soon(self.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice))
            except OSError as e:  # gone already: its poll says so
                self.log.warning("cygnet: could not set the niceness of %s's session: %s", self.user.name, e)
        return started


class PortTaken(web.HTTPError):
    """The session's server exited, and another program listens on its port."""


PORT_RETRIES = 2  # starts on another port after the session's was taken


async def _accepts(host, port):
    """Whether `host:port` accepts a connection (closed again at once)."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    except (TimeoutError, OSError):
        return False
    writer.close()
    return True


_PORTS_HANDED_OUT: dict = {}  # port -> when a session of this hub was given it
PORT_HELD = 120.0  # seconds a port given to a starting session is not given to another


def distinct_port():
    """A free port for a session's server, which no session of this hub was given in the last
    PORT_HELD seconds, from the servers' part below the ephemeral range
    (`cygnet.core.loopback.free_port`). JupyterHub's own pick (a port from `bind(0)`, let go at
    once) can hand ten sessions started at once the same port, and draws from the range every
    outgoing connection takes its port from: under `bench/hub_load.py` one session's server
    found its port taken by then and exited."""
    now = time.monotonic()
    for port, when in list(_PORTS_HANDED_OUT.items()):
        if now - when > PORT_HELD:
            del _PORTS_HANDED_OUT[port]
    port = free_port(avoid=_PORTS_HANDED_OUT)
    _PORTS_HANDED_OUT[port] = now
    return port


class DistinctPortsMixin(HasTraits):
    """Local sessions started at once get distinct ports (see distinct_port)."""

    async def start(self):
        if self.port == 0:
            self.port = distinct_port()
        return await super().start()


class CygnetLocalSpawner(CygnetSpawnerMixin, NiceSessionsMixin, DistinctPortsMixin, SimpleLocalProcessSpawner):
    """Every user's session as a local process under the hub's account, in a home of its own
    under `home_dir_template`: no isolation between users (trials, single-tenant machines)."""

    def launch_kwargs(self):
        os.makedirs(self.home_dir, 0o700, exist_ok=True)
        return {"cwd": self.home_dir}


class CygnetSystemUserSpawner(CygnetSpawnerMixin, NiceSessionsMixin, DistinctPortsMixin, LocalProcessSpawner):
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

    def launch_kwargs(self):
        """What JupyterHub's set_user_setuid does in a Python preexec_fn: the account's uid, gid and
        groups, in its home (entered before the uid changes, as root)."""
        account = pwd.getpwnam(self.user.name)
        return {
            "user": account.pw_uid,
            "group": account.pw_gid,
            "extra_groups": os.getgrouplist(self.user.name, account.pw_gid),
            "cwd": account.pw_dir if os.path.isdir(account.pw_dir) else "/",
        }


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
