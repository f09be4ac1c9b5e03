"""Conditions the user supplies (Any2Caption): camera paths and pose sequences, generated with known truth."""

from __future__ import annotations



import numpy as np
import pytest

from agent.core.errors import InputError
from agent.core.evidence import Evidence
from conditions_gen import MOTIONS, path, write_json, write_realestate
from plugins.camera_path import decompose, read_camera_path

PRIMITIVES = [m for m in MOTIONS if m != "static"] + ["orbit left", "orbit right"]
COMPOSITIONS = [
    ([(["dolly in"], 2), (["pan left"], 2)], "dolly in then pan left"),
    ([(["pan right"], 2), (["tilt up"], 2)], "pan right then tilt up"),
    ([(["static"], 1.5), (["dolly in"], 2)], "static then dolly in"),
    ([(["truck left"], 2), (["truck right"], 2)], "truck left then truck right"),
    ([(["dolly out", "zoom in"], 3)], "dolly out, zoom in"),  # the dolly zoom
    ([(["pan right", "tilt down"], 3)], "pan right, tilt down"),
    ([(["truck right", "pedestal up"], 3)], "truck right, pedestal up"),
    ([(["dolly in", "roll clockwise"], 3)], "roll clockwise, dolly in"),
    ([(["orbit left"], 2), (["static"], 1.5)], "orbit left then static"),
    ([(["zoom out"], 2), (["pan left"], 2), (["tilt down"], 2)], "zoom out then pan left then tilt down"),
]


def _project(c2w, point, f=1.0):
    """Pixel-plane (x right, y down) of a world point seen by an OpenCV camera."""
    p = np.linalg.inv(c2w) @ np.append(point, 1.0)
    return f * p[:2] / p[2]


@pytest.mark.parametrize("name,axis,sign", [
    ("pan right", 0, -1), ("pan left", 0, 1), ("tilt up", 1, 1), ("tilt down", 1, -1),
    ("truck right", 0, -1), ("truck left", 0, 1), ("pedestal up", 1, 1), ("pedestal down", 1, -1),
])
def test_generated_paths_move_the_picture_the_known_way(name, axis, sign):
    """The generator's conventions, checked by projection: panning right moves the scene left on screen,
    tilting up moves it down, and so on; independent of the reader's maths."""
    _, c2w, _ = path([([name], 1)])
    ahead = c2w[0][:3, :3] @ np.array([0, 0, 4.0]) + c2w[0][:3, 3]
    moved = _project(c2w[-1], ahead) - _project(c2w[0], ahead)
    assert np.sign(moved[axis]) == sign and abs(moved[axis]) > 0.05


def test_roll_clockwise_turns_the_picture_counterclockwise():
    _, c2w, _ = path([(["roll clockwise"], 1)])
    right = c2w[0][:3, :3] @ np.array([1.0, 0, 4.0]) + c2w[0][:3, 3]
    x, y = _project(c2w[-1], right)
    assert y < -0.01  # a point right of centre rises on screen (y down): counterclockwise on screen


@pytest.mark.parametrize("name", PRIMITIVES + ["static"])
@pytest.mark.parametrize("fmt", ["realestate", "json"])
def test_every_primitive_in_both_formats(tmp_path, name, fmt):
    t, m, f = path([([] if name == "static" else [name], 3)])
    file = tmp_path / ("p.txt" if fmt == "realestate" else "p.json")
    (write_realestate if fmt == "realestate" else write_json)(file, t, m, f)
    ev = read_camera_path(file)
    assert ev.label == name
    assert ev.frames == len(m) and abs(ev.duration_s - 3) < 0.05
    if name != "static":
        verb = {"pan": "pans", "tilt": "tilts", "truck": "trucks", "pedestal": "pedestals", "dolly": "dollies",
                "zoom": "zooms", "roll": "rolls", "orbit": "orbits"}[name.split()[0]]
        assert f"{verb} {name.split(' ', 1)[1]}" in ev.sentence


