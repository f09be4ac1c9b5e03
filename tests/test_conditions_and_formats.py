"""Condition plugins (film language, depth, pose), output formats and a third-party plugin package."""

import json
import subprocess
import sys

import numpy as np
import pytest

from agent.core.config import Settings
from agent.run.runner import caption_video
from conftest import ROOT, favour_first_class, real_clip, run_cli
from plugins.film_language import (angle_from_horizon, composition, horizon, shot_size_from_face,
                                   shot_size_from_subject)
from plugins.pose import posture, posture_from_box


def skeleton(moves=None):
    """17 COCO keypoints of an upright person (y grows downwards, in body units), then moved."""
    pts = {0: (0.0, 0.0), 5: (-0.2, 0.3), 6: (0.2, 0.3), 7: (-0.25, 0.55), 8: (0.25, 0.55), 9: (-0.25, 0.8),
           10: (0.25, 0.8), 11: (-0.15, 0.9), 12: (0.15, 0.9), 13: (-0.15, 1.35), 14: (0.15, 1.35),
           15: (-0.15, 1.8), 16: (0.15, 1.8)}
    pts.update(moves or {})
    kps = np.zeros((17, 3))
    for i, (x, y) in pts.items():
        kps[i] = (x, y, 0.9)
    return kps


def test_posture_rules_on_crafted_keypoints():
    assert posture(skeleton()) == ["standing"]
    assert posture(skeleton(), speed_heights_per_s=0.6) == ["walking"]
    assert posture(skeleton(), speed_heights_per_s=2.0) == ["running"]
    assert posture(skeleton({9: (-0.3, -0.1), 10: (0.3, -0.1)})) == ["standing", "both arms raised"]
    assert posture(skeleton({10: (0.3, -0.1)})) == ["standing", "one arm raised"]
    # knees level with the hips, shins hanging down: sitting
    assert posture(skeleton({13: (-0.15, 1.0), 14: (0.15, 1.0), 15: (-0.15, 1.45), 16: (0.15, 1.45)})) == ["sitting"]
    # the torso horizontal: lying
    lying = skeleton({5: (0.0, 0.0), 6: (0.0, 0.1), 11: (0.6, 0.0), 12: (0.6, 0.1)})
    assert posture(lying) == ["lying"]
    unseen = skeleton()
    unseen[[5, 6], 2] = 0.0
    assert posture(unseen) == []
    # without keypoints: box shape on a 16:9 frame, cut boxes say less
    assert posture_from_box((0.4, 0.3, 0.45, 0.8), 0.0, 16 / 9) == ["standing"]
    assert posture_from_box((0.3, 0.7, 0.6, 0.85), 0.0, 16 / 9) == ["lying"]
    assert posture_from_box((0.2, 0.1, 0.8, 1.0), 0.0, 176 / 144) == ["upright"]


def test_film_language_rules():
    assert [shot_size_from_face(h) for h in (0.7, 0.4, 0.2, 0.1, 0.07, 0.03)] == \
        ["extreme close-up", "close-up", "medium close-up", "medium", "medium full", None]
    assert shot_size_from_subject(0.95, True, False) == "close-up"
    assert shot_size_from_subject(0.7, True, True) == "medium"
    assert shot_size_from_subject(0.7, False, False) == "full"
    assert shot_size_from_subject(0.3, False, True) == "wide"
    assert shot_size_from_subject(0.08, False, False) == "extreme wide"
    assert [composition(x) for x in (0.05, 0.3, 0.5, 0.7, 0.95)] == \
        ["left", "center-left", "center", "center-right", "right"]
    img = np.full((180, 320, 3), 90, np.uint8)
    img[45:, :] = 200  # sky above, ground below: the horizon at a quarter of the height
    y = horizon(img, None)
    assert y == pytest.approx(0.25, abs=0.02) and angle_from_horizon(y) == "high"
    assert angle_from_horizon(0.5) == "level" and angle_from_horizon(0.8) == "low"
    assert horizon(np.full((180, 320, 3), 90, np.uint8), None) is None


