"""Grounded validation: sure evidence binds, unsure evidence advises, nothing unmeasured passes."""

import json

import pytest
from langchain_core.messages import AIMessage

from agent.core.caption import parse_caption
from agent.core import checks, sureness
from agent.core.composer import compose
from agent.core.config import Settings
from agent.core.evidence import Background, CameraMotion, Evidence, Instances, InstanceTrack, VideoMetadata
from agent.core.validation import assess
from agent.core.vocab import cells_named, class_word, english_share, plain_text
from agent.run.plugins import load_plugins
from graphs.grounding import core_measured, field_by_field

MODELS = load_plugins().evidence_models(Settings())  # what the built-in tools declare

ALL = [checks.video_name, checks.instances_match, checks.positions_match, checks.camera_matches,
       checks.background_colours_match,
       checks.colours_match, checks.counts_match, checks.things_match, checks.english, checks.wording]


def tool(model):
    return Evidence({}, MODELS).tools_declaring(model)[0]


def box(x, y, w=0.2, h=0.3):
    return [x - w / 2, y - h / 2, x + w / 2, y + h / 2]


def track(cls="person", cells=((0.5, 0.5),) * 8, gaps=(), binding=True, **kw):
    boxes = [None if k in gaps else box(*c) for k, c in enumerate(cells)]
    return InstanceTrack(id=kw.pop("id", "No.0"), class_name=cls, confidence=0.9, class_binding=binding,
                         class_confidence=kw.pop("class_confidence", 0.9 if binding else 0.4), boxes=boxes,
                         centroids=[None if b is None else list(c) for b, c in zip(boxes, cells)],
                         areas=[0 if b is None else 0.06 for b in boxes], start_cell="center",
                         end_cell=kw.pop("end_cell", "center"), colours=kw.pop("colours", ["black", "dark gray"]),
                         **kw)


def evidence(*tracks, camera=None, texture="richly textured", backend="packaged", also=None):
    cam = camera or CameraMotion(label="static", confidence=1.0, pairs_used=20, pairs_total=20, hint="")
    return Evidence({
        tool(VideoMetadata): VideoMetadata(file_name="a.mp4", duration_s=4, fps=25, frame_count=100, width=640,
                                           height=360, orientation="landscape", rotation=0, codec="h264",
                                           container="mov", has_audio=False, size_bytes=1).model_dump(),
        tool(CameraMotion): cam.model_dump(),
        tool(Instances): Instances(backend=backend, instances=list(tracks), also_seen=also or {}).model_dump(),
        tool(Background): Background(colours=["gray"], brightness="bright", contrast="low", texture=texture).model_dump(),
    }, MODELS)


def caption(cls="man", appearance="A man in a black coat.", position="He stays in the middle of the frame.",
            camera="The camera is static.", glob="A man stands by a wall.", actions="He stands."):
    return {"Video": "a.mp4", "Global Description": glob, "Structural Description": {
        "Main Instance": {"No.0": {"Class": cls, "Appearance": appearance, "Actions and Motion": actions,
                                   "Position": position}},
        "Background Detail": "A gray wall.", "Camera Movement": camera}}


def judged(raw, ev):
    _, problems, advice = assess(raw, ev, ALL)
    return [str(p) for p in problems], [a.disagreement() for a in advice]


# -- sureness ---------------------------------------------------------------------------------------
def test_leaving_the_frame_needs_the_last_samples_not_one_miss():
    one_miss = sureness.instance_rating(track(gaps={7}, leaves_frame=True))
    two_missed = sureness.instance_rating(track(gaps={6, 7}, leaves_frame=True))
    assert one_miss["leaves_frame"] < sureness.SURE <= two_missed["leaves_frame"]
    assert one_miss["end_cell"] < sureness.SURE  # where it ends rests on an earlier sighting


def test_a_position_on_one_sample_is_unsure_and_a_tool_rating_wins():
    once = track(gaps=set(range(1, 8)))
    assert sureness.instance_rating(once)["start_cell"] < sureness.SURE
    rated = once.model_copy(update={"fact_confidence": {"start_cell": 0.95}})
    assert sureness.instance_rating(rated)["start_cell"] == 0.95


def test_a_move_measured_behind_a_large_subject_is_unsure():
    big = track(cells=((0.5, 0.5),) * 8)
    big.boxes = [[0.05, 0.05, 0.95, 0.95]] * 8
    pan = CameraMotion(label="pan left", primitives=["pan left"], confidence=1.0, pairs_used=20, pairs_total=20, hint="")
    assert not sureness.is_sure(sureness.rate(evidence(big, camera=pan)), "camera", "label")
    assert sureness.is_sure(sureness.rate(evidence(track(), camera=pan)), "camera", "label")


