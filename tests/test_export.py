"""Batch records out as parquet, a datasets folder and webdataset shards, each read back with its own library."""

import csv
import json
import os

import pytest

from agent.core.config import Settings
from agent.run.batch import read_inputs, run_batch
from conftest import hard_cut_montage, run_cli


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Two clips called x.mp4 in two folders (one of them twice as bytes elsewhere), a CSV manifest
    with columns of our own, and the records of an any2caption batch over it."""
    from agent.testing.synthetic import random_scene, render_clip

    root = tmp_path_factory.mktemp("export")
    render_clip(random_scene(31, "pan left", duration_s=1.5), root / "a" / "x.mp4")
    render_clip(random_scene(32, "static", duration_s=1.5), root / "b" / "x.mp4")
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "source_id", "label", "caption_hint"])
        w.writerow(["a/x.mp4", "yt:abc", "street", "a red car"])
        w.writerow(["b/x.mp4", "yt:def", "field", ""])
    clips, columns = read_inputs(str(manifest))
    out = root / "records.jsonl"
    settings = Settings(runs_dir=root / "runs", output_format="any2caption")
    summary = run_batch(clips, out, settings, columns=columns, cache_path=root / "cache.sqlite")
    assert summary.done == {"ok": 2}
    return root, out, [json.loads(line) for line in out.read_text().splitlines()]


def test_records_carry_the_manifest_row_and_the_format(batch):
    root, _, records = batch
    by_source = {r["manifest"]["source_id"]: r for r in records}
    assert by_source.keys() == {"yt:abc", "yt:def"}
    assert by_source["yt:abc"]["manifest"] == {"path": "a/x.mp4", "source_id": "yt:abc", "label": "street",
                                               "caption_hint": "a red car"}
    assert by_source["yt:abc"]["path"] == str(root / "a" / "x.mp4")
    for r in records:
        assert r["format"] == "any2caption" and set(r["output"]) >= {"Dense", "Main Object", "Camera"}
        assert r["caption"]["Video"] == "x.mp4"
    assert records[0]["content_hash"] != records[1]["content_hash"]


def _as_written(value):
    """A record as a parquet or datasets row gives it back: no null fields, no empty objects."""
    if isinstance(value, dict):
        kept = {k: _as_written(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_as_written(v) for v in value]
    return value


def _estimated_tokens(text):
    from agent.core.flatten import make_counter

    return make_counter(None)[0](text)


def test_parquet_round_trip(batch, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from agent.run.export import sample_of

    _, out, records = batch
    target = tmp_path / "captions.parquet"
    done = run_cli("export", str(out), "-o", str(target))
    assert done.returncode == 0 and "wrote 2 sample(s)" in done.stderr and "(parquet)" in done.stderr, done.stderr
    table = pq.read_table(target)
    assert table.num_rows == 2
    # our columns, and every manifest column ('path' is ours, so the manifest's keeps its own name apart)
    assert {"path", "content_hash", "status", "format", "output", "caption", "text", "record", "manifest_path",
            "source_id", "label", "caption_hint"} <= set(table.column_names)
    # nested fields, not JSON text: a trainer reads caption.Global Description without parsing
    for name in ("caption", "output", "record"):
        assert pa.types.is_struct(table.schema.field(name).type), (name, table.schema.field(name).type)
    assert "Main Instance" in str(table.schema.field("caption").type)
    rows = {row["source_id"]: row for row in table.to_pylist()}
    for r in records:
        row = rows[r["manifest"]["source_id"]]
        assert (row["path"], row["content_hash"], row["format"]) == (r["path"], r["content_hash"], "any2caption")
        assert row["caption"]["Global Description"] == r["caption"]["Global Description"]
        assert row["output"]["Dense"] == r["output"]["Dense"]
        assert "caption" not in row["record"] and "output" not in row["record"]  # no column twice
        assert sample_of(row) == _as_written(r)
        assert (row["manifest_path"], row["label"], row["caption_hint"]) == (
            r["manifest"]["path"], r["manifest"]["label"], r["manifest"]["caption_hint"])
        assert row["text"].startswith(r["caption"]["Global Description"].strip())
        assert _estimated_tokens(row["text"]) <= 226


def test_text_column_budget_and_no_output_column_for_instancecap(batch, tmp_path):
    """InstanceCap samples: no 'output' column repeating the caption; the text column keeps to
    --text-tokens (0: the whole paragraph, the dense format's words)."""
    import pyarrow.parquet as pq

    from agent.core.flatten import flatten, make_counter
    from agent.run.plugins import load_plugins

    _, out, records = batch
    plain = tmp_path / "plain.jsonl"
    plain.write_text("".join(json.dumps({**r, "format": "instancecap", "output": None}) + "\n" for r in records))
    short, whole = tmp_path / "short.parquet", tmp_path / "whole.parquet"
    assert run_cli("export", str(plain), "-o", str(short), "--text-tokens", "30").returncode == 0
    assert run_cli("export", str(plain), "-o", str(whole), "--text-tokens", "0").returncode == 0
    short_rows, whole_rows = pq.read_table(short).to_pylist(), pq.read_table(whole).to_pylist()
    assert "output" not in pq.read_table(short).column_names
    counter, how = make_counter(None)
    for s, w, r in zip(short_rows, whole_rows, records):
        assert _estimated_tokens(s["text"]) <= 30 < _estimated_tokens(w["text"])
        assert s["text"] == flatten(r["caption"], 30, counter, how, load_plugins().sections).text
        assert r["caption"]["Global Description"].strip() in w["text"]
    bad = run_cli("export", str(plain), "-o", str(tmp_path / "b.parquet"), "--text-tokens", "-1")
    assert bad.returncode == 2 and "--text-tokens" in bad.stderr


def test_datasets_round_trip(batch, tmp_path):
    import datasets

    from agent.run.export import sample_of

    _, out, records = batch
    target = tmp_path / "hf"
    assert run_cli("export", str(out), "-o", str(target)).returncode == 0
    ds = datasets.load_from_disk(str(target))
    assert len(ds) == 2 and {"source_id", "label", "caption_hint", "record", "content_hash", "text"} <= set(ds.column_names)
    assert isinstance(ds.features["caption"], dict) and "Global Description" in ds.features["caption"]
    got = {row["content_hash"]: row for row in ds}
    for r in records:
        row = got[r["content_hash"]]
        assert sample_of(row) == _as_written(r) and row["source_id"] == r["manifest"]["source_id"]
        assert row["caption"]["Structural Description"]["Camera Movement"] == \
            r["caption"]["Structural Description"]["Camera Movement"]
    # written again over the first: replaced, not mixed
    assert run_cli("export", str(out), "-o", str(target), "--ok-only").returncode == 0
    assert len(datasets.load_from_disk(str(target))) == 2
    assert sorted(p.name for p in target.parent.iterdir()) == ["hf"]  # nothing left beside it


def test_webdataset_round_trip_with_clips(batch, tmp_path):
    import webdataset as wds

    _, out, records = batch
    pattern = tmp_path / "shards" / "part-%04d.tar"
    done = run_cli("export", str(out), "-o", str(pattern), "--shard-size", "1", "--with-clips")
    assert done.returncode == 0, done.stderr
    shards = sorted((tmp_path / "shards").glob("part-*.tar"))
    assert [s.name for s in shards] == ["part-0000.tar", "part-0001.tar"]
    assert f"2 shards, part-0000.tar to part-0001.tar in {tmp_path / 'shards'}" in done.stderr  # the names written
    one = run_cli("export", str(out), "-o", str(tmp_path / "one.tar"))
    assert one.returncode == 0 and f"to {tmp_path / 'one-000000.tar'} (wds)" in one.stderr, one.stderr
    samples = list(wds.WebDataset([str(s) for s in shards], shardshuffle=False).decode())
    assert len(samples) == 2 and len({s["__key__"] for s in samples}) == 2
    for sample in samples:
        record = sample["record.json"]
        original = next(r for r in records if r["path"] == record["path"])
        assert record == original and sample["json"] == (original["output"] or original["caption"])
        assert sample["caption.json"] == original["caption"]
        with open(original["path"], "rb") as f:
            assert sample["mp4"] == f.read()


def test_bad_export_requests_are_one_line(batch, tmp_path):
    _, out, _ = batch
    for args, says in ((["-o", str(tmp_path / "x.csv")], "cannot tell the export kind"),
                       (["-o", str(tmp_path / "x.json"), "--with-clips"], "--with-clips: only with --to wds"),
                       (["-o", str(tmp_path / "s.tar"), "--shard-size", "0"], "--shard-size must be at least 1")):
        proc = run_cli("export", str(out), *args)
        assert proc.returncode == 2 and says in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = run_cli("export", str(tmp_path / "none.jsonl"), "-o", str(tmp_path / "y.parquet"))
    assert proc.returncode == 2 and "no such records file" in proc.stderr
    edited = tmp_path / "edited.jsonl"
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    rows[0]["shot"] = "the first"  # by hand: not a shot number
    edited.write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = run_cli("export", str(edited), "-o", str(tmp_path / "e.parquet"))
    assert proc.returncode == 2 and "a record cannot be written as parquet" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "e.parquet").exists()


