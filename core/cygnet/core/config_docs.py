"""The configuration reference (docs/configuration.md), made from the traits of `Cygnet` so it
cannot drift from them: `python -m cygnet.core.config_docs > docs/configuration.md` (`make docs`).
A test fails when the committed page is not what this makes."""

import json

from traitlets import HasTraits

from .config import Cygnet

HEADER = """# Configuration reference

<!-- Made by `python -m cygnet.core.config_docs` from the traits of cygnet.core.config.Cygnet:
     edit the help texts there, then run `make docs`. -->

Set these in `jupyter_server_config.py` (on Jupyter's config path, e.g. `/etc/jupyter/`) as
`c.Cygnet.<option> = ...`, or on any command line (`cygnet up`, `cygnet sync`, ...) as
`--Cygnet.<option>=<value>` (a run backend's too, for `cygnet run`: `--SlurmRunBackend.partition=short`).
The server and the `cygnet` command read the same files.

| Option | Type | Default | Meaning |
| --- | --- | --- | --- |
"""

FOOTER = """
Environment variables: `CYGNET_DATA_DIR` (the data dir), `CYGNET_VIEWS_PATH` (views roots in
front of the configured ones), `CYGNET_BOX_USER` and `CYGNET_BOX_PASSWORD` (a WebDAV box's
credentials), and Jupyter's own (`JUPYTER_TOKEN`, `JUPYTER_CONFIG_DIR`, ...).
"""


HUB_SECTIONS = [
    (
        "CygnetHub",
        "cygnet.hub.setup",
        "CygnetHub",
        "Settings of `cygnet hub` beyond JupyterHub's own, in the site's `jupyterhub_config.py` "
        "(`cygnet hub -f FILE`) as `c.CygnetHub.<option> = ...`.",
    ),
    (
        "Spawner",
        "cygnet.hub.spawner",
        "CygnetSpawnerMixin",
        "The form's choices, for every Cygnet spawner: `c.Spawner.<option>`, or one spawner's "
        "(`c.CygnetLocalSpawner.<option>`, `c.CygnetKubeSpawner.<option>`, ...).",
    ),
    (
        "CygnetLocalSpawner",
        "cygnet.hub.spawner",
        "NiceSessionsMixin",
        "Sessions on the hub's own machine: `CygnetLocalSpawner` and `CygnetSystemUserSpawner` "
        "(`c.Spawner.<option>` sets both).",
    ),
    (
        "CygnetSystemUserSpawner",
        "cygnet.hub.spawner",
        "CygnetSystemUserSpawner",
        "Each session as the user's own Unix account (beside LocalProcessSpawner's own options).",
    ),
    (
        "CygnetSlurmSpawner",
        "cygnet.hub.slurm_spawner",
        "CygnetSlurmSpawner",
        "Each session as a Slurm job of the user (beside batchspawner's SlurmSpawner options: "
        "`req_partition`, `req_account`, `req_runtime`, `req_qos`, `req_options`, `req_prologue`, ...; "
        "the form's cores and memory set `req_nprocs` and `req_memory`). Needs `batchspawner`.",
    ),
    (
        "CygnetKubeSpawner",
        "cygnet.hub.spawner",
        "CygnetContainerMixin",
        "The container spawners, `CygnetKubeSpawner` and `CygnetDockerSpawner` (beside KubeSpawner's "
        "and DockerSpawner's own options; `c.CygnetDockerSpawner.<option>` for Docker).",
    ),
    (
        "CygnetDockerSpawner",
        "cygnet.hub.docker_spawner",
        "CygnetDockerSpawner",
        "Docker's own (and podman's Docker API): each user's sessions on a network of their own. "
        "Needs `dockerspawner`.",
    ),
    (
        "KerberosPasswordAuthenticator",
        "cygnet.hub.kerberos_login",
        "KerberosPasswordAuthenticator",
        'The hub\'s Kerberos login (`c.JupyterHub.authenticator_class = "cygnet-kerberos"`), beside '
        "JupyterHub's Authenticator options; see *Kerberos* in the admin guide.",
    ),
]


# The run backends' own options (cygnet.runs.backends): `local` has none.
RUN_BACKEND_SECTIONS = [
    (
        name,
        f"cygnet.runs.backends.{module}",
        name,
        f'Batch runs on {what} (`c.Cygnet.runs_backend = "{module}"`, or `--on {module}`), as '
        f"`c.{name}.<option> = ...`; see *Batch runs* in the admin guide.",
    )
    for name, module, what in (
        ("LocalRunBackend", "local", "the session's machine"),
        ("SlurmRunBackend", "slurm", "Slurm"),
        ("HTCondorRunBackend", "htcondor", "HTCondor"),
        ("KubernetesRunBackend", "kubernetes", "Kubernetes"),
    )
]


def table(prefix: str, cls: type[HasTraits], own: bool = False) -> str:
    """The options of `cls` (only those it defines itself if `own`) as Markdown table rows."""
    rows = []
    computed = set(cls._trait_default_generators)
    traits = cls.class_own_traits(config=True) if own else cls.class_traits(config=True)
    for name, trait in sorted(traits.items()):
        default = "computed (see meaning)" if name in computed else f"`{json.dumps(trait.default())}`"
        meaning = " ".join(trait.help.split()).replace("|", "\\|").replace("<", "&lt;")
        rows.append(f"| `{prefix}.{name}` | {type(trait).__name__} | {default} | {meaning} |")
    return "\n".join(rows) + "\n"


def reference() -> str:
    import importlib

    page = HEADER + table("Cygnet", Cygnet)
    for prefix, module, name, intro in HUB_SECTIONS + RUN_BACKEND_SECTIONS:  # imported here: the core needs neither
        cls = getattr(importlib.import_module(module), name)
        page += f"\n## {prefix}\n\n{intro}\n\n| Option | Type | Default | Meaning |\n| --- | --- | --- | --- |\n"
        page += table(prefix, cls, own=True)
    return page + FOOTER


if __name__ == "__main__":
    print(reference(), end="")
