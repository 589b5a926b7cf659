"""Starting Spark: Java 17+ checked first (with the command that installs it), the master from the
config or ``SPARK_MASTER`` (default ``local[*]``), and the settings every stage relies on."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from golden_record.config import SparkSettings
from golden_record.errors import GoldenRecordError

#: the oldest Java Spark 4 runs on
MIN_JAVA = 17
JAVA_HINT = ("install a JDK 17 or later (Debian: apt-get install -y openjdk-17-jre-headless), or point JAVA_HOME "
             "at one; the local engine (engine: local) needs no Java")


class EngineError(GoldenRecordError):
    """The Spark engine cannot start (no Java, no pyspark, a bad master)."""


def java_major() -> int | None:
    """The major version of the ``java`` Spark would start (JAVA_HOME first), or None without one."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").exists() else shutil.which("java")
    if not java:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major      # "1.8.0" is Java 8


def why_unavailable() -> str | None:
    """None when the Spark engine can start here, else what is missing and how to get it."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed: pip install 'golden-record[spark]' (or make install)"
    major = java_major()
    if major is None:
        return f"no Java found: {JAVA_HINT}"
    if major < MIN_JAVA:
        return f"Java {major} found, Spark needs {MIN_JAVA} or later: {JAVA_HINT}"
    return None


def master_url(settings: SparkSettings) -> str:
    return settings.master or os.environ.get("SPARK_MASTER") or "local[*]"


def start(settings: SparkSettings, app_name: str = "golden-record"):
    """The Spark session of this process (an active one is reused, with these SQL settings)."""
    missing = why_unavailable()
    if missing:
        raise EngineError(f"engine spark cannot start: {missing}")
    # the Python workers run this interpreter, so they import the same golden_record
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = (SparkSession.builder.appName(app_name).master(master_url(settings))
               .config("spark.driver.memory", settings.driver_memory)
               .config("spark.ui.showConsoleProgress", "false"))
    for key, value in settings.conf.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:      # a bad master URL, a JVM that cannot start
        raise EngineError(f"Spark did not start with master {master_url(settings)!r}: {str(exc).splitlines()[0]}",
                          "check spark.master (or SPARK_MASTER) and spark.conf") from exc
    spark.sparkContext.setLogLevel("WARN")
    for key, value in sql_settings(settings).items():
        spark.conf.set(key, value)
    return spark


def sql_settings(settings: SparkSettings) -> dict[str, str]:
    """The SQL settings the stages rely on (also logged as run tags)."""
    return {"spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
            # naive timestamps and dates stay as they are, whatever the machine's zone
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            # skewed joins (a common surname block) are split by adaptive execution
            "spark.sql.adaptive.enabled": "true", "spark.sql.adaptive.skewJoin.enabled": "true"}
