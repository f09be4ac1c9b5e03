"""Run folders: keyed by the settings that change the output, emptied by a re-run, always with frame sheets."""

from pathlib import Path

from agent.core.config import Settings, output_key
from agent.run.runner import caption_video


def test_runs_with_other_settings_never_share_a_folder(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    runs = tmp_path / "runs"
    three = caption_video(path, Settings(runs_dir=runs, frames=6))
    two = caption_video(path, Settings(runs_dir=runs, frames=6, max_instances=2))
    assert three.run_dir != two.run_dir
    views = lambda record: sorted(p.name for p in (Path(record.run_dir) / "instances").glob("*.jpg"))  # noqa: E731
    assert len(views(three)) == 3 and len(views(two)) == 2  # the later run's folder holds only its own views
    # the offline run sends no images, and still keeps its sheet of sampled frames
    for record in (three, two):
        assert (Path(record.run_dir) / "frames" / "sampled.jpg").stat().st_size > 1000
    # a setting that never changes the output (the time-out) keeps the folder
    assert output_key(Settings(runs_dir=runs, frames=6, timeout_s=5)) == output_key(Settings(runs_dir=runs, frames=6))


def test_a_rerun_empties_its_folder_first(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    settings = Settings(runs_dir=tmp_path / "runs", frames=6)
    first = caption_video(path, settings)
    stale = Path(first.run_dir) / "instances" / "No7_ghost.jpg"
    stale.write_bytes(b"from an earlier run")
    (Path(first.run_dir) / "llm.jsonl").write_text('{"left": "by another model"}\n')
    again = caption_video(path, settings)
    assert again.run_dir == first.run_dir
    assert not stale.exists() and not (Path(again.run_dir) / "llm.jsonl").exists()
    assert (Path(again.run_dir) / "record.json").is_file()