def test_shot_samples_carry_their_own_clip(tmp_path):
    """A --split-shots batch that kept no shot clips: the webdataset export cuts each shot again."""
    import av
    import webdataset as wds

    from agent.run.batch import ShotOptions

    clip = hard_cut_montage((61, 62), tmp_path / "montage.mp4", seconds=1.2, n_objects=1)
    records = tmp_path / "shots.jsonl"
    assert run_batch([clip], records, Settings(runs_dir=tmp_path / "runs"), shots=ShotOptions()).done == {"ok": 2}
    assert all(json.loads(line)["shot_path"] is None for line in records.read_text().splitlines())
    done = run_cli("export", str(records), "-o", str(tmp_path / "shots.tar"), "--with-clips")
    assert done.returncode == 0, done.stderr
    samples = list(wds.WebDataset([str(tmp_path / "shots-000000.tar")], shardshuffle=False).decode())
    assert [s["record.json"]["shot"] for s in samples] == [1, 2]
    for sample in samples:
        record = sample["record.json"]
        (tmp_path / "back.mp4").write_bytes(sample["mp4"])
        with av.open(str(tmp_path / "back.mp4")) as c:
            count = sum(1 for _ in c.decode(video=0))
        assert count == record["end_frame"] - record["start_frame"]
        assert sample["__key__"].endswith(f"_shot{record['shot']:03d}")


