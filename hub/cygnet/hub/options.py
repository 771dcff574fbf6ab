"""What a user may choose for a session, from the site's own data, and the one check of a
choice (from the spawn form, a link or the REST API alike): a software view, cores, memory, a
GPU and a Spark cluster. Plain Python: the spawner only asks."""

from dataclasses import dataclass, field

from cygnet.core import checks
from cygnet.core.errors import BadInput

OPTION_KEYS = ("view", "cores", "memory", "gpu", "cluster", "env_script", "open")


@dataclass
class SiteChoices:
    views: list = field(default_factory=list)  # usable views, "<release>/<platform>"
    cores: list = field(default_factory=lambda: [1, 2, 4])
    memory: list = field(default_factory=lambda: ["2G", "4G", "8G"])
    clusters: list = field(default_factory=lambda: ["local"])
    view_labels: dict = field(default_factory=dict)  # view -> what the form shows for it
    gpus: list = field(default_factory=list)  # GPU choices this user may make: {name, label, free?}

    def gpu_label(self, name):
        if name == "none":
            return "No GPU"
        gpu = next((g for g in self.gpus if g["name"] == name), {})
        free = gpu.get("free")
        return (gpu.get("label") or name) + ("" if free is None else f" ({free} free)")

    def view_label(self, view):
        return self.view_labels.get(view) or view.replace("/", " / ")

    def defaults(self):
        return {
            "view": self.views[-1] if self.views else "",
            "cores": self.cores[0],
            "memory": self.memory[0],
            "gpu": "none",
            "cluster": "none",
            "env_script": "",
            "open": "",
        }


def site_choices(config, core_choices=(1, 2, 4), memory_choices=("2G", "4G", "8G"), views=(), descriptions=None):
    """The choices of this site: its usable views (the discovery `cygnet views` uses, unless the
    site lists them), each shown with the site's description of it (by view or by release) or its
    Python, and the clusters of its Spark catalogue."""
    from cygnet.compute.catalogue import load_catalogue
    from cygnet.views import discover

    descriptions = descriptions or {}
    found = {}
    if not views:
        found = {v.name: v for v in discover(config.effective_views_roots()) if v.usable}
        views = sorted(found)
    labels = {}
    for name in views:
        release = name.split("/")[0]
        about = descriptions.get(name) or descriptions.get(release)
        if not about and name in found and found[name].python_version:
            about = f"Python {found[name].python_version}"
        labels[name] = name.replace("/", " / ") + (f" \N{EM DASH} {about}" if about else "")
    try:
        clusters = load_catalogue(config.clusters or None).names("spark")
    except Exception:  # noqa: BLE001 - a broken catalogue must not stop spawning: no clusters offered
        clusters = []
    return SiteChoices(
        views=list(views), cores=list(core_choices), memory=list(memory_choices), clusters=clusters, view_labels=labels
    )


def check_options(options, choices):
    """The normalized choice ({view, cores, memory, cluster}) or BadInput naming the field: only
    what the site offers is accepted, whatever a hand-made request says."""
    options = checks.body(options or {}, OPTION_KEYS, what="the session options")
    chosen = {**choices.defaults()}
    views, memory, clusters = choices.views, choices.memory, ["none", *choices.clusters]
    picked = {
        "view": _pick(options, "view", views, lambda v: f"view {v!r} is not one of this site's usable views", 512),
        "memory": _pick(
            options, "memory", memory, lambda v: f"memory must be one of {', '.join(memory)}, not {v!r}", 16
        ),
        "cluster": _pick(
            options, "cluster", clusters, lambda v: f"cluster {v!r} is not in this site's Spark catalogue", 256
        ),
        "gpu": _pick(
            options,
            "gpu",
            ["none", *(g["name"] for g in choices.gpus)],
            lambda v: f"gpu {v!r} is not one of the GPU choices this site offers you",
            256,
        ),
    }
    chosen.update({name: value for name, value in picked.items() if value is not None})
    if options.get("cores") not in (None, ""):
        cores = options["cores"]
        try:
            cores = int(cores)
        except (TypeError, ValueError):
            raise BadInput(f"cores must be one of {choices.cores}, not {cores!r}") from None
        if cores not in choices.cores:
            raise BadInput(f"cores must be one of {choices.cores}, not {cores}")
        chosen["cores"] = cores
    chosen["env_script"] = _workspace_path(options.get("env_script"), "env_script")
    chosen["open"] = _to_open(options.get("open"))
    if not chosen["view"]:
        raise BadInput(
            "this site has no usable software view to start a session on: its administrators build one "
            "(`cygnet views build default --root FOLDER`) or list the views root in c.Cygnet.views_roots, "
            "then restart the hub"
        )
    return chosen


def _workspace_path(value, name):
    """A path inside the user's workspace, relative to it ("" when not given). The hub cannot see
    the workspace, so only the shape is checked here; the session reports a missing file."""
    if value in (None, ""):
        return ""
    path = checks.text(value, name, max_length=1024).strip()
    parts = path.split("/")
    if path.startswith(("/", "~")) or "\\" in path or any(p in ("", ".", "..") for p in parts):
        raise BadInput(f"{name} must be a path inside your workspace, like env/setup.sh, not {path!r}")
    return path


def _to_open(value):
    """What to open once the session is up: an http(s) URL of a Git repository, a notebook or a
    zip (checked again, with the site's address rules, when it is opened), or a workspace path."""
    if value in (None, ""):
        return ""
    text = checks.text(value, "open", max_length=2048).strip()
    if "://" in text:
        if not text.startswith(("https://", "http://")) or any(c.isspace() for c in text):
            raise BadInput(f"open must be an http(s) URL or a path in your workspace, not {text!r}")
        return text
    return _workspace_path(text, "open")


def landing_url(to_open):
    """Where the session opens: the opener for a URL (a notebook or zip by url=, else a Git
    repository), the file in JupyterLab for a workspace path; None for the site's default."""
    from urllib.parse import quote, urlencode, urlsplit

    if not to_open:
        return None
    if "://" in to_open:
        kind = "url" if urlsplit(to_open).path.endswith((".ipynb", ".zip")) else "repo"
        return "/cygnet/open?" + urlencode({kind: to_open})
    return "/lab/tree/" + quote(to_open)


def _pick(options, name, allowed, refusal, max_length):
    """options[name] when the site allows it (None when not given); BadInput with `refusal(value)`."""
    if options.get(name) in (None, ""):
        return None
    value = checks.text(options[name], name, max_length=max_length)
    if value not in allowed:
        raise BadInput(refusal(value))
    return value


def port_block(user_id, site_range, per_user):
    """The slice of the site's Spark driver port range for one user ("LOW-HIGH"), so users on one
    host never lease the same ports at the same moment. With more users than slices, slices are
    shared again in turn (the leases' bind check still keeps a port from being used twice)."""
    from cygnet.compute.ports import parse_range

    low, high = parse_range(site_range)
    if per_user < 3:
        raise BadInput("each user needs at least 3 Spark ports (driver, block manager, UI)")
    blocks = (high - low + 1) // per_user
    if blocks < 1:
        return site_range
    start = low + ((max(1, int(user_id)) - 1) % blocks) * per_user
    return f"{start}-{start + per_user - 1}"
