"""Batch records out as parquet, a datasets folder and webdataset shards, each read back with its own library."""

import csv
import json

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


def test_parquet_round_trip(batch, tmp_path):
    import pyarrow.parquet as pq

    _, out, records = batch
    target = tmp_path / "captions.parquet"
    done = run_cli("export", str(out), "-o", str(target))
    assert done.returncode == 0 and "wrote 2 sample(s)" in done.stderr and "(parquet)" in done.stderr, done.stderr
    table = pq.read_table(target)
    assert table.num_rows == 2
    # our columns, and every manifest column ('path' is ours, so the manifest's keeps its own name apart)
    assert {"path", "content_hash", "status", "format", "output", "caption", "record", "manifest_path",
            "source_id", "label", "caption_hint"} <= set(table.column_names)
    rows = {row["source_id"]: row for row in table.to_pylist()}
    for r in records:
        row = rows[r["manifest"]["source_id"]]
        assert (row["path"], row["content_hash"], row["format"]) == (r["path"], r["content_hash"], "any2caption")
        assert json.loads(row["output"]) == r["output"] and json.loads(row["caption"]) == r["caption"]
        assert json.loads(row["record"]) == r
        assert (row["manifest_path"], row["label"], row["caption_hint"]) == (
            r["manifest"]["path"], r["manifest"]["label"], r["manifest"]["caption_hint"])


def test_datasets_round_trip(batch, tmp_path):
    import datasets

    _, out, records = batch
    target = tmp_path / "hf"
    assert run_cli("export", str(out), "-o", str(target)).returncode == 0
    ds = datasets.load_from_disk(str(target))
    assert len(ds) == 2 and {"source_id", "label", "caption_hint", "record", "content_hash"} <= set(ds.column_names)
    got = {row["content_hash"]: row for row in ds}
    for r in records:
        row = got[r["content_hash"]]
        assert json.loads(row["record"]) == r and row["source_id"] == r["manifest"]["source_id"]
    # written again over the first: replaced, not mixed
    assert run_cli("export", str(out), "-o", str(target), "--ok-only").returncode == 0
    assert len(datasets.load_from_disk(str(target))) == 2


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
        assert record == original and sample["json"] == original["output"]
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