def test_plain_json_list_without_focal(tmp_path):
    t, m, f = path([(["pan left"], 2)])
    file = tmp_path / "list.json"
    write_json(file, t, m, f, wrapped=False)
    ev = read_camera_path(file)
    assert ev.label == "pan left" and ev.format == "json camera-to-world"


def test_two_phases_are_named_in_order():
    ev = decompose(*path([(["dolly in"], 2), (["pan left"], 2)]))
    assert [p.primitives for p in ev.phases] == [["dolly in"], ["pan left"]]
    assert "dollies in, then" in ev.sentence and ev.sentence.endswith("pans left.")
    assert abs(ev.phases[0].end_s - 2) < 0.2


def test_speed_words_follow_the_rate():
    slow = decompose(*path([(["pan left"], 3)], fps=30))
    assert slow.phases[0].speeds["pan left"] == "steadily"  # 20 degrees a second
    from conditions_gen import D, ry
    import conditions_gen as g

    old = g.MOTIONS["pan left"]
    try:
        g.MOTIONS["pan left"] = (lambda dt: ry(-D(4) * dt), (0, 0, 0), 0.0)
        assert decompose(*path([(["pan left"], 3)])).phases[0].speeds["pan left"] == "slowly"
        g.MOTIONS["pan left"] = (lambda dt: ry(-D(60) * dt), (0, 0, 0), 0.0)
        assert decompose(*path([(["pan left"], 3)])).phases[0].speeds["pan left"] == "quickly"
    finally:
        g.MOTIONS["pan left"] = old


def camera_accuracy(noise: float = 0.0, fps: float = 30.0, seed: int = 0) -> tuple[int, int, list]:
    """Exact-label accuracy over every primitive, static and the compositions; ``noise``: jitter of about
    0.06 degrees and 1e-4 units per frame per unit."""
    cases = [([([] if p == "static" else [p], 3)], p) for p in PRIMITIVES + ["static"]] + COMPOSITIONS
    wrong = []
    for k, (segments, truth) in enumerate(cases):
        got = decompose(*path(segments, fps=fps, noise=noise, seed=100 * seed + k)).label
        if got != truth:
            wrong.append((truth, got))
    return len(cases) - len(wrong), len(cases), wrong


@pytest.mark.parametrize("noise,fps,seed", [(0.0, 30, 0), (0.0, 10, 0), (1.0, 30, 0), (1.0, 30, 1), (3.0, 30, 2)])
def test_camera_word_accuracy_on_primitives_and_compositions(noise, fps, seed):
    right, total, wrong = camera_accuracy(noise, fps, seed)
    assert right / total >= 0.95, wrong


@pytest.mark.parametrize("content,needle", [
    ("url\n0 0.5 0.9 0.5 0.5 0 0 1 0 0 0\n", "line 2 has 11 values"),
    ("url\n0 0.5 0.9 0.5 0.5 0 0 1 0 0 0 0 1 0 0 0 0 1 0\n33366 0.5 0.9 0.5 0.5 0 0 x 0 0 0 0 1 0 0 0 0 1 0\n",
     "line 3 has a value that is not a number"),
    ("url\n0 0.5 0.9 0.5 0.5 0 0 2 0 0 0 0 1 0 0 0 0 1 0\n33366 0.5 0.9 0.5 0.5 0 0 1 0 0 0 0 1 0 0 0 0 1 0\n",
     "line 2: the rotation is not orthonormal"),
    ("[[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]]", "at least two poses"),
    ("[[1,2,3], [4]]", "pose 0 is not a 4x4"),
    ('{"poses": [', "not valid JSON"),
])
def test_bad_camera_paths_say_one_line(tmp_path, content, needle):
    file = tmp_path / "bad.txt"
    file.write_text(content)
    with pytest.raises(InputError) as e:
        read_camera_path(file)
    assert needle in e.value.message and "\n" not in e.value.message


