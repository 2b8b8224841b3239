"""Stage options: one dataclass per stage is its config section, its CLI options and defaults."""

from __future__ import annotations

import argparse
import dataclasses
import shlex

import pytest
import yaml

from resistcall import options
from resistcall.cli import build_parser
from resistcall.inputs import SheetError, load_config
from resistcall.inputs.schemas import load_schema

from conftest import BIN, REPO, copy_workflow, run

SHEETS = REPO / "tests" / "data" / "sheets"


def _subparser(section: str) -> argparse.ArgumentParser:
    parser = build_parser(section)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[section]


def _cli_options(section: str) -> dict[str, object]:
    """dest -> default of the subcommand's option group (the stage's options)."""
    group = next(g for g in _subparser(section)._action_groups if g.title == "stage options")
    return {a.dest: a.default for a in group._group_actions}


@pytest.mark.parametrize("section", sorted(options.SECTIONS))
def test_config_keys_cli_options_and_dataclass_fields_are_one_set(section):
    cls = options.options_class(section)
    fields = {f.name: f.default for f in options.option_fields(cls)}
    schema = options.config_schema(load_schema("config"))["properties"][section]
    # keys a section declares in config.schema.yaml that are not options (pon: normals, file)
    declared = set(load_schema("config")["properties"][section].get("properties", {}))
    assert set(schema["properties"]) == set(fields) | declared
    assert not declared & set(fields)
    assert schema["additionalProperties"] is False
    assert _cli_options(section) == fields  # same names, same defaults
    # every other field is a runtime input the command sets, never a config key
    others = {f.name for f in dataclasses.fields(cls)} - set(fields)
    assert not others & set(_cli_options(section))


@pytest.mark.parametrize("section", sorted(options.SECTIONS))
def test_rule_options_string_round_trips_through_the_cli(section):
    """What `stage_options` passes is parsed back by the subcommand into the same values."""
    cls = options.options_class(section)
    values = {}
    for f in options.option_fields(cls):
        if f.metadata["choices"] or isinstance(f.default, str | bool):
            values[f.name] = f.default
        else:
            bump = (
                f.default + 1
                if f.metadata["lt"] is None and f.metadata["le"] is None
                else f.default
            )
            values[f.name] = type(f.default)(bump)
    if section == "cnv":
        values["amp_cn"] = values["gain_cn"] + 1  # keep gain <= amp after the bumps
    parser = argparse.ArgumentParser()
    options.add_options(parser, cls)  # what the subcommand adds (checked above)
    args = parser.parse_args(shlex.split(options.cli_args(section, values)))
    runtime = {f.name: f.default for f in dataclasses.fields(cls) if "help" not in f.metadata}
    assert options.from_args(cls, args, **runtime) == cls(**values, **runtime)


def test_demo_config_carries_only_changed_options():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for section in options.SECTIONS:
        cls = options.options_class(section)
        for key, value in (config.get(section) or {}).items():
            assert value != getattr(cls(), key), f"{section}.{key} repeats its default"


def _problems(tmp_path, extra: str) -> list[str]:
    text = (SHEETS / "config.yaml").read_text() + extra
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(SheetError) as info:
        load_config(path)
    return [str(p) for p in info.value.problems]


def test_typo_and_bad_values_are_refused_with_key_and_line(tmp_path):
    n = len((SHEETS / "config.yaml").read_text().splitlines())
    problems = _problems(
        tmp_path,
        "snv: {min_vfa: 0.02}\ncnv:\n  amp_cn: six\n  bootstrap: 5\nfusion: {min_fragments: 2.5}\n",
    )
    path = tmp_path / "config.yaml"
    assert problems[0].startswith(
        f"{path}, line {n + 1}, key snv.min_vfa: unknown key (did you mean min_vaf? known keys: "
    )
    assert problems[1:] == [
        f"{path}, line {n + 3}, key cnv.amp_cn: cnv.amp_cn must be a number > 0 (found 'six')",
        f"{path}, line {n + 4}, key cnv.bootstrap: cnv.bootstrap must be a whole number >= 10 "
        "(found 5)",
        f"{path}, line {n + 5}, key fusion.min_fragments: fusion.min_fragments must be a whole "
        "number >= 1 (found 2.5)",
    ]


def test_cross_field_rule_is_checked_at_validation(tmp_path):
    n = len((SHEETS / "config.yaml").read_text().splitlines())
    assert _problems(tmp_path, "cnv: {gain_cn: 7}\n") == [
        f"{tmp_path / 'config.yaml'}, line {n + 1}, key cnv: cnv thresholds must satisfy "
        "del_cn < loss_cn < ploidy < gain_cn <= amp_cn (got 0.5 < 1.5 < 2.0 < 7 <= 6.0)"
    ]


def test_cli_refuses_a_bad_value_by_its_bounds(capsys):
    with pytest.raises(SystemExit):
        _subparser("snv").parse_args(["--min-vaf", "1.5"])
    assert "expected a number > 0 and < 1, got '1.5'" in capsys.readouterr().err


def test_workflow_start_refuses_bad_options_in_one_line_each(tmp_path):
    """`snakemake -n` stops at parse time with resistcall's messages, not a jsonschema dump."""
    work = copy_workflow(tmp_path)
    config = work / "config" / "config.yaml"
    lines = config.read_text().splitlines()
    n_snv = next(i for i, t in enumerate(lines) if t.startswith("snv:"))
    n_cnv = next(i for i, t in enumerate(lines) if t.startswith("cnv:"))
    lines[n_snv] = "snv: {min_vfa: 0.02}"
    lines[n_cnv] = "cnv: {amp_cn: six}"
    config.write_text("\n".join(lines) + "\n")
    proc = run([str(BIN / "snakemake"), "-n", "--cores", "1"], work, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"config/config.yaml, line {n_snv + 1}, key snv.min_vfa: unknown key (did you" in out
    assert (
        f"config/config.yaml, line {n_cnv + 1}, key cnv.amp_cn: cnv.amp_cn must be a number > 0 "
        "(found 'six')"
    ) in out
    assert "Failed validating" not in out and "jsonschema" not in out
    assert not (work / "results").exists()
