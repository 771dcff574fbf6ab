"""Kernel side: the classic driver's log goes to a file per kernel (only errors reach the cell),
and `%spark logs` shows Cygnet's connection log, then that file's end."""

import os
import time

from cygnet.compute.ports import ports_dir

from .state import STATE

LOG4J2 = """\
# Written by Cygnet: the driver's log goes to a file the Spark panel follows; only errors reach the cell.
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
rootLogger.appenderRef.console.ref = console
appender.file.type = File
appender.file.name = file
appender.file.fileName = {path}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{yy/MM/dd HH:mm:ss}} %p %c{{1}}: %m%n
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{{yy/MM/dd HH:mm:ss}} %p %c{{1}}: %m%n
appender.console.filter.threshold.type = ThresholdFilter
appender.console.filter.threshold.level = error
logger.jetty.name = org.sparkproject.jetty
logger.jetty.level = warn
# spark.authenticate's handshakes and the UI filter put on each page (cygnet.spark.ui_auth) say
# nothing a user needs at info.
logger.security.name = org.apache.spark.SecurityManager
logger.security.level = warn
logger.uifilters.name = org.apache.spark.ui.ServerInfo
logger.uifilters.level = warn
"""


def driver_log_option():
    """(log file, JVM option) sending this kernel's driver log to a file; a user's own
    log4j2.configurationFile in spark.driver.extraJavaOptions comes later and wins."""
    folder = os.path.join(os.path.dirname(ports_dir()), "logs")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"driver-{os.getpid()}-{int(time.time())}.log")
    config = path[:-4] + ".log4j2.properties"
    with open(config, "w") as f:
        f.write(LOG4J2.format(path=path))
    return path, f"-Dlog4j2.configurationFile=file:{config}"


def log_lines(limit=200):
    """Cygnet's connection log, then the end of the driver's log file (classic sessions): at
    most `limit` lines of each."""
    lines = list(STATE.log)[-limit:]
    if STATE.driver_log and os.path.exists(STATE.driver_log):
        with open(STATE.driver_log, errors="replace") as f:
            lines += f.read().splitlines()[-limit:]
    return lines
