"""Warm kernels: a few of the user's own kernels started ahead, for the views they used last, so
opening a notebook finds one ready instead of paying a kernel start.

`PooledKernelManager` is jupyter_server's kernel manager with a `KernelPool` in front of its
starts. A pooled kernel is an ordinary kernel of this session (same account, view, environment
script and server environment), started in the workspace and never run: it holds no user state.
When a notebook opens on its view, the pool hands it over and points it at the notebook (its
folder and session name); a kernel whose environment would now differ (a changed environment
script, say) is stopped instead of handed over. The pool refills in the background, keeps
`kernel_pool_size` kernels for each of the `kernel_pool_views` views used last (remembered across
sessions, so a new session starts one for the view of the last), and stops its kernels when no
view has been used for `kernel_pool_idle` seconds (and never starts one for such a view). A restart
takes a pooled kernel too: the kernel keeps its id and gets the pooled kernel's process and ports
(`PoolableKernelManager`). Only view Pythons are pooled: pointing a kernel at a notebook's folder
is Python code.
"""

import asyncio
import json
import os
import time
import uuid
from pathlib import Path

from jupyter_client.connect import port_names
from jupyter_server._tz import utcnow
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager, ServerKernelManager
from tornado.ioloop import PeriodicCallback
from traitlets import default

from cygnet.core.atomic import atomic_write

from .provisioner import stable_environment

POOL_FILE = "kernel-pool.json"  # in the data dir: the views used last
READY = "pooled kernel ready:"  # logged when a pooled kernel can be handed over
START_TIMEOUT = 120.0  # seconds a pooled kernel may take to answer after its start
FOLLOW_EVERY = 3.0  # seconds a wait for a starting kernel asks on the same ports before it looks again
RESTART_POLL = 0.2  # seconds between looks at a kernel its restarter is bringing back
HAND_OVER_TIMEOUT = 10.0  # seconds a pooled kernel may take to change folder before a fresh start is used
SHUTDOWN_WAIT = 30.0  # seconds the server's stop waits for kernel starts under way
SHUTDOWN_LIMIT = 30.0  # seconds a kernel's shutdown may take before its process is killed outright
LAUNCH_WAIT = 0.5  # seconds the server's load waits for its first pooled kernel's launch


class PoolableKernelManager(ServerKernelManager):
    """jupyter_server's manager of one kernel, whose restart can take over a pooled kernel's
    process instead of starting one. The kernel keeps its id; its ports become the pooled
    kernel's, which jupyter_server follows after a restart (JupyterLab reconnects after every
    restart for that reason)."""

    donor = None  # a pooled kernel's manager, out of the pool, for the restart under way

    async def _async_start_kernel(self, **kw):
        donor, self.donor = self.donor, None
        if donor is None:
            return await super()._async_start_kernel(**kw)
        self._attempted_start = True
        old = self.provisioner
        self.cleanup_connection_file()  # the stopped process's ports are not used again
        if old is not None:
            await old.cleanup(restart=False)
        info = donor.get_connection_info()
        self.transport, self.ip = info["transport"], info["ip"]
        for name in port_names:
            setattr(self, name, info[name])
        self.session.key, self.session.signature_scheme = info["key"], info["signature_scheme"]
        self.connection_file, donor.connection_file = donor.connection_file, ""
        self._connection_file_written, donor._connection_file_written = True, False
        self.provisioner, donor.provisioner = donor.provisioner, None
        self.provisioner.parent, self.provisioner.kernel_id = self, self.kernel_id
        await self._async_post_start_kernel(**kw)


