"""validate: the schema and the wording rules by default, the evidence with a run; every output format we write."""

import json
from pathlib import Path

import pytest

from conftest import run_cli

CLEAN = {"Video": "a.mp4", "Global Description": "A red car drives along a street.",
         "Structural Description": {"Main Instance": {"No.0": {
             "Class": "car", "Appearance": "A red car with dark windows.",
             "Actions and Motion": "The car drives from left to right.",
             "Position": "car moves from middle-left to middle-right."}},
             "Background Detail": "A grey street with buildings.", "Camera Movement": "The camera is static."}}


@pytest.fixture(scope="module")
def cinecap_run(three_objects_clip, tmp_path_factory):
    """One run with the film-language condition, written as cinecap (-o); its record and folder."""
    path, _ = three_objects_clip
    root = tmp_path_factory.mktemp("validate")
    out = root / "cinecap.json"
    res = run_cli("run", str(path), "-q", "--condition", "film_language", "--format", "cinecap", "-o", str(out),
                  "--runs-dir", str(root / "runs"))
    assert res.returncode == 0, res.stderr
    record_path = next((root / "runs").glob("three-*/record.json"))
    return root, out, json.loads(record_path.read_text()), record_path.parent


def test_wording_rules_are_checked_by_default_one_line_each(tmp_path):
    bad = json.loads(json.dumps(CLEAN))
    bad["Global Description"] = ("At 00:03 a red car, like a rocket, roars loudly down the street; "
                                 "the driver is probably late.")
    f = tmp_path / "caption.json"
    f.write_text(json.dumps(bad))
    res = run_cli("validate", str(f))
    assert res.returncode == 1, res.stdout + res.stderr
    lines = res.stdout.strip().splitlines()
    assert len(lines) >= 4 and all(line.startswith(f"{f}: Global Description: ") for line in lines)
    assert all(line.count(f.name) == 1 for line in lines)  # the file named once
    text = "\n".join(lines)
    for kind in ("sound", "timestamp", "metaphor", "speculation"):
        assert kind in text, text
    assert "1 of 1 caption(s) invalid" in res.stderr
    schema_only = run_cli("validate", str(f), "--no-wording")
    assert schema_only.returncode == 0 and "checked schema)" in schema_only.stderr
    f.write_text(json.dumps(CLEAN))
    assert run_cli("validate", str(f)).returncode == 0


def test_every_output_format_we_write_is_read(cinecap_run, three_objects_clip, tmp_path):
    from agent.core.config import Settings
    from agent.core.evidence import Evidence
    from agent.run.plugins import load_plugins
    from plugins.formats import any2caption

    plugins = load_plugins()
    sections = plugins.sections  # the film-language section reads as its plugin says, as in a run

    root, cinecap, record, _ = cinecap_run
    assert set(json.loads(cinecap.read_text())) == {"Video", "Evidence", "Caption", "Text"}
    res = run_cli("validate", str(cinecap))
    assert res.returncode == 0, res.stdout + res.stderr
    a2c = tmp_path / "any2caption.json"
    a2c.write_text(json.dumps(any2caption(record["caption"], Evidence(record["evidence"], plugins.evidence_models(Settings())), sections)))
    res = run_cli("validate", str(a2c))
    assert res.returncode == 0, res.stdout + res.stderr
    broken = tmp_path / "broken-a2c.json"
    broken.write_text(json.dumps({**json.loads(a2c.read_text()), "Camera": ""}))
    res = run_cli("validate", str(broken))
    assert res.returncode == 1 and res.stdout.strip() == f"{broken}: Camera: must be non-empty text (any2caption)"
    # dense is text: -o x.json writes it next to it as x.txt, and says so
    path, _ = three_objects_clip
    target = tmp_path / "dense.json"
    res = run_cli("run", str(path), "-q", "--format", "dense", "-o", str(target), "--runs-dir", str(root / "runs"))
    assert res.returncode == 0, res.stderr
    assert not target.exists() and (tmp_path / "dense.txt").read_text().strip() == res.stdout.strip()
    assert f"writing {tmp_path / 'dense.txt'} instead of {target}" in res.stderr
    res = run_cli("validate", str(tmp_path / "dense.txt"))
    assert res.returncode == 0, res.stdout + res.stderr
    # and the other way round: JSON never goes into a .txt file, which validate would read as a paragraph
    text = tmp_path / "caption.txt"
    res = run_cli("run", str(path), "-q", "-o", str(text), "--runs-dir", str(root / "runs"))
    assert res.returncode == 0 and not text.exists(), res.stderr
    assert f"writing {tmp_path / 'caption.json'} instead of {text}" in res.stderr
    assert run_cli("validate", str(tmp_path / "caption.json")).returncode == 0


