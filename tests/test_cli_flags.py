"""One CLI: flags made from the settings model, the same on run and batch; config keys equal to flag
names; help on every flag; --version, --debug anywhere, the program name; the command reference in docs/cli.md."""

import argparse
import json
import re

import pytest

from agent.cli.main import _parser, main, prog_name
from agent.cli.reference import BEGIN, END, reference, settings_actions
from agent.core.config import NOT_FLAGS, Settings, load_settings
from agent.core.errors import InputError
from conftest import ROOT, run_cli


def subcommands(parser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from subcommands(sub, (*prefix, name))


def test_run_and_batch_take_every_setting():
    commands = dict(subcommands(_parser("x")))
    wanted = set(Settings.model_fields) - NOT_FLAGS
    for name in (("run",), ("batch",)):
        assert {a.dest for a in settings_actions(commands[name])} == wanted, name


def test_every_flag_has_help_text():
    missing = [(" ".join(name), a.option_strings or a.dest) for name, sub in subcommands(_parser("x"))
               for a in sub._actions if not isinstance(a, argparse._SubParsersAction) and not (a.help or "").strip()]
    assert missing == []


def test_one_output_flag_name_everywhere():
    commands = dict(subcommands(_parser("x")))
    for name in ("run", "batch", "export", "enhance"):
        flags = {s for a in commands[(name,)]._actions for s in a.option_strings}
        assert {"-o", "--output", "--out"} <= flags, name


REFERENCE_FILE = ROOT / "docs" / "cli.md"


def reference_block() -> str:
    text = REFERENCE_FILE.read_text()
    assert BEGIN in text and END in text, f"{REFERENCE_FILE} has no command reference"
    return text[text.index(BEGIN): text.index(END) + len(END)]


def test_docs_command_reference_is_the_parsers():
    assert reference_block() == reference(), "regenerate it: python -m agent.cli.reference > the block in docs/cli.md"


def _flags(line_cells: str) -> set[str]:
    return set(re.findall(r"`(--?[A-Za-z][\w-]*)`", line_cells))


def test_docs_reference_names_the_flags_of_each_help(capsys):
    block = reference_block()
    sections = re.split(r"^#### ", block, flags=re.M)
    documented: dict[str, set[str]] = {}
    settings: set[str] = set()
    for section in sections[1:]:
        title, _, body = section.partition("\n")
        flags = set().union(*(_flags(row.split("|")[1]) for row in body.splitlines() if row.startswith("| `")))
        if title.startswith("Setting flags"):
            settings = flags
            continue
        name = title.strip("`").removeprefix("python -m agent ").strip()
        documented[name] = flags | ({"SETTINGS"} if "And every setting flag" in body else set())
    assert settings and {"run", "batch", "export", "validate", "flatten", "enhance"} <= documented.keys()
    for name, flags in documented.items():
        if "SETTINGS" in flags:
            flags = (flags - {"SETTINGS"}) | settings
        with pytest.raises(SystemExit) as helped:  # argparse prints the help and exits 0
            main([*name.split(), "--help"])
        assert helped.value.code == 0, capsys.readouterr().err
        shown = set()
        for line in capsys.readouterr().out.splitlines():
            if re.match(r"^  -", line):  # an option's own line (help text is indented further)
                shown |= set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", line.split("  ", 2)[1]))
        assert shown - {"-h", "--help"} == flags, name


def test_version_debug_anywhere_and_the_program_name(tmp_path):
    version = run_cli("--version")
    assert version.returncode == 0 and re.fullmatch(r"python -m agent \d+\.\d+\.\d+\S*", version.stdout.strip())
    for command in ("run", "plugins"):  # after the command too
        later = run_cli(command, "--version")
        assert later.returncode == 0 and later.stdout == version.stdout, later.stderr
    assert prog_name("/usr/local/bin/instance-agent") == "instance-agent"
    assert prog_name("/work/agent/__main__.py") == "python -m agent"
    helped = run_cli("run", "--help")
    assert helped.stdout.startswith("usage: python -m agent run")
    missing = tmp_path / "missing.json"
    quiet = run_cli("validate", str(missing))
    loud = run_cli("validate", str(missing), "--debug")  # after the command, as well as before it
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr and "no such file" in loud.stderr


def test_config_keys_are_flag_names_and_old_keys_still_work(tmp_path, monkeypatch):
    for var in ("INSTANCE_AGENT_TIMEOUT", "INSTANCE_AGENT_TIMEOUT_S", "INSTANCE_AGENT_DISABLED_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    config = tmp_path / "instance-agent.toml"
    monkeypatch.setenv("INSTANCE_AGENT_CONFIG", str(config))
    config.write_text('timeout = 30\nformat = "dense"\nmax-reply-tokens = 100\nllm-concurrency = 3\n'
                      'no-plugin = ["plugins.pose"]\n'
                      '[plugins.depth]\nmodel = "my/depth"\n[plugins.film_language]\nenabled = false\n'
                      '[plugins.mine]\nlevel = 3\n')
    s = load_settings()
    assert (s.timeout_s, s.output_format, s.max_tokens, s.llm_concurrency) == (30, "dense", 100, 3)
    assert s.plugin("depth") == {"model": "my/depth"} and s.plugin("mine") == {"level": 3} and s.plugin("other") == {}
    assert set(s.disabled_plugins) == {"plugins.pose", "film_language"}
    config.write_text('timeout_s = 31\noutput_format = "any2caption"\nmax_tokens = 7\nmax_reply_tokens = 8\n')
    s = load_settings()
    assert (s.timeout_s, s.output_format, s.max_tokens) == (31, "any2caption", 8)
    monkeypatch.setenv("INSTANCE_AGENT_TIMEOUT", "9")  # the environment by the flag's name too
    assert load_settings().timeout_s == 9
    config.write_text('colour = "red"\n')  # (its message points to the [plugins.NAME] tables)
    with pytest.raises(InputError, match=r"unknown setting 'colour'"):
        load_settings()
    config.write_text('timeout = -1\n')
    monkeypatch.delenv("INSTANCE_AGENT_TIMEOUT")
    with pytest.raises(InputError, match=r"setting 'timeout': Input should be greater than 0 \(from "):
        load_settings()


def test_a_conditions_own_settings_are_flags_over_its_config_table(tmp_path, monkeypatch):
    """``--depth-model`` and ``--pose-weights`` come from the depth and pose conditions' settings models: a
    flag goes into its ``[plugins.NAME]`` table, over the config file's, and the condition reads it."""
    from agent.cli.flags import settings_from_args
    from plugins.depth import CONDITION as DEPTH
    from plugins.pose import CONDITION as POSE

    config = tmp_path / "instance-agent.toml"
    config.write_text('[plugins.depth]\nmodel = "file/depth"\n[plugins.pose]\nweights = "file-pose.pt"\n')
    monkeypatch.setenv("INSTANCE_AGENT_CONFIG", str(config))
    commands = dict(subcommands(_parser("x")))
    for name in ("run", "batch"):
        flags = {o for a in commands[(name,)]._actions for o in a.option_strings}
        assert {"--depth-model", "--pose-weights"} <= flags, name
    parse = commands[("run",)].parse_args
    given = settings_from_args(parse(["clip.mp4", "--depth-model", "flag/depth"]))
    assert given.plugin("depth") == {"model": "flag/depth"} and given.plugin("pose") == {"weights": "file-pose.pt"}
    assert DEPTH.settings_from(given).model == "flag/depth" and POSE.settings_from(given).weights == "file-pose.pt"
    assert DEPTH.settings_from(settings_from_args(parse(["clip.mp4"]))).model == "file/depth"
    monkeypatch.setenv("INSTANCE_AGENT_DEPTH_MODEL", "env/depth")  # the environment, under the flag
    assert DEPTH.settings_from(settings_from_args(parse(["clip.mp4"]))).model == "env/depth"
    assert DEPTH.settings_from(settings_from_args(parse(["clip.mp4", "--depth-model", "flag/depth"]))).model == \
        "flag/depth"
    monkeypatch.delenv("INSTANCE_AGENT_DEPTH_MODEL")
    monkeypatch.delenv("INSTANCE_AGENT_CONFIG")
    config.unlink()
    assert DEPTH.settings_from(settings_from_args(parse(["clip.mp4"]))).model == \
        "depth-anything/Depth-Anything-V2-Small-hf"


def test_batch_honours_the_run_settings(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    out = tmp_path / "records.jsonl"
    proc = run_cli("batch", str(path), "-o", str(out), "-q", "--max-instances", "1", "--format", "dense",
                   "--background", "pixelate", "--no-plugin", "plugins.pose", "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr
    assert "[1/1]" not in proc.stderr  # -q: the summary only
    record = json.loads(out.read_text())
    assert record["format"] == "dense" and isinstance(record["output"], str) and record["output"]
    assert len(record["caption"]["Structural Description"]["Main Instance"]) == 1
    run = json.loads((tmp_path / "runs").joinpath(record["run_dir"]).joinpath("record.json").read_text())
    assert run["output_format"] == "dense"
    bad = run_cli("batch", str(path), "-o", str(out), "--frames", "0")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --frames: Input should be greater than or equal to 1"


def test_batch_refuses_an_unknown_format_before_any_clip(three_objects_clip, tmp_path):
    path, _ = three_objects_clip
    out = tmp_path / "records.jsonl"
    proc = run_cli("batch", str(path), "-o", str(out), "--format", "poem")
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: --format poem: not a known format (known:")
    assert not out.exists()
