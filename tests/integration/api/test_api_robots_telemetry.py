"""A robot's telemetry through the API: one metric over a range at raw, one-minute and hourly
resolution, each bounded in span and rows; and the export of a range as CSV or Parquet.

The expected values are computed here from the seeded samples (plain Python, or polars for the
Parquet file), not by the SQL under test."""

from __future__ import annotations

import io
import statistics
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone

import polars as pl
import pytest
from sqlalchemy import insert, select, text

from cloud_api.access.roles import Role
from cloud_api.robots.telemetry import MAX_POINTS
from database.models import AuditEvent, Metric, Robot, telemetry, telemetry_hourly
from tests.integration.api.robot_factories import add_robot
from tests.support.api import ApiHarness, principal

START = datetime(2026, 11, 30, 10, 0, 20, tzinfo=UTC)  # 20 s past the minute
OWNER = principal(Role.POLICYHOLDER, "alpha")
Seeded = tuple[Robot, Metric, list[tuple[datetime, float]]]


def _metric(api: ApiHarness, name: str, unit: str) -> Metric:
    key = f"{name}_{uuid.uuid4().hex[:8]}.0"
    metric = Metric(key=key, name=key[:-2], channel=0, unit=unit)
    api.session.add(metric)
    api.session.flush()
    return metric


def _samples(count: int, step: timedelta) -> list[tuple[datetime, float]]:
    return [(START + i * step, round(20.0 + (i * 7 % 11) * 0.5, 3)) for i in range(count)]


def _seed(
    api: ApiHarness, robot: Robot, metric: Metric, samples: list[tuple[datetime, float]]
) -> None:
    api.session.execute(
        insert(telemetry),
        [
            {"time": t, "robot_id": robot.id, "metric_id": metric.id, "value": v, "seq": i}
            for i, (t, v) in enumerate(samples)
        ],
    )


def _hours(api: ApiHarness, robot: Robot, metric: Metric, count: int) -> datetime:
    first = datetime(2026, 11, 1, tzinfo=UTC)
    api.session.execute(
        insert(telemetry_hourly),
        [
            {
                "robot_id": robot.id,
                "metric_id": metric.id,
                "bucket": first + timedelta(hours=h),
                "samples": 10 + h,
                "total": (10 + h) * (30.0 + h),
                "total_sq": (10 + h) * (30.0 + h) ** 2,
                "minimum": 29.0 + h,
                "maximum": 31.0 + h,
                "last_time": first + timedelta(hours=h, minutes=59),
                "last_value": 30.0 + h,
            }
            for h in range(count)
        ],
    )
    return first


@pytest.fixture
def seeded(api: ApiHarness) -> Seeded:
    robot = add_robot(api.session, api.tenant("alpha"))
    temperature = _metric(api, "api_motor_temp_c", "degC")
    samples = _samples(90, timedelta(seconds=10))  # 15 minutes, 6 a minute
    _seed(api, robot, temperature, samples)
    return robot, temperature, samples


def _url(robot: Robot, tail: str = "") -> str:
    return f"/v1/robots/{robot.id}/telemetry{tail}"


def test_raw_samples_of_one_metric_in_a_half_open_range(api: ApiHarness, seeded: Seeded) -> None:
    robot, metric, samples = seeded
    since, until = samples[10][0], samples[20][0]
    body = (
        api.client(OWNER)
        .get(
            _url(robot),
            params={
                "metric": metric.key,
                "resolution": "raw",
                "since": since.isoformat(),
                "until": until.isoformat(),
            },
        )
        .json()
    )
    assert (body["resolution"], body["unit"]) == ("raw", "degC")
    points = [(datetime.fromisoformat(p["time"]), p["mean"], p["samples"]) for p in body["points"]]
    assert points == [(t, v, 1) for t, v in samples[10:20]]  # until is exclusive
    assert all(p["minimum"] == p["maximum"] == p["mean"] for p in body["points"])


