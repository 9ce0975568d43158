"""Every bad input gets a clear error before anything reaches C++, and the process goes on afterwards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fastrl.envs import make_env


@pytest.fixture(scope="module")
def pong():
    env = make_env("Pong-v5", 2, backend="envpool")
    env.reset()
    yield env
    env.close()


@pytest.fixture(scope="module")
def ale_pong():
    env = make_env("Pong-v5", 2, backend="ale")
    env.reset()
    yield env
    env.close()


@pytest.fixture(scope="module")
def cheetah():
    env = make_env("HalfCheetah-v5", 2, backend="envpool")
    env.reset()
    yield env
    env.close()


# ---- ids, backends, sizes, options -----------------------------------------------------------------------


@pytest.mark.parametrize(("env_id", "backend", "suggestion"), [
    ("Pong-v6", "auto", "Pong-v5"), ("pong-v5", "auto", "Pong-v5"), ("Pongg-v5", "ale", "Pong-v5"),
    ("HalfCheeta-v5", "envpool", "HalfCheetah-v5"), ("CartPol-v1", "gymnasium", "CartPole-v1")])
def test_unknown_id_lists_the_closest_known_ids(env_id, backend, suggestion):
    with pytest.raises(ValueError, match=f"unknown env id '{env_id}'.*closest known ids:.*{suggestion}"):
        make_env(env_id, 2, backend=backend)


def test_unknown_id_without_anything_close():
    with pytest.raises(ValueError, match="unknown env id 'zzzzzz'") as error:
        make_env("zzzzzz", 2)
    assert "closest" not in str(error.value)


@pytest.mark.parametrize("num_envs", [0, -3, 2.0, True, None])
def test_num_envs_must_be_a_positive_integer(num_envs):
    with pytest.raises(ValueError, match="num_envs"):
        make_env("CartPole-v1", num_envs)


@pytest.mark.parametrize(("backend", "env_id"), [("envpool", "CartPole-v1"), ("ale", "Pong-v5")])
@pytest.mark.parametrize("batch_size", [0, 5, -1])
def test_batch_size_must_be_within_num_envs(backend, env_id, batch_size):
    with pytest.raises(ValueError, match=r"batch_size=.*\[1, num_envs=4\]"):
        make_env(env_id, 4, backend=backend, batch_size=batch_size)


def test_num_threads_must_be_positive():
    with pytest.raises(ValueError, match="num_threads=0"):
        make_env("CartPole-v1", 4, backend="envpool", num_threads=0)


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown backend 'envpol'.*envpool"):
        make_env("CartPole-v1", 2, backend="envpol")


@pytest.mark.parametrize(("env_id", "backend", "option", "hint"), [
    ("Pong-v5", "envpool", "episodic_lives", "episodic_life"), ("Pong-v5", "ale", "sticky", None),
    ("CartPole-v1", "envpool", "episodic_life", None), ("CartPole-v1", "gymnasium", "num_threads", None),
    ("Pong-v5", "envpool", "vectorization", None)])
def test_unknown_option_lists_the_valid_ones(env_id, backend, option, hint):
    with pytest.raises(ValueError, match=f"unknown option.*'{option}'.*valid options: ") as error:
        make_env(env_id, 2, backend=backend, **{option: True})
    assert "check_actions" in str(error.value)
    if hint:
        assert f"did you mean '{hint}'" in str(error.value)


@pytest.mark.parametrize(("option", "value"), [("frame_skip", 0), ("noop_max", -1), ("img_size", 8.5),
                                               ("repeat_action_probability", 1.5), ("episodic_life", "yes")])
def test_bad_atari_option_values(option, value):
    with pytest.raises(ValueError, match=option):
        make_env("Pong-v5", 2, backend="ale", **{option: value})


def test_bad_gymnasium_vectorization():
    with pytest.raises(ValueError, match="vectorization='threads'.*sync"):
        make_env("CartPole-v1", 2, backend="gymnasium", vectorization="threads")


def test_step_before_reset():
    env = make_env("CartPole-v1", 2, backend="envpool")
    with pytest.raises(RuntimeError, match=r"step\(\) before reset\(\)"):
        env.step(torch.zeros(2, dtype=torch.int64))


# ---- actions -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env_name", ["pong", "ale_pong"])
@pytest.mark.parametrize(("bad", "value"), [(6, 6), (2**40, 2**40), (-1, -1), (np.iinfo(np.int64).min, None)])
def test_out_of_range_discrete_action_names_env_value_and_range(env_name, bad, value, request):
    env = request.getfixturevalue(env_name)
    for actions in (torch.tensor([0, bad]), np.array([0, bad], dtype=np.int64)):
        with pytest.raises(ValueError, match=r"step \d+: action .* for env 1 is out of range; expected an "
                                             r"integer in \[0, 5\]") as error:
            env.step(actions)
        if value is not None:
            assert f"action {value} " in str(error.value)
    assert env.step(torch.tensor([0, 5])).obs.shape == (2, 4, 84, 84)  # the process and the env go on


def test_out_of_range_action_in_an_unsigned_dtype(pong):
    with pytest.raises(ValueError, match="action 200 for env 0"):
        pong.step(np.array([200, 1], dtype=np.uint8))


@pytest.mark.parametrize("actions", [torch.zeros(3, dtype=torch.int64), torch.zeros(2, 2, dtype=torch.int64),
                                     torch.zeros((), dtype=torch.int64)])
def test_wrong_action_shape(pong, actions):
    with pytest.raises(ValueError, match=r"actions have shape .*expected \(2,\)"):
        pong.step(actions)


@pytest.mark.parametrize("actions", [torch.zeros(2), np.zeros(2), torch.zeros(2, dtype=torch.bool)])
def test_float_or_bool_actions_for_a_discrete_space(pong, actions):
    with pytest.raises(TypeError, match="expected an integer dtype"):
        pong.step(actions)


def test_actions_must_be_a_tensor_or_an_array(pong):
    with pytest.raises(TypeError, match="expected a torch tensor or a numpy array"):
        pong.step([0, 1])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_continuous_action_names_the_env(cheetah, bad):
    for actions in (torch.zeros(2, 6), np.zeros((2, 6))):
        actions[1, 3] = bad
        with pytest.raises(ValueError, match=r"step \d+: action for env 1 is not finite.*low=\[-1.0"):
            cheetah.step(actions)
    assert cheetah.step(torch.zeros(2, 6)).obs.shape == (2, 17)


def test_huge_but_finite_continuous_actions_pass_through(cheetah):
    """Out-of-bounds finite actions are not clipped here (MuJoCo clamps the control; the cost sees them)."""
    step = cheetah.step(np.full((2, 6), 1e308))  # their sum overflows: the exact check must not misfire
    assert step.obs.shape == (2, 17)
    small = cheetah.step(np.full((2, 6), 1.0)).reward
    large = cheetah.step(np.full((2, 6), 10.0)).reward
    assert (large < small - 30).all()  # the control cost of |10| is paid: no silent clipping


def test_gymnasium_actions_are_checked_too():
    env = make_env("Pendulum-v1", 2, backend="gymnasium")
    env.reset()
    with pytest.raises(ValueError, match="action for env 0 is not finite"):
        env.step(np.array([[np.nan], [0.0]], dtype=np.float32))
    discrete = make_env("CartPole-v1", 2, backend="gymnasium")
    discrete.reset()
    with pytest.raises(ValueError, match=r"action 2 for env 1 is out of range; expected an integer in \[0, 1\]"):
        discrete.step(torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="env_kwargs"):
        make_env("CartPole-v1", 2, backend="gymnasium", env_kwargs=5)


def test_integer_actions_for_a_continuous_space(cheetah):
    with pytest.raises(TypeError, match="expected a float dtype"):
        cheetah.step(torch.zeros(2, 6, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"expected \(2, 6\)"):
        cheetah.step(torch.zeros(2, 5))


# ---- async -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["envpool", "ale"])
def test_async_env_ids_are_checked(backend):
    env = make_env("Pong-v5", 4, backend=backend, batch_size=2, num_threads=1)
    env.reset()
    step = env.recv()
    ids = step.env_ids
    with pytest.raises(ValueError, match=r"env_ids .* out of range; expected integers in \[0, 3\]"):
        env.send(torch.zeros(2, dtype=torch.int64), torch.tensor([0, 9]))
    with pytest.raises(ValueError, match="repeat an env"):
        env.send(torch.zeros(2, dtype=torch.int64), torch.stack([ids[0], ids[0]]))
    with pytest.raises(ValueError, match="expected 2 integers"):
        env.send(torch.zeros(2, dtype=torch.int64), ids[:1])
    with pytest.raises(ValueError, match=r"action 7 for env \d is out of range"):
        env.send(torch.tensor([0, 7]), ids)
    env.send(torch.zeros(2, dtype=torch.int64), ids)  # refused sends left the batch sendable
    with pytest.raises(ValueError, match="still stepping"):
        env.send(torch.zeros(2, dtype=torch.int64), ids)
    env.recv()
    env.recv()  # the other two envs' first observations
    with pytest.raises(RuntimeError, match="fewer than batch_size"):
        env.recv()  # nothing left in flight: envpool and ale-py would wait forever
    env.close()