def test_missing_camera_path(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_camera_path(tmp_path / "nope.txt")


def test_camera_path_reader_is_registered_as_a_plugin():
    from agent.run.plugins import load_plugins

    assert load_plugins().condition_readers()["camera_path"] is read_camera_path


# -- pose sequences ---------------------------------------------------------------------------------
import json  # noqa: E402

from conditions_gen import COCO_FROM_BODY25, pose_sequence, to_openpose_body25  # noqa: E402
from plugins.pose_sequence import read_pose_sequence  # noqa: E402

POSE_TRUTH = {"walk_right": "walks to the right", "walk_left": "walks to the left", "stand": "stands",
              "arms_up": "stands with both arms raised", "raise_arms": "raises both arms",
              "run_right": "runs to the right"}


def _write(tmp_path, name, data):
    f = tmp_path / name
    f.write_text(json.dumps(data))
    return f


@pytest.mark.parametrize("kind", list(POSE_TRUTH))
def test_pose_sequence_actions(tmp_path, kind):
    ev = read_pose_sequence(_write(tmp_path, "p.json", pose_sequence(kind, seconds=2 if kind == "run_right" else 3)))
    assert [p.action for p in ev.people] == [POSE_TRUTH[kind]]
    assert ev.format == "coco17 json" and ev.frames > 0


def test_static_person_with_raised_arms_has_that_posture(tmp_path):
    ev = read_pose_sequence(_write(tmp_path, "p.json", pose_sequence("arms_up")))
    person = ev.people[0]
    assert person.posture == "arms raised, standing" and person.arms == "both arms raised"
    assert person.speed_body_heights_per_s == 0.0


def test_raising_the_arms_shows_as_two_posture_phases(tmp_path):
    ev = read_pose_sequence(_write(tmp_path, "p.json", pose_sequence("raise_arms")))
    assert [p.posture for p in ev.people[0].postures] == ["standing", "arms raised, standing"]


def test_openpose_folder_body25(tmp_path):
    folder = tmp_path / "op"
    folder.mkdir()
    for k, doc in enumerate(to_openpose_body25(pose_sequence("walk_left"))):
        (folder / f"clip_{k:012d}_keypoints.json").write_text(json.dumps(doc))
    ev = read_pose_sequence(folder)
    assert ev.format == "openpose folder" and [p.action for p in ev.people] == ["walks to the left"]


def test_openpose_list_coco18_two_people_keep_their_ids(tmp_path):
    # COCO-18: OpenPose's older model; BODY_25's first 15 indices but without MidHip at 8
    body25_to_18 = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 9: 8, 10: 9, 11: 10, 12: 11, 13: 12, 14: 13,
                    15: 14, 16: 15, 17: 16, 18: 17}
    walk, stand = to_openpose_body25(pose_sequence("walk_right")), to_openpose_body25(pose_sequence("arms_up"))
    docs = []
    for a, b in zip(walk, stand):
        people = []
        for doc in (b, a) if len(docs) % 2 else (a, b):  # the order within a frame changes
            flat = doc["people"][0]["pose_keypoints_2d"]
            out = [0.0] * 54
            for i25, i18 in body25_to_18.items():
                out[3 * i18: 3 * i18 + 3] = flat[3 * i25: 3 * i25 + 3]
            people.append({"pose_keypoints_2d": out})
        docs.append({"people": people})
    ev = read_pose_sequence(_write(tmp_path, "op.json", {"fps": 10, "frames": docs}))
    assert sorted(p.action for p in ev.people) == ["stands with both arms raised", "walks to the right"]
    assert ev.format == "openpose list" and all(p.frames_seen == 30 for p in ev.people)
    assert len(COCO_FROM_BODY25) == 17


def test_pose_action_accuracy():
    import tempfile
    from pathlib import Path

    right = 0
    with tempfile.TemporaryDirectory() as d:
        for k, (kind, truth) in enumerate(POSE_TRUTH.items()):
            f = Path(d) / f"{k}.json"
            f.write_text(json.dumps(pose_sequence(kind, seconds=2 if kind == "run_right" else 3)))
            right += read_pose_sequence(f).people[0].action == truth
    assert right / len(POSE_TRUTH) >= 0.9


