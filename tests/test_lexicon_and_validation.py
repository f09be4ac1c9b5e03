import pytest

from agent.core.caption import parse_caption
from agent.core.checks import camera_matches, instances_match, positions_match, video_name, wording
from agent.core.config import Settings
from agent.core.evidence import CameraMotion, Evidence, Instances, InstanceTrack, VideoMetadata
from agent.core.lexicon import apply_suggestions, scan
from agent.run.plugins import load_plugins


@pytest.mark.parametrize("text, kind, span", [
    ("A dull gray wall.", "negative_word", "dull"),
    ("The engine makes a loud roar.", "sound", "loud"),
    ("At 3.5 seconds the man turns.", "timestamp", "3.5 seconds"),
    ("In frame 4 he waves.", "frame_number", "frame 4"),
    ("The clouds dance like a ballet.", "metaphor", "like a"),
    ("He is probably a teacher.", "speculation", "probably"),
    ("- a man\n- a dog", "bullet", "-"),
    ("The blurred background hides the street.", "processing", "blurred background"),
])
def test_each_rule_flags_its_span(text, kind, span):
    found = [v for v in scan("Appearance", text) if v.kind == kind]
    assert found and found[0].text == span and text[found[0].start:found[0].end].strip() == span


def test_clean_text_passes_and_limits_apply():
    assert scan("Appearance", "A tall man in a navy coat walks briskly across a sunlit plaza.") == []
    long = " ".join(["word"] * 40)
    assert [v.kind for v in scan("Global Description", long)] == ["too_long"]


def test_suggestions_replace_negative_words():
    text = "A gloomy, cluttered room."
    assert apply_suggestions(text, scan("x", text)) == "A dimly-lit, richly detailed room."


EVIDENCE = Evidence({
    "read_metadata": VideoMetadata(file_name="a.mp4", duration_s=3, fps=25, frame_count=75, width=640, height=360,
                                   orientation="landscape", rotation=0, codec="h264", container="mov",
                                   has_audio=False, size_bytes=1).model_dump(),
    "estimate_camera_motion": CameraMotion(label="pan left", primitives=["pan left"], speed="slowly", hint="").model_dump(),
    "detect_instances": Instances(backend="classical", instances=[
        InstanceTrack(id="No.0", class_name="person", confidence=0.9, boxes=[[0, 0, 0.1, 0.1]],
                      start_cell="bottom-left", end_cell="center", recognised_by=["hog"])]).model_dump(),
}, load_plugins().evidence_models(Settings()))  # typed by what the built-in tools declare


def caption(cls="person", position="person moves from the bottom-left to the center.", camera="The camera pans left slowly.",
            n=1, video="a.mp4"):
    inst = {"Class": cls, "Appearance": "A man in a red coat.", "Actions and Motion": "He walks.", "Position": position}
    return parse_caption({"Video": video, "Global Description": "A man walks.", "Structural Description": {
        "Main Instance": {f"No.{i}": inst for i in range(n)}, "Background Detail": "A wall.", "Camera Movement": camera}})


def test_a_faithful_caption_has_no_problems():
    c = caption()
    assert [p for check in (video_name, instances_match, positions_match, camera_matches, wording) for p in check(c, EVIDENCE)] == []


def test_problems_name_field_and_evidence():
    problems = instances_match(caption(n=2), EVIDENCE)
    assert problems[0].field == "Structural Description.Main Instance" and "1 were detected" in problems[0].message
    p = instances_match(caption(cls="car"), EVIDENCE)[0]
    assert p.field.endswith("No.0.Class") and "person" in p.evidence
    p = positions_match(caption(position="person stays at the top-right."), EVIDENCE)[0]
    assert p.field.endswith("No.0.Position") and "bottom-left" in p.evidence
    assert "Bottom left to the centre" and positions_match(caption(position="Person goes from bottom left to the centre."), EVIDENCE) == []
    p = camera_matches(caption(camera="The camera pans right."), EVIDENCE)
    assert {q.message for q in p} >= {"does not describe the measured 'pan left'", "describes 'pan right', which was not measured"}
    assert camera_matches(caption(camera="The camera trucks left."), EVIDENCE) == []
    assert video_name(caption(video="b.mp4"), EVIDENCE)[0].field == "Video"
    assert wording(parse_caption({**caption().to_dict(), "Global Description": "A gloomy street."}), EVIDENCE)[0].field == "Global Description"