class PooledKernelManager(AsyncMappingKernelManager):
    """jupyter_server's kernel manager; a start for a notebook, or a restart, takes a pooled
    kernel when one is ready (or starting) for its kernel name. Pooled kernels are left out of
    the kernel list."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pool = KernelPool(self)
        self.moved = []  # callables(kernel_id), told when a restart moved a kernel to new ports

    @default("kernel_manager_class")
    def _default_kernel_manager_class(self):
        return "cygnet.kernels.pool.PoolableKernelManager"

    async def _async_start_kernel(self, *, kernel_id=None, path=None, **kwargs):
        name = kwargs.get("kernel_name") or self.default_kernel_name
        if kernel_id is None:
            cwd = self.cwd_for_path(path) if path is not None else self.root_dir
            session_name = (kwargs.get("env") or {}).get("JPY_SESSION_NAME", "")
            taken = await self.pool.take(name, cwd, session_name)
            if taken is not None:
                self.pool.used(name)
                return taken
        started = await super()._async_start_kernel(kernel_id=kernel_id, path=path, **kwargs)
        self.pool.used(name, after=started)  # the pool's start waits for this one: no race for the cores
        return started

    start_kernel = _async_start_kernel

    async def _async_restart_kernel(self, kernel_id, now=False):
        """A restart hands the kernel a pooled kernel's process when one is ready and only one
        browser holds the kernel (it reconnects after its restart; a second one would keep
        listening on the old ports). Otherwise jupyter_server restarts it in place."""
        kernel = self.get_kernel(kernel_id)
        donor = None
        if isinstance(kernel, PoolableKernelManager) and self._kernel_connections.get(kernel_id, 0) <= 1:
            launched = kernel._launch_args or {}
            session_name = (launched.get("env") or {}).get("JPY_SESSION_NAME", "")
            taken = await self.pool.take(kernel.kernel_name, launched.get("cwd") or self.root_dir, session_name)
            if taken is not None:
                donor = self._detach(taken)
                kernel.donor = donor
        try:
            return await super()._async_restart_kernel(kernel_id, now=now)
        finally:
            if donor is not None and kernel.donor is donor:  # the restart failed before it took over
                kernel.donor = None
                await donor.shutdown_kernel(now=True)
            elif donor is not None:
                self.pool.used(kernel.kernel_name, after=kernel_id)
                self.log.info("cygnet: kernel %s restarted with a pooled kernel's process", kernel_id)
                for tell in self.moved:
                    tell(kernel_id)

    restart_kernel = _async_restart_kernel

    def _detach(self, kernel_id):
        """A pooled kernel's manager out of the mapping, its process running, for a restart."""
        donor = self._forget(kernel_id)
        donor.stop_restarter()
        donor._close_control_socket()
        return donor

    async def start_pool_kernel(self, name):
        """A kernel for the pool: in the workspace, with the server's environment. Its id is the
        pool's from the start, so no listing shows it while it starts."""
        kernel_id = str(uuid.uuid4())
        self.pool.own.add(kernel_id)
        try:
            return await super()._async_start_kernel(kernel_id=kernel_id, kernel_name=name, path="")
        except BaseException:
            self.pool.own.discard(kernel_id)
            raise

    def list_kernels(self):
        return [k for k in super().list_kernels() if k["id"] not in self.pool]

    async def _async_shutdown_kernel(self, kernel_id, now=False, restart=False):
        """jupyter_server's shutdown, bounded. jupyter_client kills a kernel that does not stop in
        a few seconds, but a shutdown can still wait forever on the manager's own state (its start
        or an earlier shutdown); a DELETE would then never answer and the server's stop never end.
        After SHUTDOWN_LIMIT seconds the kernel's process group is killed and the kernel dropped."""
        try:
            return await asyncio.wait_for(
                super()._async_shutdown_kernel(kernel_id, now=now, restart=restart), SHUTDOWN_LIMIT
            )
        except TimeoutError:
            self.log.warning("cygnet: kernel %s did not stop within %.0f s; killing it", kernel_id, SHUTDOWN_LIMIT)
            await self._kill_outright(kernel_id)

    shutdown_kernel = _async_shutdown_kernel

    def _forget(self, kernel_id):
        """The kernel's manager, out of every record of this mapping; its process is left as it is."""
        if kernel_id in self._kernels:
            self.stop_watching_activity(kernel_id)
        self._pending_kernels.pop(kernel_id, None)
        self._kernel_connections.pop(kernel_id, None)
        self._kernel_ports.pop(kernel_id, None)
        return self._kernels.pop(kernel_id, None)

    async def _kill_outright(self, kernel_id):
        kernel = self._forget(kernel_id)
        self.pool.own.discard(kernel_id)
        provisioner = getattr(kernel, "provisioner", None)
        if provisioner is None:
            return
        try:
            await asyncio.wait_for(provisioner.kill(), 5)
            await asyncio.wait_for(kernel._async_cleanup_resources(), 5)
        except Exception as e:  # noqa: BLE001 - gone already; the kernel is dropped either way
            self.log.warning("cygnet: kernel %s: %s", kernel_id, e)

    async def _async_shutdown_all(self, now=False):
        """Every kernel, at the server's stop. jupyter_client's own also shuts down kernels still
        starting, which jupyter_server refuses as unknown (404): the stop then fails, and a server
        that had a kernel starting at SIGTERM never exits. Here the pool stops filling, the starts
        under way finish, and each kernel is shut down on its own."""
        self.pool.close()
        starting = list(self._pending_kernels.values())
        if starting:
            await asyncio.wait(starting, timeout=SHUTDOWN_WAIT)
        await asyncio.gather(*(self._shutdown_quietly(k, now) for k in self.list_kernel_ids()))

    shutdown_all = _async_shutdown_all

    async def _shutdown_quietly(self, kernel_id, now):
        try:
            await self._async_shutdown_kernel(kernel_id, now=now)
        except Exception as e:  # noqa: BLE001 - gone already, or failed: the server stops anyway
            self.log.warning("cygnet: kernel %s at the server's stop: %s", kernel_id, e)


