"""Clock-skew correction of robots' times.

A message's offset, its device wall clock minus our receive time, is the device clock's skew
minus the message's delay in transit and in queues. Delays are never negative, so over one boot
of the robot (one monotonic clock) the largest offset seen is the best estimate of the skew; a
batch that waited hours in an outbox has a large negative offset and must not be mistaken for a
slow clock. The correction applies when the estimate passes the threshold ahead (nothing arrives
before it was made, so that is skew for certain), or when the device's time is implausibly old
(before the robot was registered: a clock reset to its epoch). Both times are kept.
"""

from __future__ import annotations


def clock_shift_us(
    max_offset_us: int, device_time_us: int, threshold_us: int, plausible_after_us: int
) -> int:
    """What to add to the device's times of a boot whose largest offset seen is
    `max_offset_us`; 0 when the device's clock is trusted."""
    if max_offset_us > threshold_us:
        return -max_offset_us
    if device_time_us < plausible_after_us and abs(max_offset_us) > threshold_us:
        return -max_offset_us
    return 0
