import argparse
import importlib

import pytest

from resistcall.cli import COMMANDS, build_parser, main


@pytest.mark.parametrize(("command", "module"), sorted(COMMANDS.items()))
def test_each_command_is_registered_by_its_module(command, module):
    sub = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(module).register(sub)
    assert command in sub.choices


def test_full_parser_lists_every_command():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(COMMANDS)


def test_unknown_command_exits_with_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["no-such-stage"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