class KernelPool:
    def __init__(self, manager):
        self.manager = manager
        self.ready = {}  # kernel name -> [kernel id], oldest first
        self.own = set()  # ids of the pool's kernels: starting, warming up or ready
        self.filling = {}  # kernel name -> the task filling its pool
        self.starting = set()  # kernel names whose pooled kernel's process is starting
        self.recent = []  # kernel names, last used first
        self.used_at = {}  # kernel name -> when a kernel of it last started (seconds since the epoch)
        self._loaded = False
        self._idle_check = None
        self.closed = False  # the server is stopping: no more pooled kernels
        self.launched = asyncio.Event()  # a pooled kernel's process was launched (or failed to)

    def close(self):
        self.closed = True
        if self._idle_check is not None:
            self._idle_check.stop()

    # --- settings, from Cygnet's configuration (none without Cygnet's kernel spec manager) ------
    @property
    def config(self):
        return getattr(self.manager.kernel_spec_manager, "cygnet", None)

    @property
    def size(self):
        config = self.config
        return max(0, config.kernel_pool_size) if config is not None and not self.closed else 0

    def __contains__(self, kernel_id):
        return kernel_id in self.own

    def poolable(self, name):
        """A view's own Python, run by Cygnet's provisioner."""
        try:
            spec = self.manager.kernel_spec_manager.get_kernel_spec(name)
        except Exception:  # noqa: BLE001 - not poolable; the start itself reports the problem
            return False
        provisioner = (spec.metadata or {}).get("kernel_provisioner") or {}
        return (
            spec.language.lower() == "python"
            and provisioner.get("provisioner_name") == "cygnet-view"
            and not (provisioner.get("config") or {}).get("kernel")
        )

    # --- taking ---------------------------------------------------------------------------
    async def take(self, name, cwd, session_name):
        """A pooled kernel of `name` pointed at `cwd`, or None (then the caller starts one)."""
        if not self.size:
            return None
        filling = self.filling.get(name)
        if not self.ready.get(name) and filling is not None and name in self.starting:
            await asyncio.wait([filling])  # a pooled kernel already starting is ahead of a new start
        while self.ready.get(name):
            kernel_id = self.ready[name].pop(0)
            if await self._hand_over(kernel_id, cwd, session_name):
                return kernel_id
        return None

    async def _hand_over(self, kernel_id, cwd, session_name):
        manager = self.manager
        if kernel_id not in manager:  # culled, or died
            self.own.discard(kernel_id)
            return False
        kernel = manager.get_kernel(kernel_id)
        try:
            if not await kernel.is_alive() or not await self._same_environment(kernel):
                raise LookupError("stale")
            await asyncio.wait_for(_point_at(kernel, cwd, session_name), HAND_OVER_TIMEOUT)
        except Exception as e:  # noqa: BLE001 - a kernel not worth handing over is stopped
            manager.log.info("cygnet: pooled kernel %s not used (%s); starting a new one", kernel_id, e or "timeout")
            await self._stop(kernel_id)
            return False
        kernel.last_activity = utcnow()
        # What a restart of it starts again: the notebook's folder and session, not the pool's.
        launched = kernel._launch_args if kernel._launch_args is not None else {}
        launched["cwd"] = cwd
        launched["env"] = {**(launched.get("env") or os.environ), "JPY_SESSION_NAME": session_name}
        self.own.discard(kernel_id)
        manager.log.info("cygnet: kernel %s taken from the pool", kernel_id)
        return True

    @staticmethod
    async def _same_environment(kernel):
        """Whether a kernel started now would get the environment the pooled one got."""
        provisioner = kernel.provisioner
        launched = getattr(provisioner, "launched_env", None)
        if launched is None:
            return False
        now = await asyncio.to_thread(provisioner.environment_for, os.environ)
        return stable_environment(now) == stable_environment(launched)

    # --- filling --------------------------------------------------------------------------
    def used(self, name, after=None):
        """A kernel of `name` started: it heads the recent views, and the pool fills behind it,
        once the kernel `after` (the one just started, if any) answers."""
        if not self.size or not self.poolable(name):
            return
        self._load()
        self.used_at[name] = time.time()
        self.recent = [name] + [n for n in self.recent if n != name]
        keep = max(1, self.config.kernel_pool_views)
        for dropped in self.recent[keep:]:
            self._drain(dropped)
            self.used_at.pop(dropped, None)
        self.recent = self.recent[:keep]
        self._save()
        self._fill(name, after)
        self._watch_idle()

    async def seed_launched(self):
        """`seed`, returning once the first pooled kernel's process is launched (not once it
        answers), or after LAUNCH_WAIT seconds (a cold view environment being sourced). Run by
        the server's extension while it loads: the kernel boots on the other core while the
        rest of the server loads and starts listening."""
        self.seed()
        if self.filling:
            try:
                await asyncio.wait_for(self.launched.wait(), LAUNCH_WAIT)
            except TimeoutError:
                pass

    def seed(self):
        """At server start: fill the pool for the views used last (in an earlier session too),
        those used within `kernel_pool_idle` seconds; for a user with none, the view their
        session was started on (the form's choice, the default view)."""
        if not self.size:
            return
        self._load()
        if not self.recent:
            chosen = self._session_view()
            if chosen is not None:
                self.recent, self.used_at[chosen] = [chosen], time.time()
        for name in list(self.recent):
            if self.poolable(name) and self.fresh(name):
                self._fill(name)
        if self.recent:
            self._watch_idle()

    def _session_view(self):
        """The kernel name of the view this session was started on, if Cygnet can run it."""
        from cygnet.kernels.specs import kernel_name
        from cygnet.views import pick_default_view

        ksm = self.manager.kernel_spec_manager
        try:
            view = pick_default_view(ksm.views(), self.config.default_view)
        except Exception:  # noqa: BLE001 - no views to look at: nothing to start ahead
            return None
        name = kernel_name(view) if view is not None and view.usable else None
        return name if name is not None and self.poolable(name) else None

    def fresh(self, name):
        """Whether a kernel of `name` started within `kernel_pool_idle` seconds."""
        idle = self.config.kernel_pool_idle
        return idle <= 0 or time.time() - self.used_at.get(name, 0) <= idle

    def _fill(self, name, after=None):
        if name not in self.filling:
            if after is None:  # its kernel starts now: a take from here on waits for it
                self.starting.add(name)
            self.filling[name] = asyncio.ensure_future(self._fill_up(name, after))

    async def _fill_up(self, name, after=None):
        if after is not None and after in self.manager:
            try:
                await _answering(self.manager.get_kernel(after))
            except Exception:  # noqa: BLE001 - the user's kernel's troubles are shown to the user
                pass
        try:
            # (size is 0 once the pool is closed)
            while name in self.recent and self.fresh(name) and len(self.ready.setdefault(name, [])) < self.size:
                self.starting.add(name)  # from its start until it answers: a take waits for it
                try:
                    try:
                        kernel_id = await self.manager.start_pool_kernel(name)
                    finally:
                        self.launched.set()
                    try:
                        await _answering(self.manager.get_kernel(kernel_id))
                    except Exception:
                        await self._stop(kernel_id)
                        raise
                finally:
                    self.starting.discard(name)
                if name in self.recent and not self.closed:
                    self.ready.setdefault(name, []).append(kernel_id)
                    self.manager.log.info("cygnet: %s %s for %s", READY, kernel_id, name)
                else:  # the view dropped out (or the server is stopping) while its kernel started
                    await self._stop(kernel_id)
        except Exception as e:  # noqa: BLE001 - the pool is a head start; a failing start shows when the user starts one
            self.manager.log.warning("cygnet: the kernel pool for %s is not filled: %s", name, e)
        finally:
            self.filling.pop(name, None)
            self.starting.discard(name)

    def _drain(self, name):
        for kernel_id in self.ready.pop(name, []):
            asyncio.ensure_future(self._stop(kernel_id))

    async def _stop(self, kernel_id):
        self.own.discard(kernel_id)
        try:
            await self.manager.shutdown_kernel(kernel_id, now=True)
        except Exception as e:  # noqa: BLE001 - gone already
            self.manager.log.debug("cygnet: pooled kernel %s: %s", kernel_id, e)

    # --- views not used for a while ------------------------------------------------------
    def _watch_idle(self):
        idle = self.config.kernel_pool_idle
        if idle <= 0 or self._idle_check is not None:
            return
        self._idle_check = PeriodicCallback(self._check_idle, min(60.0, idle / 4) * 1000)
        self._idle_check.start()

    def _check_idle(self):
        for name in [n for n in self.ready if not self.fresh(n)]:
            self.manager.log.info("cygnet: no kernel of %s started for a while; the pool stops its kernels", name)
            self._drain(name)

    # --- the views used last, kept in the data dir ----------------------------------------
    def _path(self):
        return Path(self.config.data_dir) / POOL_FILE

    def _load(self):
        if self._loaded:
            return
        self._loaded = True
        try:
            saved = json.loads(self._path().read_text())
            recent = [n for n in saved.get("recent", []) if isinstance(n, str)]
            used = saved.get("used", {})
            self.recent = recent[: max(1, self.config.kernel_pool_views)]
            self.used_at = {n: float(used.get(n, 0)) for n in self.recent}
        except (OSError, ValueError, TypeError, AttributeError):
            self.recent, self.used_at = [], {}

    def _save(self):
        try:
            atomic_write(self._path(), json.dumps({"recent": self.recent, "used": self.used_at}), mode=0o600)
        except OSError as e:
            self.manager.log.debug("cygnet: the kernel pool's views were not saved: %s", e)


