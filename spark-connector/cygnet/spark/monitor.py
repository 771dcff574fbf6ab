"""Kernel side: sparkmonitor's live job progress for classic sessions, loaded at the first
connect, with its front end's comm held until then."""

import os


def monitor_conf(conf, log):
    """sparkmonitor's listener for live job progress in classic sessions, where installed."""
    try:
        import pyspark
        from IPython import get_ipython
        from pyspark import SparkConf
    except ImportError:
        return {}
    ip = get_ipython()
    if ip is None or not importable("sparkmonitor"):
        return {}
    os.environ.setdefault("SPARK_HOME", os.path.dirname(pyspark.__file__))  # where it looks for jars
    import logging

    # sparkmonitor logs chatter (and a malformed message) at INFO into the cell: keep warnings only.
    logging.getLogger("tornado.sparkmonitor.kernel").addFilter(lambda record: record.levelno >= logging.WARNING)
    try:
        if "sparkmonitor.kernelextension" not in ip.extension_manager.loaded:
            ip.extension_manager.load_extension("sparkmonitor.kernelextension")
        from sparkmonitor import kernelextension

        _guard_monitor(kernelextension.monitor)
        while _held_monitor_comms:  # the front end's comm, opened before sparkmonitor loaded
            kernelextension.monitor.target_func(_held_monitor_comms.pop(), None)

        monitor_conf = SparkConf(loadDefaults=False)
        kernelextension.configure(monitor_conf)
    except Exception as e:  # noqa: BLE001 - progress is a nicety; the session still works
        log(f"live progress unavailable: sparkmonitor failed: {e}")
        return {}
    extra = dict(monitor_conf.getAll())
    for key, sep in (("spark.driver.extraClassPath", ":"), ("spark.extraListeners", ",")):
        if extra.get(key) and conf.get(key):
            extra[key] = conf[key] + sep + extra[key]
    return extra


_held_monitor_comms = []


def hold_monitor_comm(comm, msg):
    """sparkmonitor's front end opens its 'SparkMonitor' comm once, when the kernel starts, but
    its kernel side loads only when a classic session starts (it costs a socket thread and a
    pyspark import). Until then this target keeps the comm, and _monitor_conf hands it over."""
    _held_monitor_comms[:] = [comm]


def _guard_monitor(monitor):
    """sparkmonitor's relay thread dies on the first event when no front end has opened its
    comm yet ('ScalaMonitor' object has no attribute 'comm'), and the JVM listener then fills
    the cell with broken-pipe errors. Drop events until a front end is there instead."""
    if getattr(monitor, "_cygnet_guarded", False):
        return
    send = type(monitor).send

    def guarded(msg):
        if getattr(monitor, "comm", None) is not None:
            send(monitor, msg)

    monitor.send, monitor._cygnet_guarded = guarded, True


def importable(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None
