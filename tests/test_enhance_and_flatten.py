"""The enhancer through the scripted OpenAI-compatible server, and flattening captions of several sizes."""

import json

import pytest

from agent.core.config import Settings
from agent.run.enhance import enhance_prompt
from agent.core.errors import BackendError
from agent.core.flatten import flatten, make_counter, units
from agent.run.plugins import load_plugins
from conftest import run_cli
from openai_server import ScriptedOpenAI, reply

SECTIONS = load_plugins().sections  # the built-in plugins' caption sections: Film Language reads as a sentence

SCENE = ("Two grey wolves chase a white rabbit across a snowy field in soft morning light. The wolves run from "
         "the left side of the frame towards the center while the rabbit darts to the right. Pine trees stand "
         "at the back under a pale sky. The camera follows them with a slow pan to the right.")
INSTANCES = '```json\n{"instances": [{"name": "wolf on the left", "class": "wolf"}, {"name": "wolf behind it", ' \
            '"class": "wolf"}, {"name": "white rabbit", "class": "rabbit"}]}\n```'
DETAILS = json.dumps({
    f"No.{k}": {"Appearance": a, "Actions and Motion": m, "Position": p} for k, (a, m, p) in enumerate([
        ("A large grey wolf with a thick coat and a pale belly.", "The wolf runs forward with long strides.",
         "wolf moves from the middle-left to the center."),
        ("A smaller grey wolf with darker fur along its back.", "The wolf follows the first one at a steady run.",
         "wolf moves from the bottom-left to the bottom-middle."),
        ("A small white rabbit with long ears.", "The rabbit darts ahead and changes direction twice.",
         "rabbit moves from the center to the middle-right."),
    ])})
SCENE_JSON = json.dumps({"Background Detail": "A snowy field with pine trees and the howling wind under a pale sky.",
                         "Camera Movement": "The camera pans slowly to the right."})


def fixed_caption(name: str) -> str:
    details = json.loads(DETAILS)
    return json.dumps({"Video": name, "Global Description": "Two grey wolves chase a white rabbit across a snowy field.",
                       "Structural Description": {
                           "Main Instance": {k: {"Class": c, **v} for (k, v), c in zip(details.items(),
                                                                                       ["wolf", "wolf", "rabbit"])},
                           "Background Detail": "A snowy field with pine trees under a pale sky.",
                           "Camera Movement": "The camera pans slowly to the right."}})


def test_enhance_builds_a_valid_caption_and_repairs_wording(tmp_path):
    prompt = "two wolves hunt a rabbit in the snow"
    script = [reply(SCENE), reply(INSTANCES), reply(DETAILS), reply(SCENE_JSON),
              reply(fixed_caption("anything"))]
    with ScriptedOpenAI(script) as server:
        result = enhance_prompt(prompt, Settings(llm="scripted", base_url=server.base_url, runs_dir=tmp_path))
    assert server.left == 0
    assert result.calls == 5 and result.repairs == 1 and result.problems == []
    caption = result.caption
    assert caption["Video"] == "prompt: two wolves hunt a rabbit in the snow"
    assert [v["Class"] for v in caption["Structural Description"]["Main Instance"].values()] == ["wolf", "wolf", "rabbit"]
    repair_request = server.requests[-1]["messages"][-1]["content"]
    assert "howling" in repair_request and "sound" in repair_request  # the lexicon problem went back to the model
    out = tmp_path / "c.json"
    out.write_text(json.dumps(caption))
    assert run_cli("validate", str(out)).returncode == 0


def test_a_sentence_the_repairs_kept_breaking_a_rule_is_left_out(tmp_path):
    """A small model kept "noise" in a Background Detail through both repairs: the caption says less instead."""
    stubborn = json.loads(fixed_caption("anything"))
    stubborn["Structural Description"]["Background Detail"] = ("A snowy field with pine trees under a pale sky. "
                                                               "The howling wind carries the snow.")
    script = [reply(SCENE), reply(INSTANCES), reply(DETAILS), reply(SCENE_JSON), reply(json.dumps(stubborn))]
    with ScriptedOpenAI(script) as server:
        result = enhance_prompt("two wolves hunt a rabbit", Settings(llm="scripted", base_url=server.base_url,
                                                                     max_repairs=1))
    assert server.left == 0 and result.repairs == 1 and result.problems == []
    assert result.caption["Structural Description"]["Background Detail"] == "A snowy field with pine trees under a pale sky."
    assert result.left_out == ["Background Detail: The howling wind carries the snow."]
    # a field made of one forbidden sentence is not emptied: the caption stays invalid and says why
    stubborn["Structural Description"]["Background Detail"] = "The howling wind carries the snow."
    script = [reply(SCENE), reply(INSTANCES), reply(DETAILS), reply(SCENE_JSON), reply(json.dumps(stubborn))]
    with ScriptedOpenAI(script) as server:
        result = enhance_prompt("two wolves hunt a rabbit", Settings(llm="scripted", base_url=server.base_url,
                                                                     max_repairs=1))
    assert result.left_out == [] and any("howling" in p for p in result.problems)


