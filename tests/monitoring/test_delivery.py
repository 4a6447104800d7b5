"""Alerts reach people: a Slack-compatible webhook and SMTP email on 127.0.0.1 (plain, or STARTTLS with the server's
certificate verified), each alert once until it changes, resolves or has stayed open for ``repeat_after_hours``; a
failed delivery is retried on the next run."""

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner

from severity.datasets.state import JSONStateDataset
from severity.monitoring.alerts import AlertSettings, alert_record, deliver, fingerprint, smtp_credentials
from severity.parameters import ParameterError, validate
from severity.pipelines.monitoring import create_pipeline
from severity.pipelines.monitoring.nodes import request_retraining
from severity.pipelines.parameters import MonitoringParameters
from tests.conftest import recording_webhook
from tests.parameters import block, raw_block

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
DRIFT = {
    "check": "feature_drift",
    "severity": "warning",
    "message": "drifted: raw__weather_condition (0.310 >= 0.1)",
    "drifted_columns": ["raw__weather_condition"],
}
PREDICTIONS = {
    "check": "prediction_drift",
    "severity": "critical",
    "message": "fatal probabilities moved: PSI 0.350 >= 0.2",
    "psi": 0.35,
    "ks_p_value": 1e-5,
}
BATCH = {"source": "csv", "events": 300, "first_event": "2016-01-02", "last_event": "2016-12-30"}


def settings(**overrides) -> AlertSettings:
    values = raw_block("monitoring.alerts")
    email = {**values.pop("email"), **overrides.pop("email", {})}
    return validate(AlertSettings, {**values, "email": email, **overrides}, "monitoring.alerts")


def record(*alerts, **fields) -> dict:
    return {**alert_record(list(alerts), BATCH), **fields}


def email_to(host: str, port: int, **settings) -> dict:
    """``monitoring.alerts.email`` for the server at ``host:port``, two recipients."""
    return {
        "host": host,
        "port": port,
        "sender": "severity@example.org",
        "recipients": ["ops@example.org", "a.analyst@example.org"],
        **settings,
    }


@pytest.fixture
def mail(smtp_server):
    host, port, recorder = smtp_server
    return email_to(host, port, starttls=False), recorder


def test_the_webhook_gets_a_slack_text_and_the_structured_fields(webhook):
    url, received = webhook
    report, state = deliver(record(PREDICTIONS, DRIFT), settings(webhook_url=url), {}, now=NOW)
    assert report["delivered"] and report["channels"]["webhook"]["status"] == 204 and report["failed"] == []
    (payload,) = received
    lines = payload["text"].splitlines()
    assert lines[0] == "severity monitoring: 2 alert(s) on 300 events (2016-01-02 to 2016-12-30)"
    assert lines[1] == "• [critical] prediction_drift: fatal probabilities moved: PSI 0.350 >= 0.2"
    assert lines[2].startswith("• [warning] feature_drift: drifted: raw__weather_condition")
    assert payload["batch"] == BATCH and payload["judged"] is True and payload["source"] == "monitoring"
    assert [alert["check"] for alert in payload["alerts"]] == ["prediction_drift", "feature_drift"]
    assert payload["alerts"][0]["psi"] == 0.35 and payload["alerts"][0]["fingerprint"] == fingerprint(PREDICTIONS)
    assert not payload["alerts"][0]["repeat"] and payload["unchanged"] == []
    ((destination, at),) = state["alerts"][fingerprint(DRIFT)]["sent"].items()
    assert destination.startswith("webhook:") and url not in destination and at == NOW.isoformat(timespec="seconds")
    # Another webhook is another audience: it receives the open alerts too.
    with recording_webhook() as (other, elsewhere):
        report, _ = deliver(record(PREDICTIONS, DRIFT), settings(webhook_url=other), state, now=NOW)
    assert report["delivered"] and len(elsewhere) == 1 and len(received) == 1


def test_email_goes_through_smtp_with_the_login_from_the_environment(mail, monkeypatch):
    email, recorder = mail
    monkeypatch.setenv("SEVERITY_SMTP_USERNAME", "alerts")
    monkeypatch.setenv("SEVERITY_SMTP_PASSWORD", "s3cret")
    report, _ = deliver(record(PREDICTIONS), settings(email=email), {}, now=NOW)
    assert report["delivered"] and report["channels"]["email"]["recipients"] == email["recipients"]
    assert recorder.logins == [("alerts", "s3cret")]
    (sent,) = recorder.messages
    assert sent["from"] == "severity@example.org" and sent["to"] == email["recipients"]
    message = sent["message"]
    assert message["Subject"] == "[severity] 1 alert(s): prediction_drift"
    body = message.get_content()
    assert body.startswith("severity monitoring: 1 alert(s) on 300 events")
    structured = json.loads(body[body.index("\n{") + 1 :])
    assert structured["alerts"][0]["check"] == "prediction_drift" and structured["batch"] == BATCH
    assert "s3cret" not in body


