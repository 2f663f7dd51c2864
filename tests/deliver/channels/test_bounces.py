"""Bounces and complaints: webhook payloads (Tenure's shape, SES, SendGrid) and a bounce
mailbox (DSNs, a feedback report); hard bounces and complaints suppress, soft ones count."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tenure import Store
from tenure.deliver.bounces import Bounce, parse_file, parse_payload, record_bounces
from tenure.errors import IngestError
from tests.deliver.channels.channelkit import NOW

DSN = """\
From: MAILER-DAEMON@mx.shop.example
To: bounces@shop.example
Subject: Undelivered Mail Returned to Sender
Date: Mon, 02 Mar 2026 08:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

This is the mail system. Your message could not be delivered.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.shop.example

Final-Recipient: rfc822; {rcpt}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diag}

--B1
Content-Type: text/rfc822-headers

From: news@shop.example
To: {rcpt}
Message-ID: <abc123@shop.example>
Subject: Your cart

--B1--
"""

ARF = """\
From: feedback@isp.example
To: abuse@shop.example
Subject: FW: complaint
Date: Mon, 02 Mar 2026 07:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B2"

--B2
Content-Type: text/plain

This is an email abuse report.

--B2
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ISP-FBL/1.0
Version: 1

--B2
Content-Type: message/rfc822

From: news@shop.example
To: Carol@Example.com
Message-ID: <def456@shop.example>
Subject: Black Friday

Hello
--B2--
"""


def _dsn(rcpt: str, action: str, status: str, diag: str) -> str:
    return DSN.format(rcpt=rcpt, action=action, status=status, diag=diag)


def test_a_mailbox_of_dsns_and_a_feedback_report(tmp_path: Path) -> None:
    box = tmp_path / "bounces.mbox"
    parts = [
        _dsn("ann@example.com", "failed", "5.1.1", "550 5.1.1 No such user"),
        _dsn("bob@example.org", "delayed", "4.4.1", "451 4.4.1 Try later"),
        ARF,
        "From: someone@example.com\nSubject: hello\n\nnot a report\n",
    ]
    box.write_text("".join(f"From MAILER-DAEMON Mon Mar  2 08:00:00 2026\n{p}\n" for p in parts))
    found = parse_file(box)
    assert found == [
        Bounce("ann@example.com", "hard", "5.1.1", "550 5.1.1 No such user",
               "<abc123@shop.example>", "mailbox", datetime(2026, 3, 2, 8)),
        Bounce("bob@example.org", "soft", "4.4.1", "451 4.4.1 Try later",
               "<abc123@shop.example>", "mailbox", datetime(2026, 3, 2, 8)),
        Bounce("Carol@Example.com", "complaint", "abuse", "complaint",
               "<def456@shop.example>", "mailbox", datetime(2026, 3, 2, 7)),
    ]  # fmt: skip
    eml = tmp_path / "one.eml"
    eml.write_text(_dsn("x@y.example", "failed", "5.2.2", "552 mailbox full"))
    assert [(b.email, b.kind) for b in parse_file(eml)] == [("x@y.example", "hard")]
    with pytest.raises(IngestError, match="does not exist"):
        parse_file(tmp_path / "missing.mbox")


def test_webhook_shapes() -> None:
    own = {"type": "bounce", "email": "a@x.example", "bounce_type": "hard",
           "status": "5.1.1", "reason": "no such user", "at": "2026-03-02T08:00:00Z"}  # fmt: skip
    ses = {
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Transient", "timestamp": "2026-03-02T08:00:00.000Z",
                   "bouncedRecipients": [{"emailAddress": "b@x.example",
                                          "diagnosticCode": "smtp; 452 full"}]},
        "mail": {"headers": [{"name": "Message-ID", "value": "<m1@shop.example>"}]},
    }  # fmt: skip
    ses_complaint = {
        "notificationType": "Complaint",
        "complaint": {"complainedRecipients": [{"emailAddress": "c@x.example"}],
                      "timestamp": "2026-03-02T08:00:00Z", "complaintFeedbackType": "abuse"},
    }  # fmt: skip
    sns = {"Type": "Notification", "Message": json.dumps(ses_complaint)}
    sendgrid = [
        {"event": "bounce", "email": "d@x.example", "type": "bounce", "reason": "550 gone",
         "timestamp": 1772438400},
        {"event": "spamreport", "email": "e@x.example", "timestamp": 1772438400},
        {"event": "delivered", "email": "f@x.example", "timestamp": 1772438400},
    ]  # fmt: skip
    got = [(b.email, b.kind, b.source) for b in parse_payload([own, ses, sns])]
    assert got == [
        ("a@x.example", "hard", "webhook"),
        ("b@x.example", "soft", "ses"),
        ("c@x.example", "complaint", "ses"),
    ]
    assert parse_payload(ses)[0].message_id == "<m1@shop.example>"
    grid = parse_payload(json.dumps(sendgrid))
    assert [(b.email, b.kind) for b in grid] == [
        ("d@x.example", "hard"),
        ("e@x.example", "complaint"),
    ]
    assert grid[0].at == datetime(2026, 3, 2, 8)


def test_hard_bounces_and_complaints_suppress_soft_ones_count(store: Store) -> None:
    events = [
        Bounce("Ann@Example.com", "hard", "5.1.1", "no such user"),
        Bounce("bob@example.org", "soft", "4.4.1", "later", at=datetime(2026, 3, 1)),
        Bounce("bob@example.org", "soft", "4.4.1", "later", at=datetime(2026, 3, 2)),
        Bounce("carol@example.com", "complaint"),
        Bounce("", "hard"),
        Bounce("x@example.com", "weird"),
    ]
    result = record_bounces(store, events, NOW)
    assert (result.hard, result.soft, result.complaints) == (1, 2, 1)
    assert (result.suppressed, result.already_suppressed, result.skipped) == (2, 0, 2)
    sup = store.table("suppressions").order_by("identifier").to_pandas()
    assert sup[
        ["identifier", "identifier_kind", "channel", "reason", "source"]
    ].values.tolist() == [
        ["ann@example.com", "email", "email", "hard bounce: 5.1.1 no such user", "bounce"],
        ["carol@example.com", "email", "email", "complaint", "bounce"],
    ]
    assert store.table("bounces").count().execute() == 4
    again = record_bounces(store, events, NOW)
    assert (again.suppressed, again.already_suppressed) == (0, 2)
    assert store.table("bounces").count().execute() == 4  # the same reports, kept once


def test_a_bounce_names_its_message_by_message_id(store: Store) -> None:
    import pyarrow as pa

    from tenure.deliver.bounces import bounced_messages
    from tenure.deliver.render import message_id

    rows = [{"message_key": k, "flow": "win_back", "step": "news", "person_id": "p_ann"}
            for k in ("k1", "k2")]  # fmt: skip
    store.insert("messages", pa.Table.from_pylist(rows))
    events = [
        Bounce("ann@example.com", "hard", message_id=message_id("k2", "shop.example")),
        Bounce("ann@example.com", "soft", message_id="<other@elsewhere>"),
    ]
    record_bounces(store, events, NOW)
    found = bounced_messages(store, "shop.example").to_pyarrow().to_pylist()
    assert found == [{"message_key": "k2", "flow": "win_back", "step": "news",
                      "person_id": "p_ann", "kind": "hard", "at": NOW}]  # fmt: skip
