"""One shape for the failure counters read from the database at scrape time (billing's failed
card payments, claims' failed payouts): ``robocover_<subject>_database_up`` (0 when the
database did not answer, and then nothing else is exported: no stale figures), and when it
answered ``robocover_<subject>_failed_total{reason}`` over a fixed set of kinds, every one
exported even at 0 (a series that first appears at 1 would hide that first failure from
``increase()``), beside whatever else the domain reads in the same transaction.

Each domain says what it reads and how a recorded reason maps to a kind; the counting, the
up gauge and the refusal to export half a scrape live here once.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from loguru import logger
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from cloud_api.sessions import Transactions


@dataclass(frozen=True)
class FailureScrape:
    """What one scrape read: the failed rows counted by recorded reason, and other families."""

    reasons: Iterable[tuple[str | None, int]]
    more: Sequence[Metric] = field(default_factory=tuple)


class FailureCollector(Collector):
    """``robocover_<subject>_database_up`` and ``robocover_<subject>_failed_total{reason}``."""

    subject: ClassVar[str]
    """``payments`` or ``claim_payouts``: the series' middle name."""
    failed_help: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]]

    def __init__(self, transactions: Transactions) -> None:
        self._transactions = transactions

    @abstractmethod
    def read(self, session: Session) -> FailureScrape:
        """The failed rows by reason and any other families, in one transaction."""

    @abstractmethod
    def kind(self, reason: str | None) -> str:
        """The label (one of ``kinds``) of a failure's recorded reason."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            f"robocover_{self.subject}_database_up", "1 if the database answered this scrape"
        )
        try:
            with self._transactions() as session:
                scrape = self.read(session)
        except SQLAlchemyError as error:
            logger.warning(
                "{} metrics: the database did not answer: {}", self.subject, type(error).__name__
            )
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        failed = CounterMetricFamily(
            f"robocover_{self.subject}_failed", self.failed_help, labels=["reason"]
        )
        by_kind: Counter[str] = Counter(dict.fromkeys(self.kinds, 0))
        for reason, count in scrape.reasons:
            by_kind[self.kind(reason)] += count
        for kind in self.kinds:
            failed.add_metric([kind], by_kind[kind])
        yield from (up, failed, *scrape.more)
