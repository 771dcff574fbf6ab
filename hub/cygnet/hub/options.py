"""What a user may choose for a session, from the site's own data, and the one check of a
choice (from the spawn form, a link or the REST API alike): a software view, cores, memory and a
Spark cluster. Plain Python: the spawner only asks."""

from dataclasses import dataclass, field

from cygnet.core import checks
from cygnet.core.errors import BadInput

OPTION_KEYS = ("view", "cores", "memory", "cluster")


@dataclass
class SiteChoices:
    views: list = field(default_factory=list)  # usable views, "<release>/<platform>"
    cores: list = field(default_factory=lambda: [1, 2, 4])
    memory: list = field(default_factory=lambda: ["2G", "4G", "8G"])
    clusters: list = field(default_factory=lambda: ["local"])

    def defaults(self):
        return {
            "view": self.views[-1] if self.views else "",
            "cores": self.cores[0],
            "memory": self.memory[0],
            "cluster": "none",
        }


def site_choices(config, core_choices=(1, 2, 4), memory_choices=("2G", "4G", "8G")):
    """The choices of this site: its usable views (the discovery `cygnet views` uses) and the
    clusters of its Spark catalogue."""
    from cygnet.spark.catalogue import load_catalogue
    from cygnet.views import discover

    views = sorted(v.name for v in discover(config.effective_views_roots()) if v.usable)
    try:
        clusters = [c.name for c in load_catalogue(config.spark_clusters or None).clusters]
    except Exception:  # noqa: BLE001 - a broken catalogue must not stop spawning: no clusters offered
        clusters = []
    return SiteChoices(views=views, cores=list(core_choices), memory=list(memory_choices), clusters=clusters)


def check_options(options, choices):
    """The normalized choice ({view, cores, memory, cluster}) or BadInput naming the field: only
    what the site offers is accepted, whatever a hand-made request says."""
    options = checks.body(options or {}, OPTION_KEYS, what="the session options")
    chosen = {**choices.defaults()}
    if options.get("view") not in (None, ""):
        view = checks.text(options["view"], "view", max_length=512)
        if view not in choices.views:
            raise BadInput(f"view {view!r} is not one of this site's usable views")
        chosen["view"] = view
    if options.get("cores") not in (None, ""):
        cores = options["cores"]
        try:
            cores = int(cores)
        except (TypeError, ValueError):
            raise BadInput(f"cores must be one of {choices.cores}, not {cores!r}") from None
        if cores not in choices.cores:
            raise BadInput(f"cores must be one of {choices.cores}, not {cores}")
        chosen["cores"] = cores
    if options.get("memory") not in (None, ""):
        memory = checks.text(options["memory"], "memory", max_length=16)
        if memory not in choices.memory:
            raise BadInput(f"memory must be one of {', '.join(choices.memory)}, not {memory!r}")
        chosen["memory"] = memory
    if options.get("cluster") not in (None, ""):
        cluster = checks.text(options["cluster"], "cluster", max_length=256)
        if cluster != "none" and cluster not in choices.clusters:
            raise BadInput(f"cluster {cluster!r} is not in this site's Spark catalogue")
        chosen["cluster"] = cluster
    if not chosen["view"]:
        raise BadInput("this site has no usable software view to start a session on")
    return chosen


def port_block(user_id, site_range, per_user):
    """The slice of the site's Spark driver port range for one user ("LOW-HIGH"), so users on one
    host never lease the same ports at the same moment. With more users than slices, slices are
    shared again in turn (the leases' bind check still keeps a port from being used twice)."""
    from cygnet.spark.ports import parse_range

    low, high = parse_range(site_range)
    if per_user < 3:
        raise BadInput("each user needs at least 3 Spark ports (driver, block manager, UI)")
    blocks = (high - low + 1) // per_user
    if blocks < 1:
        return site_range
    start = low + ((max(1, int(user_id)) - 1) % blocks) * per_user
    return f"{start}-{start + per_user - 1}"