@pytest.mark.parametrize("data,needle", [
    ({"fps": 10, "frames": [{"people": []}, {"people": []}]}, "no people in any frame"),
    ({"fps": 10, "frames": [{"people": [{"id": 1, "keypoints": [[0, 0, 0]] * 17}]}]}, "keypoints missing"),
    ({"fps": 10, "frames": [{"people": [{"id": 1, "keypoints": [[0, 0, 1]] * 12}]}]}, "12 keypoints"),
    ({"fps": 10, "frames": [{"nobody": 1}]}, "frame 0 has no 'people' list"),
    ({"fps": -1, "frames": [{"people": []}]}, "fps must be a positive"),
    ([], "expected a list of frames"),
])
def test_bad_pose_files_say_one_line(tmp_path, data, needle):
    with pytest.raises(InputError) as e:
        read_pose_sequence(_write(tmp_path, "bad.json", data))
    assert needle in e.value.message and "\n" not in e.value.message


def test_pose_file_not_json(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text("{nope")
    with pytest.raises(InputError, match="not valid JSON"):
        read_pose_sequence(f)


# -- the command ------------------------------------------------------------------------------------
def test_conditions_command_prints_what_they_determine(tmp_path, capsys):
    from agent.cli.main import main

    cam = tmp_path / "cam.txt"
    write_realestate(cam, *path([(["dolly in"], 2), (["pan left"], 2)]))
    pose = _write(tmp_path, "pose.json", pose_sequence("walk_left"))
    assert main(["conditions", "--camera-path", str(cam), "--pose", str(pose)]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["conditions"]["camera_path"]["label"] == "dolly in then pan left"
    assert report["determined"]["Structural Description.Camera Movement"] == \
        "The camera quickly dollies in, then steadily pans left."
    assert report["determined"]["Structural Description.Main Instance.pose 1.Actions and Motion"] == \
        "The person walks to the left."
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("needs a model: Global Description")
    assert "Main Instance.pose 1.Appearance" in lines[0] and "Camera Movement" not in lines[0]


def test_conditions_command_camera_only_still_needs_the_instances(tmp_path, capsys):
    from agent.cli.main import main

    cam = tmp_path / "cam.json"
    write_json(cam, *path([(["orbit right"], 2)]))
    assert main(["conditions", "--camera-path", str(cam)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["conditions"]["camera_path"]["primitives"] == ["orbit right"]
    assert "Main Instance (which instances" in err


@pytest.mark.parametrize("args,needle", [
    (["--camera-path", "BAD"], "line 2 has 3 values"),
    (["--pose", "BADPOSE"], "no people in any frame"),
    (["--camera-path", "MISSING"], "cannot read"),
    ([], "give at least one of --camera-path, --pose"),
])
def test_conditions_command_bad_files_exit_2_with_one_line(tmp_path, capsys, args, needle):
    from agent.cli.main import main

    (tmp_path / "bad.txt").write_text("url\n1 2 3\n")
    _write(tmp_path, "badpose.json", {"frames": [{"people": []}]})
    names = {"BAD": tmp_path / "bad.txt", "BADPOSE": tmp_path / "badpose.json", "MISSING": tmp_path / "none.txt"}
    argv = ["conditions"] + [str(names.get(a, a)) for a in args]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and needle in err


# -- enhance with conditions --------------------------------------------------------------------------
def _caption(camera: str, action: str = "The man walks to the left along the pavement.", cls: str = "man") -> dict:
    return {"Video": "prompt: x", "Global Description": "A man walks down a street.",
            "Structural Description": {
                "Main Instance": {"No.0": {"Class": cls, "Appearance": "A man in a grey coat.",
                                           "Actions and Motion": action, "Position": "The man is at the center."}},
                "Background Detail": "A street of brick houses.", "Camera Movement": camera}}


@pytest.mark.parametrize("segments,camera,ok", [
    ([(["dolly in"], 2), (["pan left"], 2)], "The camera dollies in, then pans left.", True),
    ([(["dolly in"], 2), (["pan left"], 2)], "The camera zooms in, then pans left.", False),  # zoom for dolly
    ([(["pan left"], 3)], "The camera trucks left.", False),  # truck for pan
    ([(["pan left"], 3)], "The camera pans right slowly.", False),
    ([(["truck right"], 3)], "The camera trucks right past the houses.", True),
    ([(["zoom out"], 3)], "The camera slowly zooms out.", True),
    ([(["zoom out"], 3)], "The camera pulls back from the man.", False),  # a dolly out for a zoom out
    ([(["static"], 3)], "The camera is static.", True),
    ([(["static"], 3)], "The camera pans left.", False),
    ([(["orbit right"], 3)], "The camera orbits right around the man.", True),
    ([(["roll clockwise"], 3)], "The camera rolls counterclockwise.", False),
    ([(["tilt up"], 3)], "The camera tilts up.", True),
])
def test_camera_sentence_is_held_to_the_path(segments, camera, ok):
    from agent.core.validation import validate
    from plugins.conditions import camera_path_matches

    ev = Evidence({"camera_path": decompose(*path(segments))})
    caption, problems = validate(_caption(camera), ev, [camera_path_matches])
    assert caption is not None and (problems == []) == ok, problems


def test_actions_are_held_to_the_poses(tmp_path):
    from agent.core.validation import validate
    from plugins.conditions import pose_actions_match

    ev = Evidence({"pose": read_pose_sequence(_write(tmp_path, "p.json", pose_sequence("walk_left")))})
    assert validate(_caption("The camera is static."), ev, [pose_actions_match])[1] == []
    _, problems = validate(_caption("The camera is static.", "The man walks to the right."), ev, [pose_actions_match])
    assert problems and "walks to the left" in str(problems[0])
    _, problems = validate(_caption("The camera is static.", "The dog sits.", cls="dog"), ev, [pose_actions_match])
    assert problems and "has no person" in str(problems[0])


def test_enhance_with_conditions_through_the_scripted_server(tmp_path):
    from agent.core.config import Settings
    from agent.run.enhance import enhance_prompt
    from openai_server import ScriptedOpenAI, reply

    cam = tmp_path / "cam.txt"
    write_realestate(cam, *path([(["dolly in"], 2), (["pan left"], 2)]))
    pose = _write(tmp_path, "pose.json", pose_sequence("walk_left"))
    from agent.run.plugins import load_plugins

    conditions = load_plugins().read_conditions({"camera_path": str(cam), "pose": str(pose)})
    details = {"No.0": {"Appearance": "A man in a grey coat.", "Actions and Motion": "The man walks to the left.",
                        "Position": "The man is at the center."}}
    wrong = json.dumps({"Background Detail": "A street of brick houses.", "Camera Movement": "The camera zooms in."})
    fixed = json.dumps(_caption("The camera quickly dollies in, then steadily pans left."))
    script = [reply("A man walks left down a brick street as the camera moves in and turns."),
              reply('{"instances": [{"name": "man", "class": "man"}]}'), reply(json.dumps(details)),
              reply(wrong), reply(fixed)]
    with ScriptedOpenAI(script) as server:
        result = enhance_prompt("a man walks down a street", Settings(llm="scripted", base_url=server.base_url,
                                                                      runs_dir=tmp_path), conditions)
    assert server.left == 0 and result.calls == 5 and result.repairs == 1 and result.problems == []
    prompts = [r["messages"][-1]["content"] for r in server.requests]
    assert "dollies in, then steadily pans left" in prompts[0] and "walks to the left" in prompts[2]
    repair = prompts[-1]
    assert "does not describe the path's 'dolly in'" in repair and "'zoom in', which the camera path does not have" in repair
    assert result.caption["Structural Description"]["Camera Movement"].startswith("The camera quickly dollies in")


def test_enhance_with_a_bad_camera_path_exits_2_before_any_model(tmp_path, capsys):
    from agent.cli.main import main

    (tmp_path / "bad.txt").write_text("url\n0 0.5 0.9 0.5 0.5 0 0 2 0 0 0 0 1 0 0 0 0 1 0\n")
    assert main(["enhance", "a man walks", "--llm", "offline", "--camera-path", str(tmp_path / "bad.txt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 2: the rotation is not orthonormal" in err[0]