async def _answering(kernel):
    """Wait until a started kernel answers (its imports done), so a hand-over finds it warm.

    A kernel whose port was taken at its start (another session's kernel picked the same one)
    dies, and its restarter brings it back on new ports (ViewProvisioner.choose_ports). The wait
    follows it: each round asks the kernel where it is now. One client kept on the first ports
    asked nobody, or the kernel that took them, until START_TIMEOUT, and a notebook opened
    meanwhile waited behind it (met under `bench/hub_load.py`: a POST /api/kernels of 120 s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    while True:
        client = kernel.client()
        client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
        try:
            await client.wait_for_ready(timeout=max(0.1, min(FOLLOW_EVERY, deadline - loop.time())))
            return
        except RuntimeError:  # not yet, or died (its restarter may bring it back)
            if loop.time() >= deadline:
                raise
            manager = kernel.parent
            if manager is not None and kernel.kernel_id not in manager:  # the restarter gave it up
                raise
        finally:
            client.stop_channels()
        if not await kernel.is_alive():
            await asyncio.sleep(RESTART_POLL)


async def _point_at(kernel, cwd, session_name):
    """Move a pooled kernel into the notebook's folder and give it the notebook's session name
    (as ipykernel does from $JPY_SESSION_NAME), without a trace in its history or namespace."""
    code = (
        f"__import__('os').chdir({cwd!r}); __import__('os').environ['JPY_SESSION_NAME'] = {session_name!r}; "
        f"get_ipython().user_ns['__session__'] = {session_name!r}"
    )
    client = kernel.client()
    client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
    try:
        msg_id = client.execute(code, silent=True, store_history=False)
        while True:
            reply = await client.get_shell_msg()
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        if reply["content"].get("status") != "ok":
            raise RuntimeError(reply["content"].get("evalue") or "the kernel refused to change folder")
    finally:
        client.stop_channels()
