"""What every part of the clean-room decoder shares: the refusal and the limits of the document."""

from __future__ import annotations

from typing import NoReturn

MAX_PAYLOAD = 262_144  # section 16
MAX_ITEMS = 16_384  # section 4
MAX_DEPTH = 8  # section 4
DECODER_MINOR = 2  # this document is 1.2
U63 = 2**63 - 1
T54 = 2**54
Q53 = 2**53


class Refusal(Exception):  # noqa: N818 (the name is the brief's API)
    """A refusal; ``code`` is one of the error codes of section 17."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def fail(code: str) -> NoReturn:
    raise Refusal(code)