# -- sure facts bind, unsure advise ---------------------------------------------------------------------
def test_a_sure_person_rejects_a_dog_and_an_unsure_class_is_advice():
    problems, _ = judged(caption(cls="dog"), evidence(track()))
    assert any("says 'dog'" in p for p in problems)
    problems, advice = judged(caption(cls="van", appearance="A black van.", glob="A van by a wall."), evidence(track("truck", binding=False)))
    assert problems == []
    problems, advice = judged(caption(cls="rabbit", appearance="A black rabbit.", glob="A rabbit by a wall."), evidence(track("car", binding=False)))
    assert problems == [] and advice[0]["measured"] == "car" and advice[0]["said"] == "rabbit"
    assert advice[0]["confidence"] < sureness.SURE


@pytest.mark.parametrize("word, cls", [("hand", "person"), ("young woman", "person"), ("cyclist", "person"),
                                       ("white van", "car"), ("tumbler", "cup"), ("bow tie", "tie")])
def test_words_mean_what_they_mean(word, cls):
    assert class_word(word, cls)


def test_plain_position_words_read_as_cells():
    assert cells_named("He stays in the middle of the frame") == {"center"}
    assert cells_named("near the top right corner") == {"top-right"}
    assert cells_named("on the left") == {"top-left", "middle-left", "bottom-left"}
    assert judged(caption(position="He stays in the middle of the frame."), evidence(track()))[0] == []


def test_an_unsure_end_cell_is_advice_recorded_with_what_the_caption_says():
    moved = track(cells=((0.5, 0.5),) * 7 + ((0.1, 0.5),), gaps={7}, end_cell="middle-left", leaves_frame=True)
    problems, advice = judged(caption(position="He stays at the center of the frame."), evidence(moved))
    assert problems == []
    assert advice and advice[0]["field"].endswith("No.0.Position") and advice[0]["measured"] == "middle-left"


def test_a_sure_static_camera_rejects_a_zoom_but_not_a_shake_and_a_plain_wall_only_advises():
    problems, _ = judged(caption(camera="The camera zooms in slowly."), evidence(track()))
    assert any("zoom in" in p for p in problems)
    shaky = CameraMotion(label="static, shaky", shaky=True, confidence=1.0, pairs_used=20, pairs_total=20, hint="")
    assert judged(caption(camera="The camera is static."), evidence(track(), camera=shaky))[0] == []
    problems, advice = judged(caption(camera="The camera tilts up."), evidence(track(), texture="smooth"))
    assert problems == [] and advice


def test_a_still_label_unsure_of_a_slow_tilt_is_still_sure_there_was_no_zoom():
    """bigbuckbunny: the tilt rate came near its threshold, so 'static' is unsure and 'tilts up slightly'
    is advice; the zoom and pan rates stayed far from theirs, so 'zooms in' and 'pans quickly' are rejected."""
    from tools.camera import absence_ratings

    rates = {"pan": -0.0047, "tilt": 0.0125, "zoom": -0.0004, "roll": 0.037}
    cam = CameraMotion(label="static", confidence=1.0, pairs_used=20, pairs_total=20, hint="", rates=rates,
                       fact_confidence={"label": 0.5, **absence_ratings([], rates, 1.0)})
    ev = evidence(track(), camera=cam)
    problems, advice = judged(caption(camera="The camera tilts up slightly, then holds still."), ev)
    assert problems == [] and any("tilt up" in a for a in map(str, advice))
    for wrong in ("The camera zooms in steadily.", "The camera pans quickly to the right."):
        assert judged(caption(camera=wrong), ev)[0], wrong
    # on a plain wall no move can be ruled out, however small its rate
    assert judged(caption(camera="The camera zooms in steadily."), evidence(track(), camera=cam, texture="smooth"))[0] == []


def test_colours_counts_and_invented_things_against_sure_evidence():
    ev = evidence(track(upper_colours=["black"]))
    assert any("says" in p for p in judged(caption(appearance="A man in a bright orange coat."), ev)[0])
    assert judged(caption(appearance="A man in a dark coat and a red bow tie."), ev)[0] == []
    assert any("counts 3" in p for p in judged(caption(glob="Three people stand by a wall."), ev)[0])
    assert any("'dog'" in p for p in judged(caption(glob="A man walks a dog by a wall."), ev)[0])
    assert judged(caption(glob="A man sits in a car by a wall."), ev)[0] == []


