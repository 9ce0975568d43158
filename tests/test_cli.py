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