def test_a_wrong_login_is_a_failed_delivery_retried_next_run(mail, caplog):
    email, recorder = mail
    with caplog.at_level(logging.ERROR, logger="severity"):
        report, state = deliver(
            record(PREDICTIONS), settings(email=email), {}, {"username": "alerts", "password": "wrong"}, now=NOW
        )
    assert not report["delivered"] and report["failed"] == ["email"]
    assert "SMTPAuthenticationError" in report["channels"]["email"]["error"] and not recorder.messages
    assert "Could not mail 1 alert(s)" in caplog.text
    assert state["alerts"][fingerprint(PREDICTIONS)]["sent"] == {}  # not marked as sent
    report, state = deliver(
        record(PREDICTIONS), settings(email=email), state, {"username": "alerts", "password": "s3cret"}
    )
    assert report["delivered"] and len(recorder.messages) == 1


def test_a_login_without_starttls_goes_only_to_loopback(mail):
    """Refused before any connection: nothing is sent to the other host, the password least of all."""
    email, recorder = mail
    remote = {**email, "host": "smtp.example.org"}
    report, _ = deliver(record(PREDICTIONS), settings(email=remote), {}, {"username": "alerts", "password": "s3cret"})
    assert not report["delivered"] and report["failed"] == ["email"]
    error = report["channels"]["email"]["error"]
    assert "monitoring.alerts.email.starttls is false" in error and "clear text" in error and "s3cret" not in error
    assert not recorder.messages


def test_email_over_starttls_verifies_the_server_then_logs_in_and_mails_inside_tls(starttls_smtp_server):
    host, port, recorder, ca_file = starttls_smtp_server
    email = email_to(host, port, starttls=True, ca_file=str(ca_file))
    report, _ = deliver(
        record(PREDICTIONS, DRIFT), settings(email=email), {}, {"username": "alerts", "password": "s3cret"}, now=NOW
    )
    assert report["delivered"] and report["failed"] == [], report
    assert report["channels"]["email"]["recipients"] == email["recipients"]
    # The server takes a login and mail only after STARTTLS (require_starttls, auth_require_tls): both happened in TLS.
    assert recorder.logins == [("alerts", "s3cret")]
    (sent,) = recorder.messages
    assert sent["tls_cipher"] is not None and sent["tls_cipher"][1].startswith("TLSv1."), sent["tls_cipher"]
    assert sent["from"] == "severity@example.org" and sent["to"] == email["recipients"]
    assert sent["message"]["Subject"] == "[severity] 2 alert(s): prediction_drift, feature_drift"
    assert sent["message"]["To"] == "ops@example.org, a.analyst@example.org"


def test_an_untrusted_or_misnamed_server_certificate_stops_the_mail_before_the_login(starttls_smtp_server, tmp_path):
    host, port, recorder, ca_file = starttls_smtp_server
    email = {"host": host, "port": port, "sender": "severity@example.org", "recipients": ["ops@example.org"]}
    login = {"username": "alerts", "password": "s3cret"}
    untrusted = {**email, "starttls": True, "ca_file": None}  # the system's CAs never signed the test's certificate
    misnamed = {**email, "host": "localhost", "starttls": True, "ca_file": str(ca_file)}  # issued for 127.0.0.1 only
    for wrong, reason in ((untrusted, "certificate verify failed"), (misnamed, "Hostname mismatch")):
        report, _ = deliver(record(PREDICTIONS), settings(email=wrong), {}, login, now=NOW)
        error = report["channels"]["email"]["error"]
        assert not report["delivered"] and error.startswith("SSLCertVerificationError") and reason in error, error
    plain, _ = deliver(record(PREDICTIONS), settings(email={**email, "starttls": False}), {}, login, now=NOW)
    assert "SMTP" in plain["channels"]["email"]["error"] and not plain["delivered"]  # the server requires STARTTLS
    missing, _ = deliver(
        record(PREDICTIONS),
        settings(email={**email, "starttls": True, "ca_file": str(tmp_path / "missing.pem")}),
        {},
        login,
        now=NOW,
    )
    assert missing["channels"]["email"]["error"].startswith(
        f"monitoring.alerts.email.ca_file '{tmp_path / 'missing.pem'}' is not a readable PEM file"
    )
    assert recorder.logins == [] and recorder.messages == []  # the password never left the client


