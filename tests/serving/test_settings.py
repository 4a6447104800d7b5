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


@pytest.mark.parametrize(
    ("value", "expected"), [("off", False), ("OFF", False), ("false", False), ("0", False), ("on", True), ("yes", True)]
)
def test_the_access_log_switch_reads_on_and_off(value, expected):
    assert ServingSettings.from_environment({"SEVERITY_ACCESS_LOG": value}).access_log is expected
    assert ServingSettings.from_environment({}).access_log is True


def test_log_settings_read_from_the_environment():
    defaults = ServingSettings.from_environment({})
    assert (
        defaults.log_timeout_seconds,
        defaults.log_redact,
        defaults.log_redact_key,
        defaults.log_retention_days,
    ) == (5.0, ("registration_number",), None, None)
    settings = ServingSettings.from_environment(
        {
            "SEVERITY_LOG_TIMEOUT_SECONDS": "0.5",
            "SEVERITY_LOG_REDACT": "registration_number, location",
            "SEVERITY_LOG_REDACT_KEY": "secret",
            "SEVERITY_LOG_RETENTION_DAYS": "90",
        }
    )
    assert (
        settings.log_timeout_seconds,
        settings.log_redact,
        settings.log_redact_key,
        settings.log_retention_days,
    ) == (0.5, ("registration_number", "location"), "secret", 90.0)
    assert ServingSettings.from_environment({"SEVERITY_LOG_REDACT": ""}).log_redact == ()
    assert "secret" not in repr(settings)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SEVERITY_LOG_TIMEOUT_SECONDS": "0"}, "SEVERITY_LOG_TIMEOUT_SECONDS must be more than 0, got 0$"),
        ({"SEVERITY_LOG_TIMEOUT_SECONDS": "soon"}, "SEVERITY_LOG_TIMEOUT_SECONDS must be float, got 'soon'"),
        (
            {"SEVERITY_LOG_REDACT": "registration_number,tail_colour"},
            r"SEVERITY_LOG_REDACT names \['tail_colour'\], which are not request fields",
        ),
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


def test_every_problem_is_named_at_once_and_a_secret_never():
    with pytest.raises(ValueError) as refused:
        ServingSettings.from_environment(
            {"SEVERITY_ROUTING": "canary", "SEVERITY_CHALLENGER_SHARE": "1.5", "SEVERITY_API_KEY": " s3cret "}
        )
    message = str(refused.value)
    assert "SEVERITY_ROUTING must be one of 'champion', 'ab' or 'shadow', got 'canary'" in message
    assert "SEVERITY_CHALLENGER_SHARE must be at most 1, got 1.5" in message
    assert "SEVERITY_API_KEY must be ASCII" in message and "s3cret" not in message


def test_empty_variables_count_as_unset():
    settings = ServingSettings.from_environment(
        {"SEVERITY_WORKERS": "", "SEVERITY_MODEL": "", "SEVERITY_LOG_RETENTION_DAYS": ""}
    )
    assert settings == ServingSettings()


def test_an_unknown_severity_variable_is_refused_with_the_known_ones():
    with pytest.raises(
        ValueError, match=r"SEVERITY_ROUTNG is not a serving setting \(did you mean SEVERITY_ROUTING\?\)"
    ) as refused:
        ServingSettings.from_environment({"SEVERITY_ROUTNG": "ab"})
    assert all(variable in str(refused.value) for variable in ServingSettings.variables().values())
    with pytest.raises(ValueError, match="SEVERITY_API_KEYS is not a serving setting"):
        ServingSettings.from_environment({"SEVERITY_API_KEYS": "s3cret"})


def test_other_parts_variables_are_not_settings_and_pass():
    environ = {"SEVERITY_REQUIRE_POSTGRES": "1", "PATH": "/usr/bin", "NOT_SEVERITY_X": "1"}
    assert ServingSettings.from_environment(environ) == ServingSettings()


def test_from_environment_reads_the_mapping_given_and_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("SEVERITY_ROUTING", "shadow")
    monkeypatch.setenv("SEVERITY_MAX_BATCH", "7")
    assert ServingSettings.from_environment({}) == ServingSettings()
    assert ServingSettings.from_environment({"SEVERITY_ROUTING": "ab"}).max_batch == 10_000
    from_process = ServingSettings.from_environment()
    assert (from_process.routing, from_process.max_batch) == ("shadow", 7)


def test_keyword_construction_never_reads_the_environment(monkeypatch):
    monkeypatch.setenv("SEVERITY_ROUTING", "ab")
    monkeypatch.setenv("SEVERITY_REGISTERED_MODEL", "another-model")
    monkeypatch.setenv("SEVERITY_ROUTNG", "ab")
    settings = ServingSettings(registry_uri="sqlite:///elsewhere.db")
    assert (settings.registry_uri, settings.routing, settings.registered_model) == (
        "sqlite:///elsewhere.db",
        "champion",
        "ntsb-severity-classifier",
    )
    assert ServingSettings(champion_tag="severity_model:abc").champion_tag == "severity_model:abc"


def test_keyword_construction_is_validated_and_frozen():
    with pytest.raises(ValueError, match="SEVERITY_MAX_BATCH must be at least 1, got 0"):
        ServingSettings(max_batch=0)
    with pytest.raises(ValueError, match="regstry_uri is not a serving setting"):
        ServingSettings(regstry_uri="sqlite:///mlflow.db")
    settings = ServingSettings(log_redact=[])
    assert settings.log_redact == ()
    with pytest.raises(ValueError):
        settings.routing = "ab"
