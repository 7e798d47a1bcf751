"""Spark reads an export and computes the same poll results as the database.

Run with `make spark-check` (installs pyspark). Skipped, with the reason, where
pyspark or a Java runtime is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.test_evidence import db_poll_results, export_by_command, same, synced_db
from toolkit.sample.generate import SampleInfo

pytestmark = pytest.mark.spark

pytest.importorskip("pyspark", reason="pyspark is not installed; `make spark-check` installs it")


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


if _java() is None:
    pytest.skip(
        "no Java runtime (java on PATH or JAVA_HOME): Spark needs one", allow_module_level=True
    )

# The view's logic in Spark SQL, over the exported nested tables: Spark has no
# count(DISTINCT) over a window, so respondents are a collected set's size.
POLL_RESULTS_SQL = """
WITH reviews AS (
    SELECT session_id, poll_answer_id, approval,
        from_json(questions, 'MAP<STRING, STRUCT<approval: STRING>>') AS question_reviews
    FROM poll_answer_reviews WHERE is_deleted IS NOT TRUE
),
counted AS (
    SELECT c.session_id, c.poll_id, c.question_id, c.option_id, c.poll_answer_id,
        coalesce(c.respondent_user_id, c.poll_answer_id) AS respondent
    FROM poll_answer_options AS c
    JOIN polls AS p ON p.session_id = c.session_id AND p.poll_id = c.poll_id
        AND p.active_poll_result_id = c.poll_result_id
    LEFT JOIN reviews AS r ON r.session_id = c.session_id AND r.poll_answer_id = c.poll_answer_id
    WHERE c.is_deleted IS NOT TRUE
        AND r.approval IS DISTINCT FROM 'rejected'
        AND try_element_at(r.question_reviews, c.question_id).approval
            IS DISTINCT FROM 'rejected'
),
option_rows AS (
    SELECT session_id, poll_id, question_id, option_id, title, is_correct,
        CAST(NULL AS STRING) AS poll_answer_id, CAST(NULL AS STRING) AS respondent
    FROM poll_options
    UNION ALL
    SELECT session_id, poll_id, question_id, option_id, CAST(NULL AS STRING),
        CAST(NULL AS BOOLEAN), poll_answer_id, respondent
    FROM counted
),
with_respondents AS (
    SELECT *, size(collect_set(respondent) OVER (
        PARTITION BY session_id, poll_id, question_id)) AS respondents
    FROM option_rows
)
SELECT session_id, poll_id, question_id, option_id, max(title) AS option_title,
    max(is_correct) AS is_correct, CAST(count(DISTINCT poll_answer_id) AS BIGINT) AS votes,
    CAST(max(respondents) AS BIGINT) AS respondents
FROM with_respondents
GROUP BY session_id, poll_id, question_id, option_id
"""


@pytest.fixture(scope="module")
def db(sample_dataset: SampleInfo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample dataset (3 sessions, 3000 events), synced once for the module."""
    return synced_db(sample_dataset, tmp_path_factory.mktemp("spark") / "compliance.duckdb")


@pytest.fixture(scope="module")
def exported(db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The database exported by the command."""
    return export_by_command(db, tmp_path_factory.mktemp("spark-export") / "evidence")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("slido-evidence-check")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def frame(rows: list[Any], columns: list[str]) -> pl.DataFrame:
    return pl.DataFrame([r.asDict() for r in rows], schema=None).select(columns)


def test_spark_reads_the_hive_partitioned_events_with_the_same_counts(spark, exported, db):
    import toolkit

    events = spark.read.parquet(str(exported / "events"))
    assert {"session_org_id", "session_id", "event_id", "data"} <= set(events.columns)
    by_spark = {r["session_id"]: r["count"] for r in events.groupBy("session_id").count().collect()}
    con = toolkit.connect(db, read_only=True)
    try:
        expected = dict(
            con.execute("SELECT session_id, count(*) FROM events GROUP BY 1").fetchall()
        )
    finally:
        con.close()
    assert by_spark == expected


def test_spark_computes_the_same_poll_results_from_the_exported_tables(spark, exported, db):
    for name in (
        "polls",
        "poll_options",
        "poll_answer_options",
        "poll_answer_reviews",
        "poll_results",
    ):
        spark.read.parquet(str(exported / "tables" / f"{name}.parquet")).createOrReplaceTempView(
            name
        )
    expected = db_poll_results(db)
    columns = expected.columns
    computed = frame(spark.sql(POLL_RESULTS_SQL).collect(), columns)
    assert computed.height == expected.height > 0
    assert same(expected, computed.cast(dict(expected.schema)))
    read = frame(spark.sql("SELECT * FROM poll_results").collect(), columns)
    assert same(expected, read.cast(dict(expected.schema)))
