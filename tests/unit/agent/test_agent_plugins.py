"""Third-party collectors are found through the `robocover.collectors` entry-point group: a
distribution installed on the path (dist-info with entry_points.txt, as pip leaves it) is
discovered by name, built from its options, and its failures are reported as CollectorError."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from edge_agent.collectors import Collector, CollectorError, load_collector
from edge_agent.windows import WindowAggregator

PLUGIN = """
from edge_agent.collectors import Collector, Reading
from firmware_protocol import MetricDeclaration, MetricKey

class GripperCollector(Collector):
    def __init__(self, fingers):
        self._declarations = tuple(
            MetricDeclaration(MetricKey("x_acme_grip_force_n", f), -1, "N", "grip force")
            for f in range(1, fingers + 1)
        )

    @classmethod
    def from_options(cls, options):
        if options.get("fingers", 2) < 1:
            raise ValueError("a gripper has at least one finger")
        return cls(options.get("fingers", 2))

    @property
    def declarations(self):
        return self._declarations

    def read(self, mono_us):
        return Reading([10.0 * (i + 1) for i in range(len(self._declarations))])

def not_a_collector(options):
    return object()
"""


@pytest.fixture
def acme_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "acme_robocover"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "gripper.py").write_text(PLUGIN)
    dist = tmp_path / "acme_robocover-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-robocover\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(
            """
            [robocover.collectors]
            acme_gripper = acme_robocover.gripper:GripperCollector.from_options
            acme_broken = acme_robocover.gripper:not_a_collector
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.usefixtures("acme_installed")
def test_an_installed_plugin_is_found_by_name_and_feeds_the_windows() -> None:
    collector = load_collector("acme_gripper", {"fingers": 3})
    assert isinstance(collector, Collector)
    assert [str(d.key) for d in collector.declarations] == [
        "x_acme_grip_force_n.1", "x_acme_grip_force_n.2", "x_acme_grip_force_n.3"
    ]  # fmt: skip
    aggregator = WindowAggregator(collector.declarations, 1_000_000, "mean")
    aggregator.add(0, collector.read(0).values)
    assert aggregator.add(1_000_000, collector.read(1_000_000).values) == (
        1_000_000, [10.0, 20.0, 30.0]
    )  # fmt: skip


@pytest.mark.usefixtures("acme_installed")
def test_a_plugin_that_fails_or_is_no_collector_is_reported() -> None:
    with pytest.raises(CollectorError, match="'acme_gripper' failed to start: a gripper has"):
        load_collector("acme_gripper", {"fingers": 0})
    with pytest.raises(CollectorError, match="'acme_broken' is not an edge_agent Collector"):
        load_collector("acme_broken", {})


def test_without_the_distribution_the_plugin_is_unknown() -> None:
    with pytest.raises(CollectorError, match="no collector named 'acme_gripper'"):
        load_collector("acme_gripper", {})