def test_another_language_and_spelling_tricks_do_not_pass():
    assert english_share("Un homme en costume parle dans une voiture.")[1] > 0
    problems, _ = judged(caption(glob="Un homme en costume sombre parle dans une voiture."), evidence(track()))
    assert any("not in English" in p for p in problems)
    assert any("not in English" in p for p in judged(caption(glob="一个男人站在墙边。"), evidence(track()))[0])
    for trick in ("mu\u00adsic", "mu\u200bsic", "ｍｕｓｉｃ"):
        assert plain_text(trick) == "music"
        problems, _ = judged(caption(actions=f"He stands while {trick} plays."), evidence(track()))
        assert any("sound" in p for p in problems)
    assert any("bidirectional" in p for p in judged(caption(actions="He stands.\u202e"), evidence(track()))[0])


# -- nothing unmeasured passes; field-by-field keep -------------------------------------------------
class FakeStep:
    """A measuring step whose tools give what ``supply`` holds."""

    def __init__(self, supply):
        self.measured, self.records, self.supply = {}, [], supply
        self.evidence = Evidence(self.measured, MODELS)

    def require(self, name):
        if name in self.supply:
            self.measured[name] = self.supply[name]
        return self.evidence.get(name)

    def emit(self, *a, **k):
        pass


def test_core_measurements_run_when_the_model_skipped_them_and_a_failed_one_is_missing():
    full = evidence(track())
    step = FakeStep(full)
    assert core_measured(step)[1] == []
    assert set(full) - {tool(Background)} <= set(step.evidence)
    broken = FakeStep({k: v for k, v in full.items() if k != tool(CameraMotion)})
    assert core_measured(broken)[1] == [tool(CameraMotion)]


def test_a_caption_is_kept_field_by_field():
    ev = evidence(track())
    raw = caption(camera="The camera zooms in quickly.", glob="A man in a black coat stands by a wall.")
    messages = [AIMessage(content="", tool_calls=[{"name": "submit_caption", "args": raw, "id": "1", "type": "tool_call"}])]
    composed = compose(ev, "a.mp4").to_dict()
    kept, sources, _ = field_by_field(messages, composed, ev, ALL, "submit_caption")
    assert kept["Global Description"] == raw["Global Description"]
    assert kept["Structural Description"]["Camera Movement"] == composed["Structural Description"]["Camera Movement"]
    assert sources["Structural Description.Camera Movement"] == "composed" and sources["Global Description"] == "model"


def test_the_composer_states_only_sure_facts():
    moved = track(cells=((0.5, 0.5),) * 7 + ((0.1, 0.5),), gaps={7}, end_cell="middle-left", leaves_frame=True,
                  direction="left", motion_speed="steadily", displacement=0.4)
    text = json.dumps(compose(evidence(moved), "a.mp4").to_dict())
    assert "leaves the frame" not in text and "middle-left" not in text
    assert judged(compose(evidence(moved), "a.mp4").to_dict(), evidence(moved))[0] == []


def test_validate_strips_a_byte_order_mark(tmp_path):
    from agent.run.validate import read_items

    path = tmp_path / "c.json"
    path.write_text("\ufeff" + json.dumps(caption()), encoding="utf-8")
    assert read_items(path)[0].data["Video"] == "a.mp4"
    assert parse_caption(read_items(path)[0].data)


def test_an_unsure_name_of_a_sure_kind_binds_the_kind():
    animal = track("animal", binding=False, class_confidence=0.45,
                   class_candidates={"sheep": 0.25, "bird": 0.45, "dog": 0.2, "cat": 0.2})
    ev = evidence(animal)
    assert judged(caption(cls="rabbit", appearance="A black rabbit.", glob="A rabbit by a wall."), ev)[0] == []
    problems, _ = judged(caption(cls="car", appearance="A black car.", glob="A car by a wall."), ev)
    assert any("says 'car'" in p for p in problems)


def test_the_tool_summary_names_the_unsure_facts():
    moved = track(cells=((0.5, 0.5),) * 7 + ((0.1, 0.5),), gaps={7}, end_cell="middle-left", leaves_frame=True)
    ev = evidence(moved)
    note = sureness.note_for(ev, Instances.model_validate(ev[tool(Instances)]))
    assert note.startswith("unsure") and "No.0 end_cell" in note and "No.0 leaves_frame" in note
    assert len(note) < 300


def test_a_still_centroid_with_a_travelling_box_edge_is_not_surely_still():
    rising = track()
    rising.boxes = [[0.3, 0.4 - 0.05 * k, 0.5, 0.9] for k in range(8)]  # it stands up: the top edge rises
    assert sureness.instance_rating(rising)["direction"] < sureness.SURE
    assert sureness.instance_rating(track())["direction"] >= sureness.SURE