def test_film_language_on_the_face_close_up(tmp_path):
    record = caption_video(real_clip("carphone_pristine.mp4"),
                           Settings(conditions=["film_language"], runs_dir=tmp_path))
    assert record.status == "ok", record.problems
    film = record.caption["Film Language"]
    assert film["Shot Size"] == "close-up"
    assert film["Composition"] == "the main subject is framed center"
    anchors = {e["aspect"]: e for e in film["Evidence"]}
    assert anchors["shot size"]["measure"].startswith("a face ") and anchors["shot size"]["region"]
    assert anchors["shot size"]["times"]


def test_a_caption_that_contradicts_the_measured_shot_size_fails_validation(tmp_path, three_objects_clip):
    from agent.run.plugins import load_plugins
    from agent.core.validation import validate

    path, _ = three_objects_clip
    settings = Settings(conditions=["film_language"], runs_dir=tmp_path)
    record = caption_video(path, settings)
    assert record.status == "ok"
    changed = json.loads(json.dumps(record.caption))
    measured = changed["Film Language"]["Shot Size"]
    changed["Film Language"]["Shot Size"] = "extreme close-up"
    plugins = load_plugins()
    _, problems = validate(changed, record.evidence, plugins.validation_checks(settings), plugins.sections)
    assert [str(p) for p in problems] == [
        f"Film Language.Shot Size: says 'extreme close-up' but '{measured}' was measured "
        f"(evidence: {next(a['measure'] for a in changed['Film Language']['Evidence'] if a['aspect'] == 'shot size')})"]


@pytest.mark.neural
def test_depth_with_a_random_depth_anything_and_its_fallback(three_objects_clip, tmp_path):
    pytest.importorskip("transformers", reason="the neural extra is not installed")
    path, _ = three_objects_clip
    neural = caption_video(path, Settings(conditions=["depth"], backend="neural", random_weights=True, device="cpu",
                                          runs_dir=tmp_path / "n"))
    depth = neural.evidence["estimate_depth"]
    assert depth["method"] == "depth model (random weights)"
    ids = set(neural.caption["Structural Description"]["Main Instance"])
    assert set(depth["order"]) == ids and set(depth["order"].values()) <= {"foreground", "middle ground", "background"}
    assert neural.caption["Depth"]["Layout"].endswith(".") and len(depth["frames"]) == 3

    classical = caption_video(path, Settings(conditions=["depth"], runs_dir=tmp_path / "c",
                                             weights_dir=tmp_path / "none"))
    depth = classical.evidence["estimate_depth"]
    assert depth["method"] == "ground contact (no depth model)"
    assert "not in the Hugging Face cache or a local folder and downloads are off" in depth["fallback_reason"]
    assert set(depth["order"]) == set(classical.caption["Structural Description"]["Main Instance"])


@pytest.mark.neural
def test_pose_with_a_random_pose_model(three_objects_clip, tmp_path, monkeypatch, biased_yolo):
    pytest.importorskip("ultralytics", reason="the neural extra is not installed")
    import plugins.pose as pose

    original = pose.load_pose_model

    def biased(settings):  # poses come out of a random model too; the biased detector gives people to pose
        model, label = original(settings)
        return favour_first_class(model), label

    monkeypatch.setattr(pose, "load_pose_model", biased)
    path, _ = three_objects_clip
    record = caption_video(path, Settings(conditions=["pose"], backend="neural", random_weights=True, device="cpu",
                                          sam2_image_size=256, plugins={"pose": {"weights": "yolo11n-pose.pt"}}, runs_dir=tmp_path))
    found = record.evidence["estimate_pose"]
    assert found["method"] == "pose model (yolo11n-pose.yaml (random weights))"
    people = [k for k, v in record.caption["Structural Description"]["Main Instance"].items() if v["Class"] == "person"]
    assert people and set(found["per_frame"]) == set(people)
    assert record.caption["Pose"]["Method"] == found["method"]


