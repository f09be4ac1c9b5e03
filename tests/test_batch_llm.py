"""A batch against a model server: requests of several clips overlap, vision work keeps its slots,
a failing request backs off alone, and each record counts queue time apart from model time."""

import json
import time
from pathlib import Path

import pytest

from agent.core.config import Settings
from agent.run.batch import run_batch
from conftest import hard_cut_montage
from openai_server import ScriptedOpenAI, caption_responder


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Four short clips, their offline captions (what a well-behaved model submits), and a tool
    cache filled by that offline batch."""
    from agent.testing.synthetic import random_scene, render_clip

    root = tmp_path_factory.mktemp("llm-batch")
    clips = []
    for i, camera in enumerate(["pan left", "static", "zoom in", "tilt up"]):
        clips.append(root / "clips" / f"c{i}.mp4")
        render_clip(random_scene(40 + i, camera, duration_s=1.0), clips[-1])
    cache = root / "cache.sqlite"
    run_batch(clips, root / "offline.jsonl", Settings(runs_dir=root / "runs"), cache_path=cache)
    captions = {}
    for line in (root / "offline.jsonl").read_text().splitlines():
        record = json.loads(line)
        assert record["status"] == "ok"
        captions[record["caption"]["Video"]] = record["caption"]
    return root, clips, cache, captions


def llm_batch(root, clips, cache, server, out, concurrency):
    settings = Settings(llm="scripted-vl", base_url=server.base_url, runs_dir=root / "runs", timeout_s=10,
                        retries=2, send_images=False, llm_concurrency=concurrency)
    summary = run_batch(clips, out, settings, cache_path=cache)
    return summary, [json.loads(line) for line in out.read_text().splitlines()]


def test_model_calls_overlap_and_a_429_backs_off_alone(dataset):
    root, clips, cache, captions = dataset
    responder = caption_responder(captions, fail_first={"c0.mp4": 1})
    with ScriptedOpenAI(responder=responder, delay=0.4) as server:
        started = time.perf_counter()
        summary, records = llm_batch(root, clips, cache, server, root / "overlap.jsonl", concurrency=4)
        wall = time.perf_counter() - started
    assert summary.done == {"ok": 4}
    assert {r["caption"]["Video"]: r["caption"] for r in records} == captions  # each clip got its own caption
    assert dict(responder.served) == {name: 1 for name in captions}  # none lost, none sent twice
    assert server.peak >= 2  # the server held requests of several clips at once
    # each clip's model time is its two replies' (0.4 s each), not the time it waited for slots
    assert all(r["usage"]["calls"] == 2 and r["usage"]["model_s"] >= 0.8 for r in records)
    assert max(r["timings"]["total_s"] for r in records) < wall
    first = next(r for r in records if r["caption"]["Video"] == "c0.mp4")
    assert first["usage"]["retried"] == 1 and first["usage"]["queue_s"] > 0  # the back-off counts as queue time
    assert all("vision_wait_s" in r["timings"] for r in records)


def test_one_request_at_a_time_queues(dataset):
    root, clips, cache, captions = dataset
    responder = caption_responder(captions)
    with ScriptedOpenAI(responder=responder, delay=0.3) as server:
        summary, records = llm_batch(root, clips, cache, server, root / "serial.jsonl", concurrency=1)
    assert summary.done == {"ok": 4} and server.peak == 1
    assert dict(responder.served) == {name: 1 for name in captions}
    assert all(r["usage"]["calls"] == 2 and r["usage"]["model_s"] >= 0.6 for r in records)


class SlowModel:
    """A chat model that takes ``seconds`` per reply; the first ``fail`` replies are HTTP 429s."""

    def __init__(self, seconds: float, fail: int = 0, retry_after_ms: int = 300):
        self.seconds, self.fail, self.retry_after_ms = seconds, fail, retry_after_ms
        self.calls: list[tuple[float, float]] = []

    def bind_tools(self, tools, **kwargs):
        return self

    def invoke(self, messages):
        import httpx
        import openai

        started = time.perf_counter()
        time.sleep(self.seconds)
        self.calls.append((started, time.perf_counter()))
        if self.fail:
            self.fail -= 1
            response = httpx.Response(429, headers={"retry-after-ms": str(self.retry_after_ms)},
                                      request=httpx.Request("POST", "http://server/v1/chat/completions"))
            raise openai.RateLimitError("slow down", response=response, body=None)
        return f"reply to {messages}"


def test_queue_time_is_counted_apart_and_a_back_off_holds_no_slot():
    import threading

    import httpx  # noqa: F401 - imported before the clock starts
    import openai  # noqa: F401

    from agent.run.throttle import Gates, GatedModel

    gates = Gates(vision=1, llm=1)
    failing, quick = SlowModel(0.05, fail=1, retry_after_ms=400), SlowModel(0.2)
    models = [GatedModel(failing, gates, retries=2), GatedModel(quick, gates, retries=2)]
    bound = [m.bind_tools([]) for m in models]  # as the graph uses them: the counts are the run's model's
    done: dict[int, float] = {}
    results: dict[int, str] = {}

    def clip(i: int) -> None:
        with gates.vision():  # a clip's thread holds a vision slot, given up while it waits for the model
            results[i] = bound[i].invoke(f"clip {i}")
            done[i] = time.perf_counter()

    started = time.perf_counter()
    threads = [threading.Thread(target=clip, args=(i,)) for i in (0, 1)]
    threads[0].start()
    time.sleep(0.02)
    threads[1].start()
    for t in threads:
        t.join()
    assert results == {0: "reply to clip 0", 1: "reply to clip 1"}
    # the quick request ran during the failing one's 0.4 s back-off: it did not wait for the retry
    assert done[1] - started < 0.4 and done[0] > done[1]
    assert models[0].retried == 1 and models[1].retried == 0
    # the single model slot: the quick request queued behind the first attempt (about 0.03 s),
    # the failing one counts its back-off as queue time, not model time
    assert 0.3 <= models[0].queue_s < 1.0 and models[1].queue_s > 0.01
    assert gates.peak_in_flight == 1
    with pytest.raises(Exception, match="slow down"):  # out of retries: the error goes up
        GatedModel(SlowModel(0.0, fail=5, retry_after_ms=1), gates, retries=2).invoke("again")


def test_shots_of_several_clips_through_the_server(tmp_path):
    """--split-shots against a server: each shot's record as it is captioned, each with its own caption."""
    from agent.run.batch import ShotOptions

    clips = [hard_cut_montage((50 + 2 * n, 51 + 2 * n), tmp_path / "clips" / f"m{n}.mp4", seconds=1.2, n_objects=1)
             for n in range(2)]
    cache = tmp_path / "cache.sqlite"
    offline = run_batch(clips, tmp_path / "offline.jsonl", Settings(runs_dir=tmp_path / "runs"), cache_path=cache,
                        shots=ShotOptions())
    assert offline.done == {"ok": 4}
    captions = {}
    for line in (tmp_path / "offline.jsonl").read_text().splitlines():
        record = json.loads(line)
        captions[record["caption"]["Video"]] = record["caption"]
    assert sorted(captions) == ["m0-shot001.mp4", "m0-shot002.mp4", "m1-shot001.mp4", "m1-shot002.mp4"]
    responder = caption_responder(captions)
    with ScriptedOpenAI(responder=responder, delay=0.2) as server:
        settings = Settings(llm="scripted-vl", base_url=server.base_url, runs_dir=tmp_path / "runs", timeout_s=10,
                            send_images=False, llm_concurrency=2)
        summary = run_batch(clips, tmp_path / "llm.jsonl", settings, cache_path=cache, shots=ShotOptions())
    records = [json.loads(line) for line in (tmp_path / "llm.jsonl").read_text().splitlines()]
    assert summary.done == {"ok": 4} and dict(responder.served) == {name: 1 for name in captions}
    assert {r["caption"]["Video"]: r["caption"] for r in records} == captions
    assert sorted((Path(r["path"]).name, r["shot"]) for r in records) == [("m0.mp4", 1), ("m0.mp4", 2),
                                                                         ("m1.mp4", 1), ("m1.mp4", 2)]


def test_llm_concurrency_is_not_part_of_the_tool_cache_key():
    """A batch run again with another --llm-concurrency is served the vision results measured before:
    no tool declares it reads the setting, so no cache key holds it."""
    from agent.core.registry import ToolRegistry
    from agent.run.plugins import load_plugins

    registry = ToolRegistry({t.name: t for t in load_plugins().tools(Settings())})
    read = {s for name in registry.tools for s in registry.key_settings(name)}
    assert "llm_concurrency" not in read and {"frames", "max_instances", "backend"} <= read
