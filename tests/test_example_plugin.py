"""The example plugin package's condition and chat backend, module by module (the package installed and
run end to end: tests/test_conditions_and_formats.py)."""

import sys

import numpy as np
import pytest

from agent.core.config import Settings
from agent.core.errors import InputError
from conftest import ROOT

sys.path.insert(0, str(ROOT / "examples" / "motion-energy-plugin"))
try:  # the modules only: the package's folder stays off the path, so its entry points stay uninstalled
    from instance_agent_motion_energy import backend, condition
finally:
    sys.path.pop(0)


def test_the_rhythm_of_a_clip_that_starts_calm_and_ends_busy():
    rng = np.random.default_rng(0)
    still = [np.full((36, 64, 3), 120, np.uint8)] * 6
    busy = [rng.integers(0, 255, (36, 64, 3), dtype=np.uint8) for _ in range(6)]
    found = condition.rhythm(still + busy, parts=2)
    assert found.parts == ["calm", "busy"] and found.mean_change[0] < 4 < 12 < found.mean_change[1]
    assert condition.summary(found.parts) == "The motion is calm at the start and busy at the end."
    assert condition.summary(["calm", "busy", "calm"]) == "The motion is calm at the start, busy in the middle and " \
                                                          "calm at the end."
    assert condition.summary(["lively"] * 4) == "The motion is lively throughout."
    assert condition.summary(["calm", "calm", "busy", "calm"]).endswith("busy in part 3 of 4 and calm in part 4 of 4.")


def test_the_condition_reads_its_own_settings_and_turns_its_tool_on():
    spec = condition.CONDITION
    assert spec.settings_from(Settings()).parts == 3
    assert spec.settings_from(Settings(plugins={"motion_rhythm": {"parts": 5}})).parts == 5
    with pytest.raises(InputError, match=r"\[plugins.motion_rhythm\] parts"):
        spec.settings_from(Settings(plugins={"motion_rhythm": {"parts": 20}}))
    assert spec.make_tools(Settings()) == []
    assert [t.name for t in spec.make_tools(Settings(conditions=["motion_rhythm"]))] == ["measure_motion_rhythm"]
    section = spec.composed({"measure_motion_rhythm": {"parts": ["calm", "busy"], "mean_change": [1, 20]}})
    assert spec.composed({}) == {}
    assert spec.section.sentences(section["Motion Rhythm"]) == \
        [("Motion Rhythm summary", "The motion is calm at the start and busy at the end.")]
    spec.section.model.model_validate(section["Motion Rhythm"])


def test_the_reviewed_caption_backend(tmp_path):
    with pytest.raises(InputError, match="name the caption file"):
        backend.create(f"reviewed:{tmp_path / 'missing.json'}", Settings())
    (tmp_path / "list.json").write_text("[1, 2]")
    model = backend.create(f"reviewed:{tmp_path / 'list.json'}", Settings())
    with pytest.raises(backend.ReviewedCaptionError, match="holds a list, not one caption") as err:
        backend.read_caption(tmp_path / "list.json")
    assert backend.describe_error(err.value, Settings()).startswith("the reviewed caption could not be read: ")
    assert backend.describe_error(ValueError("other"), Settings()) is None
    assert model.path == str(tmp_path / "list.json")
    [registered] = backend.register_chat_backends()
    assert registered.prefix == "reviewed" and registered.create is backend.create
