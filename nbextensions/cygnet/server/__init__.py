"""The Jupyter server extension `cygnet.server` (`app.CygnetApp`): Cygnet's REST API under
/cygnet/api/, its pages, and the wiring that makes every kernel run in a software view."""


def _jupyter_server_extension_points():
    from .app import CygnetApp

    return [{"module": "cygnet.server", "app": CygnetApp}]