def test_one_minute_buckets_agree_with_the_samples(api: ApiHarness, seeded: Seeded) -> None:
    robot, metric, samples = seeded
    expected: dict[datetime, list[float]] = defaultdict(list)
    for t, v in samples:
        expected[t.replace(second=0)].append(v)
    body = (
        api.client(principal(Role.UNDERWRITER))
        .get(
            _url(robot),
            params={
                "metric": metric.key,
                "resolution": "1m",
                "since": START.isoformat(),  # mid-minute: floored to 10:00
                "until": (START + timedelta(hours=1)).isoformat(),
            },
        )
        .json()
    )
    assert body["since"].startswith("2026-11-30T10:00:00")
    got = {datetime.fromisoformat(p["time"]): p for p in body["points"]}
    assert sorted(got) == sorted(expected)
    for minute, values in expected.items():
        point = got[minute]
        assert point["samples"] == len(values)
        assert point["mean"] == pytest.approx(statistics.fmean(values))
        assert (point["minimum"], point["maximum"]) == (min(values), max(values))


def test_hourly_points_come_from_the_rollups(api: ApiHarness) -> None:
    robot = add_robot(api.session, api.tenant("alpha"))
    metric = _metric(api, "api_battery_v", "V")
    first = _hours(api, robot, metric, 48)
    body = (
        api.client(principal(Role.SERVICE, "alpha", "robots:read"))
        .get(
            _url(robot),
            params={
                "metric": metric.key,
                "since": (first + timedelta(hours=5, minutes=30)).isoformat(),
                "until": (first + timedelta(hours=9)).isoformat(),
            },
        )
        .json()
    )
    assert body["resolution"] == "1h"  # the default
    assert [(p["samples"], p["mean"], p["minimum"]) for p in body["points"]] == [
        (10 + h, 30.0 + h, 29.0 + h) for h in range(5, 9)
    ]
    unknown = api.client(OWNER).get(_url(robot), params={"metric": "no_such_metric.0"}).json()
    assert (unknown["points"], unknown["unit"]) == ([], None)


@pytest.mark.parametrize(
    ("resolution", "span", "limit"),
    [
        ("raw", timedelta(hours=6, seconds=1), "6 hours"),
        ("1m", timedelta(days=2, seconds=1), "2 days"),
        ("1h", timedelta(days=31, seconds=1), "31 days"),
    ],
)
def test_each_resolution_bounds_its_span(
    api: ApiHarness, resolution: str, span: timedelta, limit: str
) -> None:
    robot = add_robot(api.session, api.tenant("alpha"))
    client = api.client(principal(Role.ADMIN))
    until = datetime(2026, 11, 30, tzinfo=UTC)
    params = {"metric": "x", "resolution": resolution, "until": until.isoformat()}
    for tail in ("", "/export"):
        wide = client.get(_url(robot, tail), params={**params, "since": (until - span).isoformat()})
        assert wide.status_code == 400, wide.text
        assert wide.headers["content-type"] == "application/problem+json"
        assert f"at most {limit} at a time" in wide.json()["detail"]
        within = (until - span + timedelta(seconds=2)).isoformat()
        assert client.get(_url(robot, tail), params={**params, "since": within}).status_code == 200
    naive = client.get(_url(robot), params={**params, "since": "2026-11-29T00:00:00"})
    assert naive.status_code == 400
    assert client.get(_url(robot), params={**params, "resolution": "5m"}).status_code == 422


def test_more_raw_points_than_the_cap_is_a_400_naming_it(api: ApiHarness) -> None:
    robot = add_robot(api.session, api.tenant("alpha"))
    metric = _metric(api, "api_joint_pos_rad", "rad")
    api.session.execute(
        text(
            "INSERT INTO telemetry (time, robot_id, metric_id, value, seq)"
            " SELECT :start + n * interval '1 millisecond', :robot, :metric, n, 1"
            " FROM generate_series(0, :last) AS n"
        ),
        {"start": START, "robot": robot.id, "metric": metric.id, "last": MAX_POINTS},
    )
    params = {
        "metric": metric.key,
        "resolution": "raw",
        "since": START.isoformat(),
        "until": (START + timedelta(minutes=1)).isoformat(),
    }
    client = api.client(OWNER)
    refused = client.get(_url(robot), params=params)
    assert refused.status_code == 400
    assert f"more than {MAX_POINTS} points" in refused.json()["detail"]
    assert "coarser resolution" in refused.json()["detail"]
    coarser = client.get(_url(robot), params={**params, "resolution": "1m"}).json()
    assert [p["samples"] for p in coarser["points"]] == [MAX_POINTS + 1]