def test_enhance_with_unusable_replies_and_without_a_model(tmp_path):
    with ScriptedOpenAI([reply(SCENE), reply("Sure! The wolves and the rabbit.")]) as server:
        with pytest.raises(BackendError, match=r"enhance: the model's reply was not usable \(expected JSON, got: Sure"):
            enhance_prompt("wolves", Settings(llm="scripted", base_url=server.base_url))
    result = run_cli("enhance", "two wolves hunt a rabbit", env={"INSTANCE_AGENT_LLM": "offline"})
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: enhance needs a language model: give --llm openai:MODEL")


def caption_of(size: str) -> dict:
    n = {"small": 1, "large": 3}[size]
    long = " ".join(["The light falls evenly over the scene."] * (1 if size == "small" else 4))
    return {
        "Video": "clip.mp4",
        "Global Description": "A person in a red coat walks a brown dog along a wet city street at dusk.",
        "Structural Description": {
            "Main Instance": {f"No.{k}": {
                "Class": "person" if k == 0 else "dog",
                "Appearance": f"Instance {k} wears a long red coat over dark trousers and white shoes with laces.",
                "Actions and Motion": f"Instance {k} walks forward at a steady pace and turns its head to the left.",
                "Position": f"instance {k} moves from the middle-left to the center.",
            } for k in range(n)},
            "Background Detail": "A wet street with shop windows and parked cars. " + long,
            "Camera Movement": "The camera tracks slowly to the right."},
        "Film Language": {"Shot Size": "wide", "Camera Angle": "eye level", "Composition": "center",
                          "Depth of Field": "deep", "Special Shots": "none", "Camera Movement": "pan right",
                          "Evidence": []},
    }


def test_flatten_keeps_small_captions_whole():
    result = flatten(caption_of("small"), 226, sections=SECTIONS)
    assert result.dropped == [] and result.truncated == []
    assert result.tokens <= 226 and result.counted_with.startswith("estimated")
    assert result.text.startswith("A person in a red coat") and "It is a wide shot." in result.text


def test_flatten_drops_the_least_important_first_and_is_deterministic():
    caption = caption_of("large")
    result = flatten(caption, 120, sections=SECTIONS)
    assert result.tokens <= 120
    ranks = {u.label: u.rank for u in units(caption, SECTIONS)}
    dropped_ranks = [ranks[label] for label in result.dropped]
    assert dropped_ranks == sorted(dropped_ranks, reverse=True)  # never a more important one before a lesser
    assert all(f"No.{k} Position" in result.dropped for k in range(3))
    assert "No.0 Appearance" not in result.dropped and "Camera Movement" not in result.dropped
    assert flatten(caption, 120, sections=SECTIONS) == result
    tiny = flatten(caption, 12, sections=SECTIONS)
    assert tiny.truncated == ["Global Description"] and tiny.tokens <= 12 and tiny.text.endswith("…")


def test_flatten_counts_with_a_real_tokenizer_when_one_is_there(tmp_path):
    tokenizers = pytest.importorskip("tokenizers", reason="the tokenizers package is not installed")
    from transformers import PreTrainedTokenizerFast

    caption = caption_of("large")
    words = sorted({w for u in units(caption, SECTIONS) for w in u.text.replace(".", " .").replace(",", " ,").split()})
    model = tokenizers.models.WordLevel({w: i for i, w in enumerate(["[UNK]", *words])}, unk_token="[UNK]")
    tok = tokenizers.Tokenizer(model)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    folder = tmp_path / "tok"
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(str(folder))
    counter, how = make_counter(str(folder))
    assert how == f"counted with the {folder} tokenizer"
    result = flatten(caption, 60, counter, how, SECTIONS)
    assert result.tokens == len(result.text.replace(".", " .").replace(",", " ,").split()) <= 60
    out = tmp_path / "c.json"
    out.write_text(json.dumps(caption))
    cli = run_cli("flatten", str(out), "--max-tokens", "60", "--tokenizer", str(folder), "--json")
    assert cli.returncode == 0
    shown = json.loads(cli.stdout)
    assert shown["text"] == result.text and shown["dropped"] == result.dropped and shown["counted_with"] == how
