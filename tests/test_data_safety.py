"""No user file is ever destroyed or mixed up: outputs that are inputs, files that are not our records,
duplicate manifest rows, one folder spelled two ways, resumes with other settings, FIFOs and devices."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.core.config import Settings
from agent.core.errors import AgentError, InputError
from agent.run.batch import read_inputs, run_batch, scan_inputs
from agent.run.records_file import RecordFile
from conftest import ROOT, run_cli


@pytest.fixture
def sandbox(three_objects_clip, tmp_path):
    """A folder with clips/a.mp4, a CSV and a JSONL manifest naming it, and a notes file."""
    clip, _ = three_objects_clip
    (tmp_path / "clips").mkdir()
    shutil.copy(clip, tmp_path / "clips" / "a.mp4")
    (tmp_path / "m.csv").write_text("path,label\nclips/a.mp4,alpha\n")
    (tmp_path / "m.jsonl").write_text('{"path": "clips/a.mp4", "label": "alpha"}\n')
    (tmp_path / "notes.txt").write_text("my notes\nline two\n")
    return tmp_path


def snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("inputs, out", [
    ("clips", "clips/a.mp4"),  # the output is a clip
    ("m.csv", "m.csv"),  # the manifest
    ("m.jsonl", "m.jsonl"),  # a JSONL manifest (it has "path" but no "status": not records)
    ("clips", "notes.txt"),  # an existing file that is not records
    ("clips", "clips"),  # a folder
])
def test_an_output_that_is_an_input_or_not_our_records_is_refused_before_any_work(inputs, out, sandbox):
    before = snapshot(sandbox)
    result = run_cli("batch", inputs, "-o", out, "--runs-dir", "runs", cwd=sandbox)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: {'-o ' if out != 'notes.txt' and out != 'clips' else ''}") and \
        "Traceback" not in result.stderr
    assert len([line for line in lines if line.startswith("error:")]) == 1
    assert snapshot(sandbox) == before  # nothing changed, nothing added (no lock, no records, no run)
    assert not (sandbox / "runs").exists()


def test_run_refuses_to_write_its_caption_over_the_clip(sandbox):
    before = snapshot(sandbox)
    for flag in ("-o", "--trace"):
        result = run_cli("run", "clips/a.mp4", flag, "clips/a.mp4", "--runs-dir", "runs", cwd=sandbox)
        assert result.returncode == 2 and result.stderr.strip() == \
            f"error: {flag} clips/a.mp4: is one of the inputs (clips/a.mp4); give another file to write"
    assert snapshot(sandbox) == before and not (sandbox / "runs").exists()


def test_the_records_file_is_recognised_by_its_content(tmp_path):
    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"a": 1}\n{"b": 2')  # JSON lines, but not our records, with a "torn" tail
    with pytest.raises(InputError, match="is not a batch records file"):
        RecordFile(notes)
    assert notes.read_text() == '{"a": 1}\n{"b": 2'  # never "repaired"
    ours = tmp_path / "r.jsonl"
    ours.write_text('{"path": "/x.mp4", "content_hash": "ab", "status": "ok"}\n{"path": "/y.mp4", "con')
    store = RecordFile(ours)  # ours, with a torn tail: the tail is cut off
    store.close()
    assert store.repaired and ours.read_text().count("\n") == 1
    assert not (tmp_path / "notes.jsonl.lock").exists()


def test_duplicate_manifest_rows_are_refused_in_one_line(sandbox):
    (sandbox / "dup.csv").write_text("path,n,label\nclips/a.mp4,1,alpha\n./clips/../clips/a.mp4,3,dup\n")
    with pytest.raises(InputError) as refused:
        read_inputs(str(sandbox / "dup.csv"))
    assert refused.value.message == (f"{sandbox / 'dup.csv'}: lines 2 and 3 both name {sandbox / 'clips/a.mp4'}; "
                                     "give each clip once (a clip is one sample; copy the file to caption it twice)")
    result = run_cli("batch", "dup.csv", "-o", "r.jsonl", cwd=sandbox)
    assert result.returncode == 2 and not (sandbox / "r.jsonl").exists()


def test_one_folder_spelled_two_ways_is_one_set_of_clips(sandbox, monkeypatch):
    out = sandbox / "r.jsonl"
    settings = Settings(runs_dir=sandbox / "runs")
    monkeypatch.chdir(sandbox)
    first = run_batch(read_inputs("clips")[0], out, settings)
    assert first.done == {"ok": 1}
    monkeypatch.chdir(sandbox / "clips")  # another working folder, the absolute path, and a link to the clip
    os.symlink(sandbox / "clips" / "a.mp4", sandbox / "link.mp4")
    spellings = [Path("a.mp4"), Path("../clips/a.mp4"), *read_inputs(str(sandbox / "clips"))[0], sandbox / "link.mp4"]
    again = run_batch(spellings, out, settings)
    assert again.done == {} and again.skipped == 1 and again.total == 1
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 1 and records[0]["path"] == str((sandbox / "clips" / "a.mp4").resolve())


def test_a_resume_with_other_settings_says_so(sandbox):
    out = sandbox / "r.jsonl"
    run_batch([sandbox / "clips" / "a.mp4"], out, Settings(runs_dir=sandbox / "runs"))
    again = run_batch([sandbox / "clips" / "a.mp4"], out, Settings(runs_dir=sandbox / "runs", output_format="dense",
                                                                   frames=4))
    assert again.done == {} and again.skipped == 1
    assert again.other_settings.startswith("warning: 1 clip(s) already recorded were captioned with other settings")
    assert "format instancecap (now dense)" in again.other_settings and "frames 8 (now 4)" in again.other_settings
    assert "give another -o" in again.other_settings
    same = run_batch([sandbox / "clips" / "a.mp4"], out, Settings(runs_dir=sandbox / "runs"))
    assert same.other_settings is None
    # a record of an earlier version: its settings key differs, none of its settings does
    records = [json.loads(line) for line in out.read_text().splitlines()]
    out.write_text("".join(json.dumps({**r, "settings_key": "00000000"}) + "\n" for r in records))
    earlier = run_batch([sandbox / "clips" / "a.mp4"], out, Settings(runs_dir=sandbox / "runs"))
    assert earlier.skipped == 1 and earlier.other_settings is None


def test_fifos_devices_and_looping_links_are_one_line_each(sandbox):
    fifo = sandbox / "clips" / "pipe.mp4"
    os.mkfifo(fifo)
    os.symlink("loop.mp4", sandbox / "clips" / "loop.mp4")
    found = scan_inputs(str(sandbox / "clips"))
    assert [p.name for p in found.clips] == ["a.mp4"]
    assert sorted(found.passed_over) == [f"{sandbox / 'clips/loop.mp4'} (a symbolic link that loops)",
                                         f"{fifo} (a FIFO (named pipe), not a regular file)"]
    (sandbox / "f.jsonl").write_text('{"path": "clips/pipe.mp4"}\n{"path": "/dev/zero"}\n')
    summary = run_batch(read_inputs(str(sandbox / "f.jsonl"))[0], sandbox / "r.jsonl", Settings(runs_dir=sandbox / "runs"))
    assert summary.done == {"failed": 2}
    errors = [json.loads(line)["error"] for line in (sandbox / "r.jsonl").read_text().splitlines()]
    assert errors == [f"{sandbox / 'clips/pipe.mp4'}: a FIFO (named pipe), not a regular file",
                      "/dev/zero: a device, not a regular file"]
    for path, says in ((fifo, "is a FIFO (named pipe), not a regular file"), ("/dev/zero", "is a device")):
        result = run_cli("run", str(path))
        assert result.returncode == 2 and result.stderr.startswith(f"error: {path}: {says}")


def test_batch_summary_counts_what_it_passed_over(sandbox):
    os.mkfifo(sandbox / "clips" / "pipe.mp4")
    result = run_cli("batch", "clips", "-o", "r.jsonl", "--runs-dir", "runs", "-q", cwd=sandbox)
    assert result.returncode == 0, result.stderr
    assert "1 entry passed over, not regular files: clips/pipe.mp4 (a FIFO" in result.stderr


def test_step_without_a_terminal_is_refused(sandbox):
    result = subprocess.run([sys.executable, "-m", "agent", "run", "clips/a.mp4", "--step", "--runs-dir", "runs"],
                            cwd=sandbox, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2 and "--step asks before each tool call and needs a terminal" in result.stderr
    assert not (sandbox / "runs").exists()


@pytest.mark.parametrize("call, says", [
    (lambda agent: agent.caption(b"x.mp4"), "agent.caption: a clip is a path (str or pathlib.Path), not bytes"),
    (lambda agent: agent.caption(None), "agent.caption: a clip is a path (str or pathlib.Path), not NoneType"),
    (lambda agent: agent.caption_many("x.mp4"), "agent.caption_many: give a list of clips, not one str"),
    (lambda agent: agent.caption_many([1]), "agent.caption_many: a clip is a path"),
    (lambda agent: agent.caption_many(5), "agent.caption_many: give a list of clips, not int"),
])
def test_the_api_refuses_bad_arguments_in_one_message(call, says):
    import agent

    with pytest.raises(AgentError) as refused:
        call(agent)
    assert refused.value.message.startswith(says) and "\n" not in refused.value.message