def test_credentials_come_from_the_environment_over_credentials_yml_never_from_parameters(monkeypatch):
    monkeypatch.delenv("SEVERITY_SMTP_USERNAME", raising=False)
    monkeypatch.delenv("SEVERITY_SMTP_PASSWORD", raising=False)
    assert smtp_credentials(None) == {}
    assert smtp_credentials({"username": "file", "password": "from-yml"}) == {
        "username": "file",
        "password": "from-yml",
    }
    monkeypatch.setenv("SEVERITY_SMTP_PASSWORD", "from-env")
    assert smtp_credentials({"username": "file", "password": "from-yml"}) == {
        "username": "file",
        "password": "from-env",
    }
    with pytest.raises(ParameterError, match=r"unknown key 'password'"):
        settings(email={"password": "x"})
    with pytest.raises(ParameterError, match=r"needs a sender and at least one recipient"):
        settings(email={"host": "smtp.example.org"})
    with pytest.raises(ParameterError, match=r"ca_file 'ca.pem' verifies the server's certificate after STARTTLS"):
        settings(email={"starttls": False, "ca_file": "ca.pem"})


def test_an_unchanged_alert_is_sent_once_until_the_interval_passes(webhook, mail):
    url, received = webhook
    email, recorder = mail
    configured = settings(webhook_url=url, email=email, repeat_after_hours=24)
    report, state = deliver(record(PREDICTIONS), configured, {}, now=NOW)
    assert report["delivered"] and len(received) == 1 and len(recorder.messages) == 1

    # The next daily run a few hours early: the same alert, its figures a little different, is not sent again.
    moved = {**PREDICTIONS, "psi": 0.37, "message": "fatal probabilities moved: PSI 0.370 >= 0.2"}
    report, state = deliver(record(moved), configured, state, now=NOW + timedelta(hours=23))
    assert not report["delivered"] and len(received) == 1 and len(recorder.messages) == 1
    for channel in ("webhook", "email"):
        assert report["channels"][channel]["suppressed"] == ["prediction_drift"]
        assert "repeat_after_hours = 24.0" in report["channels"][channel]["reason"]

    # Once the interval has passed since it was sent, it is sent again, marked as a repeat.
    report, state = deliver(record(moved), configured, state, now=NOW + timedelta(hours=24))
    assert report["delivered"] and len(received) == 2 and len(recorder.messages) == 2
    assert received[1]["alerts"][0]["repeat"] and "(still open, repeated)" in received[1]["text"]


def test_a_changed_alert_is_sent_at_once_with_the_unchanged_ones_mentioned(webhook):
    url, received = webhook
    configured = settings(webhook_url=url)
    _, state = deliver(record(PREDICTIONS, DRIFT), configured, {}, now=NOW)
    wider = {**DRIFT, "drifted_columns": ["raw__weather_condition", "raw__make"], "message": "drifted: two"}
    report, state = deliver(record(PREDICTIONS, wider), configured, state, now=NOW + timedelta(hours=1))
    assert report["channels"]["webhook"]["alerts"] == ["feature_drift"]
    assert [alert["check"] for alert in received[1]["alerts"]] == ["feature_drift"]
    assert received[1]["unchanged"] == ["prediction_drift"]
    assert received[1]["text"].endswith("Also still open, unchanged and sent before: prediction_drift")
    assert fingerprint(DRIFT) not in state["alerts"]  # the old form of the alert is resolved
    # A change of severity or of a configured limit is a change too; a change of figures only is not.
    assert fingerprint({**PREDICTIONS, "severity": "warning"}) != fingerprint(PREDICTIONS)
    assert fingerprint({**PREDICTIONS, "threshold": 0.3}) != fingerprint({**PREDICTIONS, "threshold": 0.2})
    assert fingerprint({**PREDICTIONS, "psi": 0.9, "ks_p_value": 0.001, "message": "x"}) == fingerprint(PREDICTIONS)


def test_a_resolved_alert_that_returns_is_sent_again_but_a_batch_too_small_resolves_nothing(webhook):
    url, received = webhook
    configured = settings(webhook_url=url)
    _, state = deliver(record(PREDICTIONS), configured, {}, now=NOW)
    not_judged = alert_record([], BATCH, not_judged="too few events to judge: 20 events < 100")
    report, state = deliver(not_judged, configured, state, now=NOW + timedelta(hours=1))
    assert report == {
        "delivered": False,
        "channels": {},
        "resolved": [],
        "reason": "too few events to judge: 20 events < 100",
    }
    assert fingerprint(PREDICTIONS) in state["alerts"]
    report, state = deliver(record(), configured, state, now=NOW + timedelta(hours=2))
    assert report["resolved"] == ["prediction_drift"] and report["reason"] == "no alert fired"
    deliver(record(PREDICTIONS), configured, state, now=NOW + timedelta(hours=3))
    assert len(received) == 2


