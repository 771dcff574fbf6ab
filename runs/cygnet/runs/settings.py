"""What batch runs need of the site's configuration, as plain values (`RunSettings`). The faces
(the server, `cygnet run`, `cygnet.runs`) make them from `c.Cygnet` and the backends' own
sections; the runs service never sees the Cygnet configurable.

The run options that lived on Cygnet before backends had their own are still read, with a
warning in the log, as the options that replace them (DEPRECATED)."""

import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from traitlets.config import Config

from cygnet.core.config import Cygnet, load_config

from .notify import Mail

LOG = logging.getLogger("cygnet.runs")

# c.Cygnet.<old> -> c.<backend class>.<new>
DEPRECATED = {
    "runs_slurm_options": ("SlurmRunBackend", "extra_directives"),
    "runs_htcondor_options": ("HTCondorRunBackend", "extra_submit_lines"),
    "runs_kubernetes_image": ("KubernetesRunBackend", "image"),
    "runs_kubernetes_namespace": ("KubernetesRunBackend", "namespace"),
}


@dataclass(frozen=True)
class RunSettings:
    """The site's choices for batch runs."""

    data_dir: str  # runs keep their records and folders in <data_dir>/runs
    views_roots: tuple[str, ...] = ()  # where the job finds views ($CYGNET_VIEWS_PATH of the job)
    default_backend: str = "local"  # for requests that name none
    default_view: str = ""
    clusters_file: str = ""  # the compute cluster catalogue (c.Cygnet.clusters); empty: the built-in ones
    backend_config: Config = field(default_factory=Config)  # the backends' sections, c.SlurmRunBackend...
    kernel_specs: Callable[[], Any] | None = None  # makes a kernel spec manager, for processes without a server's
    min_interval: float = 300.0  # seconds between two runs of one schedule, at least
    max_schedules: int = 20  # per user
    mail: Mail = field(default_factory=Mail)  # the SMTP server for notifications; no host: no email
    check_url: Callable[[str], str] | None = None  # a webhook URL if allowed, else BadInput; None: no webhooks


def from_config(cygnet: Cygnet, log: logging.Logger | logging.LoggerAdapter | None = None) -> RunSettings:
    """The settings of `cygnet`'s configuration; deprecated options are logged to `log`."""
    return RunSettings(
        data_dir=str(cygnet.data_dir),
        views_roots=tuple(str(p) for p in cygnet.effective_views_roots()),
        default_backend=cygnet.runs_backend,
        default_view=cygnet.default_view,
        clusters_file=cygnet.clusters,
        backend_config=backend_config(cygnet, log or LOG),
        kernel_specs=partial(_kernel_specs, cygnet),
        min_interval=cygnet.runs_min_interval,
        max_schedules=cygnet.runs_max_schedules,
        mail=Mail(
            host=cygnet.runs_smtp_host,
            port=cygnet.runs_smtp_port,
            sender=cygnet.runs_smtp_sender,
            user=cygnet.runs_smtp_user,
            starttls=cygnet.runs_smtp_starttls,
        ),
        check_url=_webhook_check(cygnet),
    )


def load(argv: Sequence[str] = (), log: logging.Logger | None = None) -> RunSettings:
    """The settings as the server would read them (config files, then `--Cygnet.*` flags)."""
    return from_config(load_config(argv), log)


def backend_config(cygnet: Cygnet, log: logging.Logger | logging.LoggerAdapter) -> Config:
    """The configuration the backends are made from: the site's, with each deprecated option
    that is set carried over to the option replacing it, unless that one is set too."""
    config = copy.deepcopy(cygnet.config)
    traits = cygnet.traits()
    for old, (section, new) in DEPRECATED.items():
        value = getattr(cygnet, old)
        if value == traits[old].default():
            continue
        if new in config.get(section, {}):
            log.warning("cygnet: c.Cygnet.%s is deprecated and ignored: c.%s.%s is set", old, section, new)
            continue
        log.warning("cygnet: c.Cygnet.%s is deprecated: read as c.%s.%s; set that instead", old, section, new)
        config[section][new] = copy.deepcopy(value)
    return config


def _webhook_check(cygnet: Cygnet) -> Callable[[str], str]:
    """Webhooks go where open links may (public addresses, and the site's internal hosts)."""
    from cygnet.server.opener.policy import OpenPolicy

    return OpenPolicy(internal=tuple(h.lower() for h in cygnet.open_internal_hosts)).check_download


def _kernel_specs(cygnet: Cygnet) -> Any:
    from cygnet.kernels.specs import CygnetKernelSpecManager

    return CygnetKernelSpecManager(cygnet=cygnet)
