"""Apache Spark in ``local[N]`` mode: what people reach for after MapReduce.

Optional: needs ``pip install 'minisys[spark]'`` and a Java runtime. The
session is created once per process (Spark allows one active context) with
the UI off and shuffle partitions sized for a small machine.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from minisys.baselines.sql import check_identifier
from minisys.errors import ServiceUnavailable


def _pyspark():
    try:
        import pyspark
    except ImportError:
        raise ServiceUnavailable("pyspark is not installed: pip install 'minisys[spark]'") from None
    return pyspark


def version() -> str:
    return _pyspark().__version__


def session(master: str = "local[2]", shuffle_partitions: int = 4):
    """The process's SparkSession, created on first use."""
    _pyspark()
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(master)
        .appName("minisys")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class SparkDB:
    """The SQL-baseline shape (ingest / query / version) over Spark SQL temp views."""

    name = "spark"

    def __init__(self, spark: Any) -> None:
        self.spark = spark

    @property
    def version(self) -> str:
        return self.spark.version

    def ingest(self, table: str, data: pa.Table, primary_key: str | None = None) -> int:
        check_identifier(table)
        # Spark >= 4 takes an Arrow table directly (no pandas round trip).
        self.spark.createDataFrame(data).createOrReplaceTempView(table)
        return data.num_rows

    def query(self, sql: str, params=()) -> list[tuple]:
        if params:
            raise ServiceUnavailable("the Spark baseline takes no query parameters; inline literals")
        return [tuple(r) for r in self.spark.sql(sql).collect()]

    def close(self) -> None:
        """Leave the session running: Spark allows one per process and it is slow to start."""


def connect(master: str = "local[2]") -> SparkDB:
    return SparkDB(session(master))