def test_evidence_checks_with_a_run_folder(cinecap_run, tmp_path):
    _, _, record, run_dir = cinecap_run
    res = run_cli("validate", str(run_dir))  # the folder: its caption against its own evidence
    assert res.returncode == 0 and "evidence for 1" in res.stderr, res.stdout + res.stderr
    wrong = json.loads(json.dumps(record["caption"]))
    wrong["Structural Description"]["Camera Movement"] = "The camera is static."  # the clip pans left
    wrong["Video"] = "other.mp4"
    f = tmp_path / "wrong.json"
    f.write_text(json.dumps(wrong))
    assert run_cli("validate", str(f)).returncode == 0  # schema and wording alone cannot tell
    res = run_cli("validate", str(f), "--run", str(run_dir / "record.json"))
    assert res.returncode == 1
    assert f"{f}: Video: is 'other.mp4' (evidence: the clip is 'three.mp4')" in res.stdout
    assert f"{f}: Structural Description.Camera Movement:" in res.stdout


def test_batch_records_and_exports_are_read(cinecap_run, tmp_path):
    _, _, record, run_dir = cinecap_run
    records = tmp_path / "records.jsonl"
    rows = [{"path": "three.mp4", "content_hash": record["content_hash"], "status": "ok",
             "caption": record["caption"], "run_dir": str(run_dir)},
            {"path": "gone.mp4", "content_hash": "", "status": "failed", "caption": None, "error": "no such file"}]
    records.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run_cli("validate", str(records))
    assert res.returncode == 1
    assert res.stdout.strip() == f"{records}: line 2: has no caption (status failed)"
    assert "1 of 2 caption(s) invalid" in res.stderr and "evidence for 1" in res.stderr
    export = tmp_path / "export.json"
    export.write_text(json.dumps([{"path": "three.mp4", "content_hash": "x", "format": "instancecap",
                                   "caption": record["caption"], "output": record["caption"]}]))
    res = run_cli("validate", str(export))
    assert res.returncode == 0, res.stdout + res.stderr
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"hello": "world"}))
    res = run_cli("validate", str(unknown))
    assert res.returncode == 1 and res.stdout.strip() == f"{unknown}: not a caption in a known format " \
                                                        "(an object with keys hello)"
    assert not Path(str(unknown) + ".tmp").exists()


def test_a_plugin_s_own_format_is_recognised_and_checked(tmp_path):
    """A format declared with its keys and text fields is read back by ``validate`` like the built-in ones:
    its schema problems and the wording rules on its free text, not "not a caption in a known format"."""
    import importlib
    import types

    from agent.core.formats import OutputFormat
    from agent.core.hookspecs import hookimpl
    from agent.run.plugins import BUILTIN_PLUGINS, _build
    from agent.run.validate import check_items, read_items

    tags = types.ModuleType("tags_format_plugin")

    @hookimpl
    def register_output_formats():
        return [OutputFormat("tags", lambda caption, evidence: {"Tags": [], "Summary": caption["Global Description"]},
                             keys=("Tags", "Summary"), text_fields=("Summary",),
                             check=lambda out: [] if isinstance(out["Tags"], list) else ["Tags: must be a list"])]

    tags.register_output_formats = register_output_formats
    plan = [(name, "builtin", lambda name=name: importlib.import_module(name)) for name in BUILTIN_PLUGINS]
    plugins = _build([*plan, ("tags", "test", lambda: tags)])
    outputs = tmp_path / "tags.jsonl"
    outputs.write_text("\n".join(json.dumps(o) for o in (
        {"Tags": ["dog"], "Summary": "A dog runs across a lawn."},
        {"Tags": "dog", "Summary": ""},
        {"Tags": [], "Summary": "A dog runs as the music swells."},
    )) + "\n")
    items = read_items(outputs, plugins.format_specs)
    assert [i.fmt for i in items] == ["tags"] * 3
    found = [(f.where, f.text) for f in check_items(items, plugins=plugins)]
    assert ("line 2", "Summary: must be non-empty text (tags)") in found
    assert ("line 2", "Tags: must be a list (tags)") in found
    assert [w for w, t in found if w == "line 3" and "music" in t] == ["line 3"]  # sound is no visual fact
    assert all(w != "line 1" for w, _ in found)
    assert read_items(outputs, {})[0].problem.startswith("not a caption in a known format")