def test_output_formats(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    out = tmp_path / "a2c.json"
    result = run_cli("run", str(path), "--format", "any2caption", "-o", str(out), "-q",
                     "--runs-dir", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    a2c = json.loads(out.read_text())
    assert list(a2c) == ["Dense", "Main Object", "Background", "Camera", "Style", "Action"]
    assert all(isinstance(v, str) and v for v in a2c.values())
    assert "pans left" in a2c["Camera"] and a2c["Style"].startswith("Live-action footage")

    dense = run_cli("run", str(path), "--format", "dense", "-q", "--runs-dir", str(tmp_path / "r"))
    assert dense.returncode == 0 and "\n" not in dense.stdout.strip() and len(dense.stdout.split()) > 30

    cine = run_cli("run", str(path), "--format", "cinecap", "-q", "--runs-dir", str(tmp_path / "r"))
    assert cine.returncode == 0, cine.stderr
    cinecap = json.loads(cine.stdout)
    assert cinecap["Caption"]["Shot Size"] and {e["aspect"] for e in cinecap["Evidence"]} >= {"shot size",
                                                                                                "composition"}
    bad = run_cli("run", str(path), "--format", "poem", "--runs-dir", str(tmp_path / "r"))
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: --format poem: not a known format (known: any2caption, cinecap, dense, " \
                                 "instancecap)"


def test_third_party_plugin_package_installs_and_runs(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
                    str(target), str(ROOT / "examples" / "motion-energy-plugin")], check=True, capture_output=True)
    env = {"PYTHONPATH": str(target)}
    listed = json.loads(run_cli("plugins", "--json", env=env).stdout)
    mine = next(p for p in listed if p["name"] == "motion_energy")
    assert mine["source"] == "instance-agent-motion-energy" and mine["tools"] == ["measure_motion_energy"]
    run = run_cli("run", str(path), "--runs-dir", str(tmp_path / "r"), env=env)
    assert run.returncode == 0, run.stderr
    assert "model → measure_motion_energy" in run.stderr
    assert json.loads(run.stdout)["Motion Energy"].startswith("The picture is ")
    command = run_cli("motion-energy", str(path), env=env)
    assert command.returncode == 0 and command.stdout.startswith(f"{path}: ")

    # its condition: --condition takes it, [plugins.motion_rhythm] sets it, flatten reads its section
    rows = {p["name"]: p for p in listed}
    assert rows["motion_rhythm"]["conditions"] == ["motion_rhythm"] and "off" in rows["motion_rhythm"]["status"]
    assert rows["reviewed_caption"]["chat_backends"] == ["reviewed"]
    config = tmp_path / "instance-agent.toml"
    config.write_text("[plugins.motion_rhythm]\nparts = 2\n")
    conditioned = run_cli("run", str(path), "--condition", "motion_rhythm", "--runs-dir", str(tmp_path / "r"), "-q",
                          "-o", str(tmp_path / "rhythm.json"), env={**env, "INSTANCE_AGENT_CONFIG": str(config)})
    assert conditioned.returncode == 0, conditioned.stderr
    rhythm = json.loads(conditioned.stdout)["Motion Rhythm"]
    assert len(rhythm["Parts"]) == 2 and rhythm["Summary"].startswith("The motion is ")
    flat = run_cli("flatten", str(tmp_path / "rhythm.json"), "--json", env=env)
    assert rhythm["Summary"] in json.loads(flat.stdout)["text"]
    config.write_text("[plugins.motion_rhythm]\nparts = 1\n")
    refused = run_cli("run", str(path), "--condition", "motion_rhythm", "--runs-dir", str(tmp_path / "r"),
                      env={**env, "INSTANCE_AGENT_CONFIG": str(config)})
    assert refused.returncode == 2 and "[plugins.motion_rhythm] parts: Input should be greater than or equal to 2" \
        in refused.stderr

    # its chat backend: a reviewed caption goes through validation like a model's
    caption = json.loads(run.stdout)
    (tmp_path / "good.json").write_text(json.dumps(caption))
    reviewed = run_cli("run", str(path), "--llm", f"reviewed:{tmp_path / 'good.json'}", "-q",
                       "--runs-dir", str(tmp_path / "r"), env=env)
    assert reviewed.returncode == 0, reviewed.stderr
    assert json.loads(reviewed.stdout) == caption
    (tmp_path / "broken.json").write_text('{"Video": ')
    broken = run_cli("run", str(path), "--llm", f"reviewed:{tmp_path / 'broken.json'}", "-q",
                     "--runs-dir", str(tmp_path / "r"), env=env)
    assert broken.returncode == 3
    assert f"error: the reviewed caption could not be read: {tmp_path / 'broken.json'}: not JSON" in broken.stderr