def test_another_source_keeps_its_own_alerts(webhook):
    url, received = webhook
    configured = settings(webhook_url=url)
    failure = {
        "check": "dag_failure",
        "severity": "critical",
        "message": "task monitoring failed",
        "task": "monitoring",
    }
    _, state = deliver({"source": "airflow", "alerts": [failure]}, configured, {}, now=NOW)
    _, state = deliver(record(), configured, state, now=NOW + timedelta(hours=1))  # monitoring: nothing fired
    assert fingerprint(failure) in state["alerts"] and received[0]["text"].startswith("severity airflow: 1 alert(s)")


def test_an_unreachable_webhook_is_logged_reported_and_retried(webhook, caplog):
    url, received = webhook
    closed = url.rsplit(":", 1)[0] + ":9/alerts"  # the discard port: nothing listens there
    with caplog.at_level(logging.ERROR, logger="severity"):
        report, state = deliver(
            record(PREDICTIONS), settings(webhook_url=closed, webhook_timeout_seconds=2), {}, now=NOW
        )
    assert not report["delivered"] and report["failed"] == ["webhook"] and report["channels"]["webhook"]["error"]
    assert f"Could not deliver 1 alert(s) to {closed}" in caplog.text
    report, _ = deliver(record(PREDICTIONS), settings(webhook_url=url), state, now=NOW + timedelta(minutes=5))
    assert report["delivered"] and len(received) == 1


def test_no_channel_configured_says_so():
    report, state = deliver(record(PREDICTIONS), settings(), {}, now=NOW)
    assert not report["delivered"] and "no channel configured" in report["reason"]
    assert fingerprint(PREDICTIONS) in state["alerts"]


def test_the_node_keeps_its_state_between_runs_in_the_catalog(webhook, tmp_path):
    """Two runs of the delivery node through Kedro's runner, the state in its file between them: one delivery."""
    url, received = webhook
    monitoring = block("monitoring", alerts=settings(webhook_url=url))
    delivery = create_pipeline().only_nodes("deliver_alerts_node")
    for _ in range(2):
        catalog = DataCatalog(
            {
                "alert_state": JSONStateDataset(str(tmp_path / "alert_state.json")),
                "alert_state_updated": JSONStateDataset(str(tmp_path / "alert_state.json")),
            }
        )
        catalog["monitoring_alerts"] = record(PREDICTIONS)
        catalog["smtp_credentials"] = {}
        catalog["params:monitoring"] = monitoring
        SequentialRunner().run(Pipeline(delivery), catalog)
    assert len(received) == 1
    saved = json.loads((tmp_path / "alert_state.json").read_text())
    assert saved["alerts"][fingerprint(PREDICTIONS)]["check"] == "prediction_drift"


def test_retrain_on_requests_retraining_for_the_named_checks_only(caplog):
    assert raw_block("monitoring.retrain_on") == []
    quiet = request_retraining(record(PREDICTIONS, DRIFT), block("monitoring"))
    assert quiet["requested"] is False and quiet["because"] == []
    monitoring = block("monitoring", retrain_on=["feature_drift", "calibration"])
    asked = request_retraining(record(PREDICTIONS, DRIFT), monitoring)
    assert asked["requested"] is True and asked["because"] == ["feature_drift"] and asked["batch"] == BATCH
    # The batch's files (or log window), as prepare_current_batch recorded them, say what the request was computed from.
    files = {"current_events": {"path": "/data/new.csv", "sha256": "ab" * 32, "rows": 300}}
    window = {
        "log": "/data/log.sqlite",
        "start": "2026-11-30T00:00:00+00:00",
        "end": "2026-12-01T00:00:00+00:00",
        "rows": 150,
    }
    with caplog.at_level(logging.WARNING, logger="severity"):
        from_file = request_retraining({**record(DRIFT), "batch": {**BATCH, "files": files}}, monitoring)
        request_retraining(
            {**record(DRIFT), "batch": {"source": "log", "events": 150, "log_window": window}}, monitoring
        )
    assert from_file["batch"]["files"] == files
    assert "feature_drift fired (monitoring.retrain_on) on current_events /data/new.csv (300 rows)" in caplog.text
    assert (
        "on 150 answers of /data/log.sqlite from 2026-11-30T00:00:00+00:00 to 2026-12-01T00:00:00+00:00" in caplog.text
    )
    with pytest.raises(ParameterError, match=r"monitoring.retrain_on: unknown alert check\(s\) \['drfit'\]"):
        validate(MonitoringParameters, {**raw_block("monitoring"), "retrain_on": ["drfit"]}, "monitoring")
