"""Software views: discovery, environment resolution (cached) and local builds.

A view is a read-only software stack at <root>/<release>/<platform>/ entered by sourcing its
setup.sh, like the LCG views on CVMFS.
"""

from .build import build_view, default_platform
from .discovery import ViewsIndex, discover, find_view, pick_default_view, split_name
from .environment import EnvironmentCache, EnvScriptFailed, ViewEnvironment, clean_base_env, env_diff
from .model import View

__all__ = [
    "EnvScriptFailed",
    "EnvironmentCache",
    "View",
    "ViewEnvironment",
    "ViewsIndex",
    "build_view",
    "clean_base_env",
    "default_platform",
    "discover",
    "env_diff",
    "find_view",
    "pick_default_view",
    "split_name",
]
