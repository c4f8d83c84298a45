"""How each event a tenant can be told of reads in an email's subject. Pure."""

from __future__ import annotations

from cloud_api.notifications.schemas import EventType

SUBJECTS: dict[EventType, str] = {
    EventType.POLICY_ISSUED: "Your policy {number} is issued",
    EventType.RENEWAL_OFFERED: "The renewal of policy {number} is offered",
    EventType.ENDORSEMENT_PROPOSED: "A premium change is proposed for policy {number}",
    EventType.INVOICE_DUE: "Invoice {number} is due on {due_on}",
    EventType.PAYMENT_FAILED: "A payment of invoice {invoice} failed: {reason}",
    EventType.LAPSE_WARNING: "Invoice {invoice} is overdue: pay it before the policy lapses",
    EventType.CLAIM_STATUS_CHANGED: "Claim {number} is {status}",
    EventType.ROBOT_OFFLINE: "Robot {serial_number} has been offline since {since}",
    EventType.TAMPER_CASE_OPENED: "A review of robot {serial_number}'s data was opened",
}
"""Each event's email subject, formatted with its payload (missing fields shown as ``?``)."""
