import json

import pytest

from conftest import run_cli


def test_run_prints_a_caption_that_validate_accepts(three_objects_clip, tmp_path):
    path, truth = three_objects_clip
    out = tmp_path / "caption.json"
    res = run_cli("run", str(path), "-o", str(out), "--runs-dir", str(tmp_path / "runs"))
    assert res.returncode == 0, res.stderr
    printed = json.loads(res.stdout)  # piped: stdout carries only the caption
    assert printed == json.loads(out.read_text())
    assert printed["Video"] == "three.mp4"
    assert len(printed["Structural Description"]["Main Instance"]) == len(truth.objects)
    assert "pans left" in printed["Structural Description"]["Camera Movement"]
    assert "read_metadata" in res.stderr and "validation passed" in res.stderr
    check = run_cli("validate", str(out))
    assert check.returncode == 0, check.stdout + check.stderr
    record = json.loads(next((tmp_path / "runs").glob("three-*/record.json")).read_text())
    assert record["status"] == "ok" and record["caption"] == printed
    assert record["usage"]["calls"] >= 6 and record["content_hash"]
    assert list((tmp_path / "runs").glob("three-*/instances/*.jpg"))


def test_schema_command_prints_json_schema():
    res = run_cli("schema")
    assert res.returncode == 0
    schema = json.loads(res.stdout)
    assert "Structural Description" in schema["properties"]


def test_plugins_command_lists_builtin_tools():
    res = run_cli("plugins", "--json")
    assert res.returncode == 0, res.stderr
    tools = {t for row in json.loads(res.stdout) for t in row["tools"]}
    assert {"read_metadata", "sample_frames", "estimate_camera_motion", "detect_instances",
            "segment_and_blur", "describe_background", "check_lexicon"} <= tools
    # everything else a plugin provides, and the hooks of one that extends commands rather than adds
    rows = {row["name"]: row for row in json.loads(res.stdout)}
    assert {"instancecap", "any2caption", "cinecap", "dense"} <= set(rows["plugins.formats"]["formats"])
    assert rows["plugins.depth"]["sections"] == ["Depth"] and rows["plugins.camera_path"]["condition_readers"] == ["camera_path"]
    assert {"add_command_options", "condition_inputs"} <= set(rows["plugins.conditions"]["hooks"])


def _bad_inputs(tmp_path, three_objects_clip):
    (tmp_path / "folder").mkdir()
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("this is not a video\n" * 50)
    data = three_objects_clip[0].read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(data[: len(data) // 3])
    return {
        "missing": (tmp_path / "nope.mp4", "no such file"),
        "directory": (tmp_path / "folder", "is a directory"),
        "zero-byte": (tmp_path / "empty.mp4", "empty"),
        "not a video": (tmp_path / "notes.mp4", "not a readable video"),
        "truncated": (tmp_path / "truncated.mp4", ""),
    }


@pytest.mark.parametrize("case", ["missing", "directory", "zero-byte", "not a video", "truncated"])
def test_bad_input_gets_one_line_and_exit_2(case, tmp_path, three_objects_clip):
    path, words = _bad_inputs(tmp_path, three_objects_clip)[case]
    res = run_cli("run", str(path), "--runs-dir", str(tmp_path / "runs"))
    assert res.returncode == 2, (res.returncode, res.stderr)
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ") and path.name in lines[0] and words in lines[0]
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_validate_reports_each_field_and_exits_1(tmp_path):
    good = json.loads(run_cli("schema").stdout)  # just to be sure the CLI runs
    assert good
    items = [
        {"Video": "a.mp4", "Global Description": "x", "Structural Description": {
            "Main Instance": {}, "Background Detail": "b", "Camera Movement": "c"}},
        {"Video": "b.mp4", "Structural Description": {"Main Instance": {"No.0": {"Class": "person"}},
                                                      "Background Detail": "b", "Camera Movement": "c"}},
    ]
    f = tmp_path / "caps.jsonl"
    f.write_text("\n".join(json.dumps(i) for i in items) + "\n{broken\n")
    res = run_cli("validate", str(f))
    assert res.returncode == 1
    assert "line 2: Global Description: Field required" in res.stdout
    assert "line 2: Structural Description.Main Instance.No.0.Appearance: Field required" in res.stdout
    assert "line 3:" in res.stdout and "line 1:" not in res.stdout
    lst = tmp_path / "list.json"
    lst.write_text(json.dumps(items[:1] * 2))
    assert run_cli("validate", str(lst)).returncode == 0


def test_validate_bad_file_is_input_error(tmp_path):
    res = run_cli("validate", str(tmp_path / "missing.json"))
    assert res.returncode == 2 and res.stderr.startswith("error:")
    (tmp_path / "x.json").write_text("{not json")
    res = run_cli("validate", str(tmp_path / "x.json"))
    assert res.returncode == 2 and "not valid JSON" in res.stderr


def test_demo_clip_writes_clip_and_ground_truth(tmp_path):
    out = tmp_path / "d.mp4"
    res = run_cli("demo-clip", str(out), "--camera", "zoom in", "--objects", "2", "--duration", "1.5")
    assert res.returncode == 0, res.stderr
    truth = json.loads(out.with_suffix(".json").read_text())
    assert truth["camera"] == "zoom in" and len(truth["objects"]) == 2
    bad = run_cli("demo-clip", str(out), "--camera", "spin around")
    assert bad.returncode == 2 and bad.stderr.startswith("error:")
    for args, line in (([str(tmp_path)], "name a video file to write"), ([str(tmp_path / "x.gif")], "name a video file"),
                       ([str(out), "--objects", "9"], "--objects 9: give 1 to 3"),
                       ([str(out), "--noise", "-5"], "--noise -5: give 0 or more"),
                       ([str(out), "--duration", "0"], "--duration 0: give a length above 0 seconds")):
        bad = run_cli("demo-clip", *args)
        assert bad.returncode == 2 and line in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
    unwritable = run_cli("demo-clip", "/proc/no/x.mp4")
    assert unwritable.returncode == 1 and unwritable.stderr.startswith("error: demo-clip /proc/no/x.mp4: cannot write")


def test_validate_loads_the_plugins_that_add_sections(tmp_path):
    """A caption with a plugin's section is valid for ``cmd_validate`` called on its own, without the parser."""
    good = json.loads(run_cli("schema").stdout)
    assert "Film Language" in good["properties"]
    caption = {"Video": "a.mp4", "Global Description": "A man walks.",
               "Structural Description": {"Main Instance": {}, "Background Detail": "A street.",
                                          "Camera Movement": "The camera is static."},
               "Film Language": {"Shot Size": "wide", "Camera Angle": "eye level", "Composition": "centered",
                                 "Depth of Field": "deep", "Special Shots": "none", "Camera Movement": "static",
                                 "Evidence": []}}
    path = tmp_path / "caption.json"
    path.write_text(json.dumps(caption))
    code = ("import sys; from argparse import Namespace; from pathlib import Path; "
            "from agent.cli.commands import cmd_validate; "
            "sys.exit(cmd_validate(Namespace(file=Path(sys.argv[1]), run=None, wording=True, no_plugin=[])))")
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 caption(s) valid" in done.stderr
    caption["Film Language"]["Shot Size"] = 7
    path.write_text(json.dumps(caption))
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Shot Size" in done.stdout
