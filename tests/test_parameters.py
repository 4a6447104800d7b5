"""Settings blocks refuse keys they do not declare."""

import pytest

from severity.governance.gate import GateSettings
from severity.monitoring.alerts import AlertSettings
from severity.monitoring.calibration import CalibrationSettings
from severity.monitoring.drift import DriftSettings
from severity.monitoring.fairness import FairnessSettings
from severity.tuning.study import StudySettings


@pytest.mark.parametrize(
    ("settings", "section"),
    [(GateSettings, "governance.gate"), (AlertSettings, "monitoring.alerts"), (DriftSettings, "monitoring.data_drift"),
     (FairnessSettings, "monitoring.fairness"), (StudySettings, "tuning.study"), (CalibrationSettings, "monitoring.calibration")],
)
def test_a_misspelt_key_is_refused_with_the_section_and_the_known_keys(settings, section):
    with pytest.raises(ValueError, match=rf"Unknown {section} setting\(s\) \['thresold'\]; known: \[") as error:
        settings.from_parameters({"thresold": 0.1})
    assert all(name in str(error.value) for name in settings.__dataclass_fields__)


def test_declared_keys_are_taken():
    assert DriftSettings.from_parameters({"drift_share": 0.3}).drift_share == 0.3
    assert GateSettings.from_parameters({"champion_tolerance": 0.01}).champion_tolerance == 0.01
