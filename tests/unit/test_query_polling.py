"""How soon the wizard notices a finished query, and how many polls a long one costs.

QueryRunner.wait polls GetQueryExecution; the preview's time to first rows includes the gap
between the query finishing and the next poll. A fake clock stands in for time: the fake
Athena answers RUNNING until the query's finish time, and the runner's sleep advances the clock.
"""

from __future__ import annotations

from typing import Any

import pytest

from wizard.query import QueryRunner


class FakeAthena:
    def __init__(self, finishes_at: float) -> None:
        self.now = 0.0
        self.finishes_at = finishes_at
        self.polls = 0

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:
        self.polls += 1
        state = "SUCCEEDED" if self.now >= self.finishes_at else "RUNNING"
        return {"QueryExecution": {"QueryExecutionId": QueryExecutionId,
                                   "Status": {"State": state}}}

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


class FakeAccount:
    label = "consumer"

    def __init__(self, athena: FakeAthena) -> None:
        self.athena = athena

    def client(self, service: str) -> FakeAthena:
        assert service == "athena"
        return self.athena


def wait_for(finishes_at: float) -> FakeAthena:
    athena = FakeAthena(finishes_at)
    runner = QueryRunner(FakeAccount(athena), catalog="c", workgroup="primary",  # type: ignore[arg-type]
                         output="s3://b/", sleep=athena.sleep)
    states: list[str] = []
    ex = runner.wait("q-1", on_state=states.append)
    assert ex["Status"]["State"] == "SUCCEEDED"
    assert states[-1] == "SUCCEEDED"
    return athena


@pytest.mark.parametrize("finishes_at", [0.0, 0.01, 0.3, 0.85, 1.7, 2.3, 7.0, 42.0, 300.0])
def test_a_finished_query_is_noticed_within_a_quarter_of_its_time_or_a_second(
        finishes_at: float) -> None:
    athena = wait_for(finishes_at)
    late = athena.now - finishes_at
    assert late <= max(0.05, 0.25 * finishes_at) + 1e-9
    assert late <= 1.0 + 1e-9


def test_a_long_query_is_polled_about_once_a_second_not_more() -> None:
    athena = wait_for(60.0)
    assert athena.polls <= 80  # ~18 polls for the first 4 s, then one a second


def test_a_short_query_is_answered_by_the_first_polls() -> None:
    assert wait_for(0.0).polls == 1
    assert wait_for(0.04).polls == 2