def test_unsure_motion_is_neither_a_move_nor_stillness():
    rising = track()
    rising.boxes = [[0.3, 0.4 - 0.05 * k, 0.5, 0.9] for k in range(8)]
    caption_ = compose(evidence(rising), "a.mp4").to_dict()
    text = json.dumps(caption_)
    assert "in view" in text and "stays almost in place" not in text and "stays in front of" not in text
    assert judged(caption_, evidence(rising))[0] == []


def test_a_background_in_colours_none_of_which_were_measured_is_rejected():
    ev = evidence(track())  # the background was measured gray
    raw = caption()
    raw["Structural Description"]["Background Detail"] = "A sandy yellow beach under a bright blue sky."
    assert any("Background Detail: says" in p for p in judged(raw, ev)[0] + [str(p) for p in
               checks.background_colours_match(parse_caption(raw), ev)])
    raw["Structural Description"]["Background Detail"] = "A pale gray wall with a blue door."
    assert checks.background_colours_match(parse_caption(raw), ev) == []


def test_the_composer_names_no_camera_move_it_is_unsure_of():
    sure = CameraMotion(label="pan left", primitives=["pan left"], speed="steadily", confidence=1.0,
                        pairs_used=20, pairs_total=20, hint="")
    unsure = sure.model_copy(update={"fact_confidence": {"label": 0.4}})  # the estimator doubts its own label
    said = compose(evidence(track(), camera=sure), "a.mp4").structural.camera_movement
    assert "pans left" in said
    doubted = compose(evidence(track(), camera=unsure), "a.mp4")
    assert doubted.structural.camera_movement == "The camera movement cannot be measured clearly."
    assert "pan" not in doubted.global_description


def test_a_count_may_be_of_the_main_instances_or_of_all_in_view():
    cars = [track("car", id=f"No.{k}") for k in range(3)]
    ev = evidence(*cars, also={"car": 3})  # three main cars, three more parked
    main = caption(cls="car", glob="Three cars move across a street.", actions="The car drives.",
                   appearance="A car.", position="It stays in the middle of the frame.")
    assert not [p for p in judged(main, ev)[0] if "counts" in p]
    assert not [p for p in judged({**main, "Global Description": "Six cars are on a street."}, ev)[0] if "counts" in p]
    assert [p for p in judged({**main, "Global Description": "Nine cars are on a street."}, ev)[0] if "counts 9" in p]
    assert [p for p in judged({**main, "Global Description": "One car is on a street."}, ev)[0] if "counts 1" in p]


def test_people_counted_in_one_sentence_add_up():
    """bikes: two people seen; "three men ride, a cyclist waits" names four, "a man rides, a cyclist waits" two."""
    ev = evidence(track(), track(id="No.1"))
    four = caption(glob="Three men in suits ride through traffic, a helmeted cyclist waits at the kerb.")
    assert [p for p in judged(four, ev)[0] if "counts 4" in p]
    two = caption(glob="A man in a suit rides through traffic, a helmeted cyclist waits at the kerb.")
    assert not [p for p in judged(two, ev)[0] if "counts" in p]
    three = caption(glob="Two men talk while a woman walks past.")  # one more than seen: not refuted
    assert not [p for p in judged(three, ev)[0] if "counts" in p]


def test_a_colour_seen_nowhere_on_a_thing_is_wrong_even_where_its_main_colours_are_unsure():
    """bikes: the car close up, its colours unsure (its mask takes in the traffic around it); a green
    in view is advice, but a bright red and orange car was seen nowhere in its samples."""
    car = track("car", colours=["dark gray", "gray"], colours_in_view=["dark gray", "gray", "black", "green"],
                fact_confidence={"colours": 0.4})
    ev = evidence(car)
    said = lambda text: caption(cls="car", appearance=text, glob="A car.", actions="It stands.")  # noqa: E731
    problems, advice = judged(said("A bright red car with an orange roof."), ev)
    assert any("Appearance" in p for p in problems)
    problems, advice = judged(said("A green car."), ev)
    assert not any("Appearance" in p for p in problems) and advice
    assert not judged(said("A dark gray car."), ev)[0]


def test_colours_in_view_name_what_covers_the_mask_at_all():
    import numpy as np

    from tools.colors import colours_present

    pixels = np.concatenate([np.full((90, 3), (40, 40, 200), np.uint8), np.full((10, 3), (30, 160, 30), np.uint8)])
    present = colours_present(pixels)
    assert present[0] == "red" and any("green" in n for n in present) and len(present) == 2