def test_validate_reads_every_export(batch, tmp_path):
    """validate takes what export writes (parquet, a datasets folder, webdataset shards): each sample's
    caption checked, with its evidence where the run folder is still there; a broken file is one line."""
    _, out, records = batch
    for target, args in ((tmp_path / "v.parquet", ()), (tmp_path / "hf", ("--to", "hf")), (tmp_path / "v.tar", ())):
        assert run_cli("export", str(out), "-o", str(target), *args).returncode == 0
        written = target if target.suffix != ".tar" else tmp_path / "v-000000.tar"
        done = run_cli("validate", str(written))
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"{len(records)} caption(s) valid" in done.stderr
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    done = run_cli("validate", str(broken))
    assert done.returncode == 2 and done.stderr.startswith(f"error: {broken}: cannot be read as an export")
    assert "Traceback" not in done.stderr


# -- an export never destroys what it did not write (each of these broke user files before) ----------
def _one_line_refusal(proc, says):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert says in proc.stderr, proc.stderr
    assert ".tmp" not in proc.stderr and ".part" not in proc.stderr


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_that_is_not_our_export_is_refused_untouched(batch, tmp_path):
    _, out, _ = batch
    sandbox = tmp_path / "sandbox"
    (sandbox / "clips").mkdir(parents=True)
    (sandbox / "records.jsonl").write_bytes(out.read_bytes())
    (sandbox / "clips" / "a.mp4").write_bytes(b"not really a clip")
    (sandbox / "important.txt").write_text("keep me")
    before = _snapshot(sandbox)
    for args in ((), ("--to", "hf")):
        _one_line_refusal(run_cli("export", str(out), "-o", str(sandbox), *args), "not an export of ours")
    assert _snapshot(sandbox) == before
    # a file of the user's put into an export of ours: the export is not replaced either
    ours = tmp_path / "hf"
    assert run_cli("export", str(out), "-o", str(ours)).returncode == 0
    (ours / "notes.txt").write_text("mine")
    _one_line_refusal(run_cli("export", str(out), "-o", str(ours)), "notes.txt")
    assert (ours / "notes.txt").read_text() == "mine"


def test_the_records_file_or_a_foreign_file_as_output_is_refused(batch, tmp_path):
    _, out, _ = batch
    records = tmp_path / "r.jsonl"
    records.write_bytes(out.read_bytes())
    for args in (("-o", str(records), "--to", "json"), ("-o", str(records), "--to", "parquet")):
        _one_line_refusal(run_cli("export", str(records), *args), "is the records file being exported")
    assert records.read_bytes() == out.read_bytes()
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}\n')
    user_parquet = tmp_path / "table.parquet"
    user_parquet.write_bytes(b"PAR1 someone else's file")
    for target in (notes, user_parquet):
        kept = target.read_bytes()
        _one_line_refusal(run_cli("export", str(records), "-o", str(target)), "is not an export of ours")
        assert target.read_bytes() == kept
    # an earlier export of ours is replaced, as before
    mine = tmp_path / "mine.json"
    assert run_cli("export", str(records), "-o", str(mine)).returncode == 0
    assert run_cli("export", str(records), "-o", str(mine), "--ok-only").returncode == 0


