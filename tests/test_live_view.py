"""What a person watching a run reads: short tool results, which models ran, no model counters without a model."""

from __future__ import annotations

import json

from agent.cli.trace import ModelsUsed, Totals, format_event
from agent.core.observation import readable


def test_a_tool_result_reads_as_words_not_json():
    observation = json.dumps({"backend": "packaged", "count": 2, "hint": "a long hint " * 20,
                              "instances": [{"id": "No.0", "class": "person", "colours": ["red"]},
                                            {"id": "No.1", "class": "car"}]})
    line = readable(observation)
    assert line == "backend packaged · count 2 · 2 instances (red person, car)"
    assert "{" not in readable(json.dumps({"label": "static", "rates": {"pan": 0.01}, "shaky": False}))
    assert readable("plain text  result") == "plain text result"
    assert len(readable(json.dumps({f"k{i}": "x" * 20 for i in range(20)}))) <= 110


def test_the_done_line_names_the_models_that_ran_and_passed_over_tiers_are_quiet():
    used = ModelsUsed()
    events = [{"event": "backend_fallback", "tool": "detect_instances", "backend": "packaged",
               "reason": "YOLO weights yolo11n.pt not found", "level": "info"},
              {"event": "backend", "tool": "detect_instances", "backend": "packaged", "model": "nanodet"},
              {"event": "backend_fallback", "tool": "segment_and_blur", "backend": "grabcut",
               "reason": "SAM2 checkpoint not found", "level": "info"}]
    assert [format_event(used.add(e)) for e in events] == [None, None, None]
    done = format_event(used.add({"event": "done", "status": "ok", "total_s": 1.0}))
    assert done.plain == "done: ok in 1.00s  models: nanodet (detect_instances), grabcut (segment_and_blur)"
    # asked for explicitly (--backend neural) and not available: a warning the user sees
    warned = format_event({"event": "backend_fallback", "tool": "detect_instances", "backend": "packaged",
                           "reason": "ultralytics is not installed", "level": "warning"})
    assert "ultralytics is not installed" in warned.plain


def test_no_model_counters_when_the_offline_planner_drives_the_run():
    offline, served = Totals(), Totals()
    for totals, llm in ((offline, "offline"), (served, "gpt-4o")):
        totals.add({"event": "start", "llm": llm})
        totals.add({"event": "model", "tokens": 0})
        totals.add({"event": "tool"})
    assert offline.summary() == "tools run 1 · failed validations 0"
    assert served.summary().startswith("model calls 1 · tokens 0 · ")
