"""The fake card payment processor of the billing and claims tests: the demo's
(cloud_api/demo/fake_processor.py), with the tests' API key."""

from __future__ import annotations

from dataclasses import dataclass

from cloud_api.demo.fake_processor import FakeProcessor as Processor
from cloud_api.demo.fake_processor import serve_processor, webhook

API_KEY = "sk_test_" + "k" * 24

__all__ = ["API_KEY", "FakeProcessor", "serve_processor", "webhook"]


@dataclass
class FakeProcessor(Processor):
    api_key: str = API_KEY