def test_another_tenants_robot_is_not_found(api: ApiHarness, seeded: Seeded) -> None:
    robot, metric, _ = seeded
    api.tenant("beta")
    outsider = api.client(principal(Role.POLICYHOLDER, "beta"))
    for tail in ("", "/export"):
        response = outsider.get(_url(robot, tail), params={"metric": metric.key})
        assert response.status_code == 404
        assert metric.key not in response.text


def _frame(samples: list[tuple[datetime, float]], metric: Metric) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "time": [t for t, _ in samples],
            "metric": [metric.key] * len(samples),
            "value": [v for _, v in samples],
        },
        schema={"time": pl.Datetime("us", "UTC"), "metric": pl.String, "value": pl.Float64},
    )


def test_the_owner_exports_every_metric_as_csv(api: ApiHarness, seeded: Seeded) -> None:
    robot, temperature, samples = seeded
    current = _metric(api, "api_motor_current_a", "A")
    currents = _samples(30, timedelta(seconds=20))
    _seed(api, robot, current, currents)
    params = {
        "format": "csv",
        "resolution": "raw",
        "since": START.isoformat(),
        "until": (START + timedelta(hours=1)).isoformat(),
    }
    response = api.client(OWNER).get(_url(robot, "/export"), params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="robot-{robot.id}-raw-')
    assert disposition.endswith('.csv"')
    assert response.text.splitlines()[0] == "time,metric,unit,samples,mean,minimum,maximum"
    got = pl.read_csv(io.StringIO(response.text), try_parse_dates=True)
    assert got.height == len(samples) + len(currents)
    expected = pl.concat([_frame(samples, temperature), _frame(currents, current)]).sort(
        "time", "metric"
    )
    assert got["metric"].to_list() == expected["metric"].to_list()
    assert got["mean"].to_list() == expected["value"].to_list()
    assert got["time"].dt.epoch("us").to_list() == expected["time"].dt.epoch("us").to_list()
    assert set(got["samples"].to_list()) == {1}
    event = api.session.scalars(
        select(AuditEvent).where(
            AuditEvent.target_id == str(robot.id), AuditEvent.action == "robots:export_telemetry"
        )
    ).one()
    assert (event.actor_id, event.tenant_id) == (OWNER.id, robot.tenant_id)
    assert event.detail["rows"] == got.height
    assert (event.detail["format"], event.detail["metric"]) == ("csv", None)


def test_an_adjuster_exports_one_metric_as_parquet(api: ApiHarness, seeded: Seeded) -> None:
    robot, metric, samples = seeded
    params = {
        "format": "parquet",
        "metric": metric.key,
        "resolution": "1m",
        "since": START.astimezone(timezone(timedelta(hours=2))).isoformat(),  # 12:00:20+02:00
        "until": (START + timedelta(hours=1)).isoformat(),
    }
    response = api.client(principal(Role.CLAIMS_ADJUSTER)).get(
        _url(robot, "/export"), params=params
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    disposition = response.headers["content-disposition"]
    assert disposition.endswith('-1m-20261130T100000Z-20261130T110020Z.parquet"')  # in UTC
    got = pl.read_parquet(io.BytesIO(response.content))
    assert got.schema["time"] == pl.Datetime("us", "UTC")
    expected = (
        _frame(samples, metric)
        .group_by(pl.col("time").dt.truncate("1m"))
        .agg(pl.len().alias("samples"), pl.col("value").mean().alias("mean"))
        .sort("time")
    )
    assert got["time"].to_list() == expected["time"].to_list()
    assert got["samples"].to_list() == expected["samples"].to_list()
    assert got["mean"].to_list() == pytest.approx(expected["mean"].to_list())
    assert set(got["unit"].to_list()) == {"degC"}


def test_export_is_refused_to_roles_the_table_does_not_grant(
    api: ApiHarness, seeded: Seeded
) -> None:
    robot, _, _ = seeded
    for role in (Role.BILLING_AGENT, Role.AUDITOR):
        assert api.client(principal(role)).get(_url(robot, "/export")).status_code == 403
    unscoped = principal(Role.SERVICE, "alpha", "robots:read")
    assert api.client(unscoped).get(_url(robot, "/export")).status_code == 403
    scoped = principal(Role.SERVICE, "alpha", "robots:export_telemetry")
    assert api.client(scoped).get(_url(robot, "/export")).status_code == 200
