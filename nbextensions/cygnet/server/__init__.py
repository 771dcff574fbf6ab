"""The Jupyter server extension `cygnet.server`: Cygnet's REST API under /cygnet/api/ and the
wiring that makes every kernel run in a software view."""


def _jupyter_server_extension_points():
    return [{"module": "cygnet.server"}]


def _link_jupyter_server_extension(serverapp):
    # Linking runs before the server builds its configurables, so the kernel spec manager
    # class can still be chosen here. The trait itself is not read: its default needs parts of
    # the server that do not exist yet. A site that configured its own class keeps it.
    chosen = serverapp.config.ServerApp.get("kernel_spec_manager_class")
    if chosen is None:
        from cygnet.kernels.specs import CygnetKernelSpecManager

        serverapp.kernel_spec_manager_class = CygnetKernelSpecManager
    else:
        serverapp.log.warning(
            "cygnet: ServerApp.kernel_spec_manager_class is configured (%s); kernels run in "
            "software views only if it is Cygnet's or a subclass of it", chosen,
        )

    # With a storage endpoint, the file browser shows the user's EOS home as EOS/.
    if serverapp.config.get("Cygnet", {}).get("storage_endpoint") and \
            serverapp.config.ServerApp.get("contents_manager_class") is None:
        from .eos_contents import EOSContentsManager

        serverapp.contents_manager_class = EOSContentsManager

    # nbgitpuller is used as a library; its own /git-pull handler would bypass Cygnet's URL
    # checks and limits, so Cygnet serves /git-pull itself. (Linking goes in name order, so
    # this runs before nbgitpuller would be linked.)
    nbgitpuller = serverapp.extension_manager.extensions.get("nbgitpuller")
    if nbgitpuller is not None:
        nbgitpuller.enabled = False


MAX_HEADER_BYTES = 256 * 1024  # tornado's 64 KiB default drops a long query without an answer


def _load_jupyter_server_extension(serverapp):
    from .app import setup

    setup(serverapp)
    _answer_long_requests(serverapp)


def _answer_long_requests(serverapp):
    """Let requests with headers up to MAX_HEADER_BYTES reach the handlers, which answer a query
    that is too long with a 414 and a message, where tornado would close the connection with
    none. The server's HTTPServer is made after extensions load, so its making is wrapped."""
    make = serverapp.init_httpserver

    def init_httpserver():
        make()
        server = getattr(serverapp, "_http_server", None) or getattr(serverapp, "http_server", None)
        params = getattr(server, "conn_params", None)
        if params is not None and (params.max_header_size or 0) < MAX_HEADER_BYTES:
            params.max_header_size = MAX_HEADER_BYTES

    serverapp.init_httpserver = init_httpserver
