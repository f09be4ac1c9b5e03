"""report: a static HTML page of a batch (or one run folder), checked as text and in a real browser.

The browser test needs Debian's ``chromium`` (``apt-get install chromium``); it loads the page
from disk headless, reads the DOM after the filters' script ran, and takes a screenshot
(``report-screenshot.png`` in the test's folder) whose colours are checked."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.core.config import Settings
from agent.run.batch import run_batch
from conftest import run_cli

SCREENSHOT = "report-screenshot.png"


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Two synthetic clips and a broken one, captioned by a batch: 2 ok records and 1 failed."""
    from agent.testing.synthetic import random_scene, render_clip

    root = tmp_path_factory.mktemp("report")
    render_clip(random_scene(41, "pan left", n_objects=2, duration_s=1.5), root / "clips" / "pan.mp4")
    render_clip(random_scene(42, "static", n_objects=1, duration_s=1.5), root / "clips" / "still.mp4")
    (root / "clips" / "broken.mp4").write_bytes(b"\0" * 2048)
    out = root / "captions.jsonl"
    summary = run_batch(sorted((root / "clips").glob("*.mp4")), out, Settings(runs_dir=root / "runs"),
                        cache_path=None)
    assert summary.done == {"ok": 2, "failed": 1}, summary.done
    return root, out, [json.loads(line) for line in out.read_text().splitlines()]


def _sources(html):
    return re.findall(r'<img src="([^"]+)"', html)


def test_report_shows_every_clip_self_contained(batch, tmp_path):
    root, out, records = batch
    edited = tmp_path / "edited.jsonl"
    rows = [dict(r) for r in records]
    ok = next(r for r in rows if r["status"] == "ok")
    ok["caption"] = {**ok["caption"], "Global Description": "A <script>alert(1)</script> & co."}
    ok["problems"] = ["Structural Description.Camera Movement: says a pan (the camera measured static)"]
    edited.write_text("".join(json.dumps(r) + "\n" for r in rows))
    target = tmp_path / "report"
    done = run_cli("report", str(edited), "-o", str(target))
    assert done.returncode == 0 and f"wrote {target / 'index.html'} (3 clip(s)" in done.stderr, done.stderr
    html = (target / "index.html").read_text()
    assert html.count('<article class="clip"') == 3
    assert sorted(re.findall(r'data-status="(\w+)"', html)) == ["failed", "ok", "ok"]
    failed = next(r for r in records if r["status"] == "failed")
    assert failed["error"].split(":")[0] in html
    # each clip's frames and instance views, copied into the folder and referenced relatively
    sources = _sources(html)
    assert sum("/frames/" in s for s in sources) == 2 and sum("/instances/" in s for s in sources) >= 2
    for src in sources:
        assert not src.startswith(("/", "http:", "https:", "file:")) and (target / src).is_file(), src
    # text from a caption is escaped, never markup; no script or style from elsewhere
    assert "<script>alert(1)" not in html and "A &lt;script&gt;alert(1)&lt;/script&gt; &amp; co." in html
    assert not re.search(r'<(script|link)[^>]+(src|href)=', html)
    assert "says a pan (the camera measured static)" in html
    # the summary: five plots, with the statuses counted
    assert html.count("<svg") == 5
    assert re.search(r"<title>ok: 2</title>", html) and re.search(r"<title>failed: 1</title>", html)
    for record in records:
        if record["status"] == "ok":
            assert f"{record['timings']['total_s']:.1f} s" in html
            for inst in record["caption"]["Structural Description"]["Main Instance"].values():
                assert f'<option value="{inst["Class"]}">' in html


def test_report_of_one_run_folder(batch, tmp_path):
    _, _, records = batch
    run_dir = Path(next(r for r in records if r["status"] == "ok")["run_dir"])
    target = tmp_path / "one"
    done = run_cli("report", str(run_dir), "-o", str(target))
    assert done.returncode == 0, done.stderr
    html = (target / "index.html").read_text()
    assert html.count('<article class="clip"') == 1 and "/frames/" in html


