"""The command line's argument splitting: comma lists become separate values, bracketed values stay whole."""

from fastrl.cli import split_commas


def test_comma_lists_split_after_flags():
    assert split_commas(["--env", "Pong-v5,HalfCheetah-v5", "--num-envs=8,16"]) == [
        "--env", "Pong-v5", "HalfCheetah-v5", "--num-envs", "8", "16"]


def test_commas_inside_brackets_stay():
    argv = ["--learner-options", "hidden=[32,32]", "lr=1e-3", "--x={a:1,b:2},c"]
    assert split_commas(argv) == ["--learner-options", "hidden=[32,32]", "lr=1e-3", "--x", "{a:1,b:2}", "c"]


def test_flags_and_plain_values_untouched():
    assert split_commas(["train", "dqn", "-h", "--seed", "3"]) == ["train", "dqn", "-h", "--seed", "3"]


def test_a_users_error_in_any_command_is_one_line_and_exit_status_2(capsys, monkeypatch):
    from fastrl.cli import main

    monkeypatch.delenv("FASTRL_TRACEBACK", raising=False)
    assert main(["bench", "replay", "--cases", "foo-1m"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "fastrl bench replay: error: case 'foo-1m': unknown kind 'foo'; expected atari or vec17"
    assert main(["bench", "envs", "--env", "Nope-v9", "--seconds", "0.1"]) == 2
    assert "fastrl bench envs: error: unknown env id 'Nope-v9'" in capsys.readouterr().err


def test_a_command_group_lists_its_subcommands(capsys):
    from fastrl.cli import main

    assert main(["bench", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: fastrl bench <subcommand>" in out and "fastrl bench learn" in out and "fastrl bench peers" in out
    assert main(["profile"]) == 2  # a group without its subcommand: the list, on stderr
    assert "fastrl profile ops" in capsys.readouterr().err
    assert main(["bench", "nope"]) == 2
    assert "unknown command 'bench nope'" in capsys.readouterr().err