def test_odd_output_names_are_one_line_or_written_as_named(batch, tmp_path):
    _, out, _ = batch
    folder = tmp_path / "existing_dir.parquet"
    folder.mkdir()
    _one_line_refusal(run_cli("export", str(out), "-o", str(folder)), f"{folder}: is a folder")
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("x")
    _one_line_refusal(run_cli("export", str(out), "-o", ".", cwd=work), str(work))
    for name, shard in (("done_100%.tar", "done_100%-000000.tar"), ("n_%(a)s.tar", "n_%(a)s-000000.tar"),
                        ("p_%d.tar", "p_0.tar")):
        done = run_cli("export", str(out), "-o", str(tmp_path / name))
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert (tmp_path / shard).is_file() and str(tmp_path / shard) in done.stderr
    _one_line_refusal(run_cli("export", str(out), "-o", str(tmp_path / "x%s")), "one %d")
    # a shard name already taken by a file that is not a shard of ours
    (tmp_path / "taken-000000.tar").write_bytes(b"a user's archive")
    _one_line_refusal(run_cli("export", str(out), "-o", str(tmp_path / "taken.tar")), "not a shard of ours")
    assert (tmp_path / "taken-000000.tar").read_bytes() == b"a user's archive"
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    made = tmp_path / "made.parquet"
    mask = os.umask(0o022)
    try:
        assert run_cli("export", str(out), "-o", str(made)).returncode == 0
    finally:
        os.umask(mask)
    assert made.stat().st_mode & 0o777 == 0o644  # as any file the user makes, not a private temporary file


def test_with_clips_checks_each_clip_against_its_record(batch, tmp_path):
    import webdataset as wds

    _, out, records = batch
    moved = []
    for n, r in enumerate(records):
        copy = tmp_path / f"clip{n}.mp4"
        copy.write_bytes(open(r["path"], "rb").read())
        moved.append({**r, "path": str(copy)})
    edited = tmp_path / "r.jsonl"
    edited.write_text("".join(json.dumps(r) + "\n" for r in moved))
    first = tmp_path / "clip0.mp4"
    first.write_bytes(first.read_bytes() + b"\0")  # changed on disk after its caption
    refused = run_cli("export", str(edited), "-o", str(tmp_path / "s.tar"), "--with-clips")
    _one_line_refusal(refused, f"{first}: the clip changed since it was captioned")
    assert not list(tmp_path.glob("s-*.tar"))
    skipped = run_cli("export", str(edited), "-o", str(tmp_path / "s.tar"), "--with-clips", "--skip-changed")
    assert skipped.returncode == 0 and "wrote 1 sample(s)" in skipped.stderr, skipped.stderr
    assert "left out 1 clip(s) that changed" in skipped.stderr
    samples = list(wds.WebDataset([str(tmp_path / "s-000000.tar")], shardshuffle=False).decode())
    assert [s["record.json"]["path"] for s in samples] == [str(tmp_path / "clip1.mp4")]
    first.unlink()  # a deleted clip is a read failure, not a failure to write the export
    gone = run_cli("export", str(edited), "-o", str(tmp_path / "g.tar"), "--with-clips")
    _one_line_refusal(gone, f"{first}: cannot read the clip")
    assert "cannot write" not in gone.stderr


def test_large_batch_settings_leave_only_the_records(tmp_path):
    """keep_runs none (and no tool cache): no run folder is left, the record says so, and the
    records still export; not-ok keeps only the folders of captions that were not ok."""
    import pyarrow.parquet as pq

    from agent.testing.synthetic import random_scene, render_clip

    clip = tmp_path / "clip.mp4"
    render_clip(random_scene(33, "static", duration_s=1.0), clip)
    for keep, left in (("none", 0), ("not-ok", 0), ("all", 1)):
        runs, out = tmp_path / f"runs-{keep}", tmp_path / f"r-{keep}.jsonl"
        assert run_batch([clip], out, Settings(runs_dir=runs, keep_runs=keep), cache_path=None).done == {"ok": 1}
        record = json.loads(out.read_text())
        assert len(list(runs.iterdir())) == left and (record["run_dir"] is None) == (left == 0)
    exported = tmp_path / "r.parquet"
    assert run_cli("export", str(tmp_path / "r-none.jsonl"), "-o", str(exported)).returncode == 0
    assert pq.read_table(exported).num_rows == 1
    bad = run_cli("batch", str(clip), "-o", str(tmp_path / "x.jsonl"), "--keep-runs", "some")
    assert bad.returncode == 2 and "--keep-runs" in bad.stderr


def test_shards_written_again_replace_only_their_own_earlier_shards(batch, tmp_path):
    _, out, _ = batch
    assert run_cli("export", str(out), "-o", str(tmp_path / "a.tar"), "--shard-size", "1").returncode == 0
    assert run_cli("export", str(out), "-o", str(tmp_path / "a-b.tar"), "--shard-size", "1").returncode == 0
    assert run_cli("export", str(out), "-o", str(tmp_path / "a.tar"), "--shard-size", "2").returncode == 0
    # the longer earlier export under the same name is gone; another export's shards are kept
    assert sorted(p.name for p in tmp_path.glob("*.tar")) == ["a-000000.tar", "a-b-000000.tar", "a-b-000001.tar"]