def test_report_shows_the_disagreements_found_while_validating(batch, tmp_path):
    """A run whose first caption disagreed with the evidence and was repaired: each validation
    round's problems are on the page, with the tool evidence they were checked against."""
    _, _, records = batch
    run_dir = tmp_path / "run"
    shutil.copytree(next(r for r in records if r["status"] == "ok")["run_dir"], run_dir)
    record = json.loads((run_dir / "record.json").read_text())
    assert record["steps"][-1]["node"] == "validate"  # the last round, which passed; one that failed before it:
    record["steps"].insert(-1, {"node": "validate", "ok": False,
                                "problems": ["Camera Movement: says zoom in (measured: pan left)"]})
    (run_dir / "record.json").write_text(json.dumps(record))
    assert run_cli("report", str(run_dir), "-o", str(tmp_path / "r")).returncode == 0
    html = (tmp_path / "r" / "index.html").read_text()
    assert "round 1: Camera Movement: says zoom in (measured: pan left)" in html
    assert "Evidence (" in html and "estimate_camera_motion" in html


def test_report_never_writes_over_what_it_did_not_write(batch, tmp_path):
    _, out, records = batch
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    plain_file = tmp_path / "file.html"
    plain_file.write_text("<p>mine</p>")
    run_dir = next(r for r in records if r["status"] == "ok")["run_dir"]
    for target, says in ((mine, "not a report of ours"), (plain_file, "is not a folder"),
                         (Path(run_dir), "not a report of ours"), (out.parent, "not a report of ours")):
        proc = run_cli("report", str(out), "-o", str(target))
        assert proc.returncode == 2 and says in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert (mine / "notes.txt").read_text() == "keep" and plain_file.read_text() == "<p>mine</p>"
    report = tmp_path / "report"
    assert run_cli("report", str(out), "-o", str(report)).returncode == 0
    assert run_cli("report", str(out), "-o", str(report), "--max-clips", "1").returncode == 0  # ours: replaced
    assert (report / "index.html").read_text().count('<article class="clip"') == 1
    (report / "extra.txt").write_text("mine now")
    proc = run_cli("report", str(out), "-o", str(report))
    assert proc.returncode == 2 and "extra.txt" in proc.stderr and (report / "extra.txt").is_file()
    missing = run_cli("report", str(tmp_path / "none.jsonl"), "-o", str(tmp_path / "r2"))
    assert missing.returncode == 2 and "no such records file or run folder" in missing.stderr


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _headless(*args, url):
    browser = _chromium()
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args, url],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(_chromium() is None, reason="no chromium binary on PATH (apt-get install chromium)")
def test_report_in_headless_chromium(batch, tmp_path):
    from PIL import Image

    _, out, _ = batch
    target = tmp_path / "report"
    assert run_cli("report", str(out), "-o", str(target)).returncode == 0
    url = (target / "index.html").as_uri()
    # the filters ran in the browser: the address's #status=failed shows the failed clip only
    dom = _headless("--dump-dom", url=url + "#status=failed").stdout
    assert "1 of 3 clip(s) shown" in dom, dom[-2000:]
    cards = re.findall(r'<article class="clip"[^>]*>', dom)
    assert len(cards) == 3 and sum("display: none" in c for c in cards) == 2
    assert all(("display: none" in c) == ('data-status="failed"' not in c) for c in cards)
    assert "3 of 3 clip(s) shown" in _headless("--dump-dom", url=url).stdout
    shot = tmp_path / SCREENSHOT
    _headless("--window-size=1280,1800", f"--screenshot={shot}", url=url)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 1800)
    colours = {colour for _, colour in image.getcolors(1 << 24)}
    assert (46, 139, 87) in colours and (192, 57, 43) in colours  # the ok and failed bars and badges were drawn
    assert len(colours) > 5000  # the frames and instance views were drawn, not just the page's flat colours
