"""What JupyterLab's Dask panel (dask-labextension) gets when asked for a new cluster in the
Jupyter server: a clear refusal. Its clusters would run the server's Python, not a view's, and
outlive the kernels; Cygnet's start from a notebook (its etc/dask/cygnet-labextension.yaml)."""


class StartFromANotebook:
    def __init__(self, *args, **kwargs):
        raise RuntimeError(
            "Dask clusters start from a notebook, in its view: run `%dask connect` or use the "
            "compute panel (Spark and Dask); this panel then shows its dashboard"
        )
