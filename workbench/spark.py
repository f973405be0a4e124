"""Running the portable analytics on Apache Spark (the optional ``spark`` extra).

    from workbench.spark import local_session, connect
    con = connect(local_session())                      # or connect(an existing SparkSession)
    events = workbench.open().brand("acme").events_table(con)   # the files of one table version
    workbench.analytics.funnel(events, ["view", "purchase"], "7d")

``local_session`` is for a laptop or a test (``local[N]``); on a cluster, build the
session as usual and pass it to :func:`connect`.
"""
from __future__ import annotations

import logging
import os
import sys

from .errors import InvalidInputError, WorkbenchError

__all__ = ["local_session", "connect"]

log = logging.getLogger(__name__)


def _pyspark():
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise WorkbenchError("Spark support needs the optional extra: pip install 'workbench[spark]'") from exc
    return SparkSession


def local_session(cores: int = 2, *, app: str = "workbench", shuffle_partitions: int | None = None):
    """A local SparkSession ready for the portable analytics: UTC session time zone, this
    Python for the workers, no web UI, and few shuffle partitions (Spark's default of 200
    is meant for clusters)."""
    SparkSession = _pyspark()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    spark = (SparkSession.builder.master(f"local[{int(cores)}]").appName(app)
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.shuffle.partitions", str(shuffle_partitions or 2 * int(cores)))
             .config("spark.ui.enabled", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    log.info("started Spark %s on local[%d]", spark.version, cores)
    return spark


def connect(spark):
    """An Ibis connection over ``spark``, whose tables the analytics accept directly.

    The session time zone must be UTC: Spark reads zone-less timestamps in it, and the
    workbench treats them as UTC everywhere else."""
    _pyspark()
    import ibis

    tz = spark.conf.get("spark.sql.session.timeZone")
    if tz not in ("UTC", "Etc/UTC", "Z", "+00:00"):
        raise InvalidInputError(f"the Spark session time zone is {tz!r}; set spark.sql.session.timeZone=UTC")
    return ibis.pyspark.connect(spark)
