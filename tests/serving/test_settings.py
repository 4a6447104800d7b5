import pytest

from severity.serving.settings import ServingSettings


def test_defaults_and_environment():
    assert ServingSettings.from_environment({}) == ServingSettings()
    settings = ServingSettings.from_environment(
        {"SEVERITY_ROUTING": "shadow", "SEVERITY_CHALLENGER_MODEL": "severity_model:abc", "SEVERITY_MAX_BATCH": "50"}
    )
    assert (settings.routing, settings.challenger_tag, settings.max_batch) == ("shadow", "severity_model:abc", 50)
    assert ServingSettings().history_stale_days == 90
    assert ServingSettings.from_environment({"SEVERITY_HISTORY_STALE_DAYS": "0"}).history_stale_days == 0


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SEVERITY_MAX_BATCH": "many"}, "SEVERITY_MAX_BATCH must be int, got 'many'"),
        ({"SEVERITY_MAX_BATCH": "0"}, "SEVERITY_MAX_BATCH must be at least 1"),
        ({"SEVERITY_ROUTING": "canary"}, "SEVERITY_ROUTING must be one of"),
        ({"SEVERITY_ACCESS_LOG": "sometimes"}, "SEVERITY_ACCESS_LOG must be on or off, got 'sometimes'"),
        ({"SEVERITY_HISTORY_STALE_DAYS": "-1"}, "SEVERITY_HISTORY_STALE_DAYS must be at least 0, got -1"),
        ({"SEVERITY_HISTORY_STALE_DAYS": "a season"}, "SEVERITY_HISTORY_STALE_DAYS must be int, got 'a season'"),
        ({"SEVERITY_MAX_BODY_BYTES": "16M"}, "SEVERITY_MAX_BODY_BYTES must be int, got '16M'"),
        ({"SEVERITY_MAX_BODY_BYTES": "0"}, "SEVERITY_MAX_BODY_BYTES must be at least 1, got 0"),
        ({"SEVERITY_API_KEY": " key "}, "SEVERITY_API_KEY must be ASCII without surrounding whitespace"),
        ({"SEVERITY_API_KEY": "kéy"}, "SEVERITY_API_KEY must be ASCII"),
    ],
)
def test_bad_settings_name_the_variable(environ, message):
    with pytest.raises(ValueError, match=message):
        ServingSettings.from_environment(environ)


@pytest.mark.parametrize(("value", "expected"), [("off", False), ("OFF", False), ("false", False), ("0", False), ("on", True), ("yes", True)])
def test_the_access_log_switch_reads_on_and_off(value, expected):
    assert ServingSettings.from_environment({"SEVERITY_ACCESS_LOG": value}).access_log is expected
    assert ServingSettings.from_environment({}).access_log is True


def test_log_settings_read_from_the_environment():
    defaults = ServingSettings.from_environment({})
    assert (defaults.log_timeout_seconds, defaults.log_redact, defaults.log_redact_key, defaults.log_retention_days) == (
        5.0, ("registration_number",), None, None)
    settings = ServingSettings.from_environment({"SEVERITY_LOG_TIMEOUT_SECONDS": "0.5", "SEVERITY_LOG_REDACT": "registration_number, location",
                                                 "SEVERITY_LOG_REDACT_KEY": "secret", "SEVERITY_LOG_RETENTION_DAYS": "90"})
    assert (settings.log_timeout_seconds, settings.log_redact, settings.log_redact_key, settings.log_retention_days) == (
        0.5, ("registration_number", "location"), "secret", 90.0)
    assert ServingSettings.from_environment({"SEVERITY_LOG_REDACT": ""}).log_redact == ()
    assert "secret" not in repr(settings)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SEVERITY_LOG_TIMEOUT_SECONDS": "0"}, "SEVERITY_LOG_TIMEOUT_SECONDS must be more than 0, got 0.0"),
        ({"SEVERITY_LOG_TIMEOUT_SECONDS": "soon"}, "SEVERITY_LOG_TIMEOUT_SECONDS must be float, got 'soon'"),
        ({"SEVERITY_LOG_REDACT": "registration_number,tail_colour"}, r"SEVERITY_LOG_REDACT names \['tail_colour'\], which are not request fields"),
        ({"SEVERITY_LOG_RETENTION_DAYS": "-3"}, "SEVERITY_LOG_RETENTION_DAYS must be more than 0"),
    ],
)
def test_bad_log_settings_name_the_variable(environ, message):
    with pytest.raises(ValueError, match=message):
        ServingSettings.from_environment(environ)
def test_body_limit_and_api_key():
    assert ServingSettings().max_body_bytes == 16 * 1024 * 1024 and ServingSettings().api_key is None
    settings = ServingSettings.from_environment({"SEVERITY_MAX_BODY_BYTES": "1024", "SEVERITY_API_KEY": "s3cret"})
    assert (settings.max_body_bytes, settings.api_key) == (1024, "s3cret")
    assert "s3cret" not in repr(settings)
