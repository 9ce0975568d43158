"""MinAtar on the CPU with numba: each game's whole batched step as one compiled loop over the envs.

The torch games (``breakout.py`` etc.) are the specification; the kernels here run the same rules on the same
state tensors (numpy views of them, no copies), from the same random draws (``draws.py``), so a game can be
checkpointed, fed draws or changed in place exactly as the torch one, and ``tests/envs/test_minatar_numba.py``
asserts both give the same boards, rewards, ends and live state, step for step. One kernel call does what the
torch step does with some hundred small ops over the batch: map and stick the actions, advance, start the
new games where the last step ended one (next-step autoreset), draw the board.

Per env, the kernels follow the torch version's order of events exactly, including the throw-away step of an
env that restarts (it is advanced, then overwritten), so that the slot counters of Seaquest's rings agree.
What the torch version leaves undefined the kernels leave untouched: the fields of dead slots (the torch
version keeps counting their timers down) and scratch tensors (Seaquest's ``age``). Dead slots are skipped,
which is most of the saving in Seaquest (32 enemy and bullet slots, a few alive).

The step is serial: fastrl measures envs per core, and a training run's other work takes the other cores.
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from numba.cpython.unsafe.numbers import trailing_zeros

from fastrl.envs.minatar.draws import BITS, threshold

_JIT = dict(cache=True, nogil=True, boundscheck=False, _nrt=False)
NOOP, LEFT, UP, RIGHT, DOWN, FIRE = range(6)
threshold_half, threshold_third = threshold(1 / 2), threshold(1 / 3)
half_span = 1 << (BITS - 1)  # Freeway: a car's draw at or above it heads right


@numba.njit(inline="always")
def _integers(u, n):
    """``Draws.integers``: ``randint(n)`` from a 24-bit draw."""
    return ((2 * np.int64(u) + 1) * n) >> (BITS + 1)


@numba.njit(inline="always")
def _action(i, actions, action_set, draws, sticky, last_action, restart, stuck):
    """The agent's action through the action set and the sticky rule (``stuck``: where the last action was
    repeated); keeps ``last_action`` as ``MinAtarGame.step`` does."""
    a = action_set[actions[i]]
    stuck[i] = draws[0, i] < sticky
    if stuck[i]:
        a = last_action[i]
    if not restart[i]:
        last_action[i] = a
    return a


@numba.njit(**_JIT)
def _first_bad_action(actions, n):
    """The first env whose action is outside [0, n), or -1 (the kernels index tables with the actions)."""
    for i in range(actions.shape[0]):
        if actions[i] < 0 or actions[i] >= n:
            return i
    return -1


@numba.njit(inline="always")
def _light(board, cell):
    """Set ``cell`` (``channel * 100 + y * 10 + x``) of one env's flat board, as the torch games' ``light``;
    a cell outside the board (no game state leads there) is dropped rather than written past it."""
    if 0 <= cell < board.shape[0]:
        board[cell] = True


@numba.njit(inline="always")
def _finish(i, r, end, restart, reward, terminated, truncated, obs, clear):
    """Write env ``i``'s reward and ends (a restarting env's throw-away step gives 0 and no end) and return
    its board, its first ``clear`` cells cleared."""
    reward[i] = 0.0 if restart[i] else r
    terminated[i] = end and not restart[i]
    truncated[i] = False
    board = obs[i]
    board[:clear] = False
    return board


@numba.njit(inline="always")
def _put_row(board, cell, bits):
    """Cells ``cell`` to ``cell + 9`` of a board from a 10-bit row mask."""
    for c in range(10):
        board[cell + c] = (bits >> c) & 1


@numba.njit(inline="always")
def _clamp(v, low, high):
    return min(max(v, low), high)


_MOVE_X = np.array([0, -1, 0, 1, 0, 0], dtype=np.int64)
_MOVE_Y = np.array([0, 0, -1, 0, 1, 0], dtype=np.int64)


# ---- Breakout -------------------------------------------------------------------------------------------------

_BREAKOUT_TABLES = tuple(np.array(t, dtype=np.int64) for t in (
    (-1, 1, 1, -1), (-1, -1, 1, 1), (1, 0, 3, 2), (3, 2, 1, 0), (2, 3, 0, 1)))  # breakout.py's
WALL = (1 << 30) - 1


@numba.njit(**_JIT)
def _breakout(actions, restart, obs, reward, terminated, truncated, action_set, draws, sticky, last_action, stuck,
              ball_x, ball_y, ball_dir, last_x, last_y, pos, strike, bricks, serve,
              step_x, step_y, mirror_x, mirror_y, paddle_edge, move_x):
    for i in range(actions.shape[0]):
        a = _action(i, actions, action_set, draws, sticky, last_action, restart, stuck)
        r = 0.0
        end = False
        p = _clamp(pos[i] + move_x[a], 0, 9)
        x0, y0, d = ball_x[i], ball_y[i], ball_dir[i]
        x = x0 + step_x[d]
        y = y0 + step_y[d]
        if x < 0 or x > 9:
            d = mirror_x[d]
        x = _clamp(x, 0, 9)
        ceiling = y < 0
        y = _clamp(y, 0, 9)
        if ceiling:
            d = mirror_y[d]
        shift = _clamp((y - 1) * 10 + x, 0, 29)
        b = bricks[i]
        brick = (not ceiling) and 1 <= y <= 3 and ((b >> shift) & 1) == 1
        if brick and not strike[i]:
            r = 1.0
            b ^= np.int64(1) << shift
            y = y0
            d = mirror_y[d]
        strike[i] = brick
        if y == 9 and not ceiling and not brick:  # the bottom row
            if b == 0:
                b = WALL
            if x0 == p:  # the paddle's middle
                d = mirror_y[d]
                y = y0
            elif x == p:  # its edge
                d = paddle_edge[d]
                y = y0
            else:
                end = True
        if restart[i]:
            side = _integers(draws[serve, i], 2)
            x0 = x = side * 9
            d = side + 2
            y0 = y = 3
            p = 4
            b = WALL
            strike[i] = False
        pos[i], bricks[i], ball_x[i], ball_y[i], ball_dir[i], last_x[i], last_y[i] = p, b, x, y, d, x0, y0
        board = _finish(i, r, end, restart, reward, terminated, truncated, obs, obs.shape[1])
        for row in range(3):  # channel 3, rows 1 to 3
            _put_row(board, 310 + row * 10, (b >> (row * 10)) & 1023)
        _light(board, 90 + p)
        _light(board, 100 + y * 10 + x)
        _light(board, 200 + y0 * 10 + x0)


# ---- Asterix --------------------------------------------------------------------------------------------------
# The slots' fields come env-major ([num_envs, 8], as ``Asterix`` stores them for this kernel); the live slots
# are a bit mask while an env steps.

@numba.njit(**_JIT)
def _asterix(actions, restart, obs, reward, terminated, truncated, action_set, draws, sticky, last_action, stuck,
             player_x, player_y, xs, rightward, gold, alive, spawn_timer, spawn_speed, move_timer, move_speed,
             ramp_timer, ramp_index, alive_words, ramping, left_row, gold_row, slot_row, move_x, move_y):
    half, third = threshold_half, threshold_third
    slots = xs.shape[1]
    everything = (np.int64(1) << slots) - 1
    for i in range(actions.shape[0]):
        a = _action(i, actions, action_set, draws, sticky, last_action, restart, stuck)
        r = 0.0
        end = False
        live = was_live = _mask(alive_words, i)
        # A spawn where the timer ran out: a random free slot (row), side and kind.
        if spawn_timer[i] == 0:
            spawn_timer[i] = spawn_speed[i]
            free = everything & ~live
            if free:
                for _ in range(_integers(draws[slot_row, i], _popcount(free))):
                    free &= free - 1
                s = trailing_zeros(free)
                side = draws[left_row, i] < half
                xs[i, s] = 0 if side else 9
                rightward[i, s] = side
                gold[i, s] = draws[gold_row, i] < third
                live |= np.int64(1) << s
        px = _clamp(player_x[i] + move_x[a], 0, 9)
        py = _clamp(player_y[i] + move_y[a], 1, 8)
        player_x[i], player_y[i] = px, py
        s = py - 1  # the player's row's slot
        for moved in range(2):  # the player meets what is in its cell before and after things move
            if moved and move_timer[i] == 0:
                move_timer[i] = move_speed[i]
                m = live
                while m:
                    t = trailing_zeros(m)
                    m &= m - 1
                    x = xs[i, t] + (1 if rightward[i, t] else -1)
                    xs[i, t] = x
                    live &= ~(np.int64(x < 0 or x > 9) << t)
            if (live >> s) & 1 and xs[i, s] == px:
                if gold[i, s]:
                    r += 1.0
                    live &= ~(np.int64(1) << s)
                else:
                    end = True
        spawn_timer[i] -= 1
        move_timer[i] -= 1
        if ramping and (spawn_speed[i] > 1 or move_speed[i] > 1):
            if ramp_timer[i] >= 0:
                ramp_timer[i] -= 1
            else:
                if move_speed[i] > 1 and ramp_index[i] % 2 == 1:
                    move_speed[i] -= 1
                if spawn_speed[i] > 1:
                    spawn_speed[i] -= 1
                ramp_index[i] += 1
                ramp_timer[i] = 100
        if restart[i]:
            player_x[i], player_y[i] = 5, 5
            live = np.int64(0)
            spawn_speed[i] = spawn_timer[i] = 10
            move_speed[i] = move_timer[i] = 5
            ramp_timer[i] = 100
            ramp_index[i] = 0
        _store_mask(alive, i, live, was_live)
        board = _finish(i, r, end, restart, reward, terminated, truncated, obs, obs.shape[1])
        player = player_y[i] * 10 + player_x[i]
        board[player] = True
        m = live
        while m:  # things in channel 1 (enemies) or 3 (gold), trails in 2 (off the board: the player's cell)
            t = trailing_zeros(m)
            m &= m - 1
            x = np.int64(xs[i, t])
            row = (t + 1) * 10
            board[100 + gold[i, t] * 200 + row + x] = True
            behind = x - (1 if rightward[i, t] else -1)
            board[200 + row + behind if 0 <= behind <= 9 else player] = True


# ---- Freeway --------------------------------------------------------------------------------------------------
# The cars' fields come env-major ([num_envs, 8], as ``Freeway`` stores them for this kernel).

@numba.njit(inline="always")
def _new_speed(draws, row, i, car_speed, car_timer, j):
    """``Freeway._new_speeds`` for car ``j`` of env ``i``."""
    u = np.int64(draws[row + j, i])
    speed = _integers((u & (half_span - 1)) * 2, 5) + 1
    car_speed[i, j] = speed if u >= half_span else -speed
    car_timer[i, j] = speed


@numba.njit(inline="always")
def _wrap(x):
    return x - 10 if x > 9 else (x + 10 if x < 0 else x)


@numba.njit(**_JIT)
def _freeway(actions, restart, obs, reward, terminated, truncated, action_set, draws, sticky, last_action, stuck,
             car_x, car_timer, car_speed, pos, move_timer, terminate_timer, car_row):
    lanes = car_x.shape[1]
    for i in range(actions.shape[0]):
        a = _action(i, actions, action_set, draws, sticky, last_action, restart, stuck)
        r = 0.0
        ready = move_timer[i] == 0
        up = a == UP and ready
        down = a == DOWN and ready
        if up or down:
            move_timer[i] = 3
        p = _clamp(np.int64(pos[i]) - (1 if up else 0) + (1 if down else 0), 0, 9)
        if p == 0:  # across: +1, new speeds, back to the bottom
            r = 1.0
            for j in range(lanes):
                _new_speed(draws, car_row, i, car_speed, car_timer, j)
            p = 9
        lane = p - 1  # -1 and 8 (rows 0 and 9) match no car
        hit = 0 <= lane < lanes and car_x[i, lane] == 4
        for j in range(lanes):  # written without branches: a car moves on one step in 1 to 5
            t, v, x = np.int64(car_timer[i, j]), np.int64(car_speed[i, j]), np.int64(car_x[i, j])
            moving = t == 0
            car_timer[i, j] = abs(v) if moving else t - 1
            x = _wrap(x + (1 if v > 0 else -1)) if moving else x
            car_x[i, j] = x
            hit |= moving and j == lane and x == 4
        pos[i] = 9 if hit else p
        move_timer[i] = max(move_timer[i] - 1, 0)
        terminate_timer[i] -= 1
        end = terminate_timer[i] < 0
        if restart[i]:
            for j in range(lanes):
                _new_speed(draws, car_row, i, car_speed, car_timer, j)
                car_x[i, j] = 0
            pos[i] = 9
            move_timer[i] = 3
            terminate_timer[i] = 2500
        board = _finish(i, r, end, restart, reward, terminated, truncated, obs, obs.shape[1])
        _light(board, pos[i] * 10 + 4)
        for j in range(lanes):
            x = np.int64(car_x[i, j])
            v = np.int64(car_speed[i, j])
            _light(board, 100 + (j + 1) * 10 + x)
            behind = _wrap(x - (1 if v > 0 else (-1 if v < 0 else 0)))
            _light(board, 100 * (1 + abs(v)) + (j + 1) * 10 + behind)


# ---- Seaquest -------------------------------------------------------------------------------------------------
# The rings' fields come env-major ([num_envs, capacity]: ``Seaquest`` stores them so for this kernel), so one
# env's things share a cache line or two. Slot-major, the 30-odd fields of a slot index are 4096 bytes apart at
# 4096 envs, all in one L1 set: the kernel ran 2x slower there than at 4000 envs. While an env steps, the live
# slots of the enemies and their bullets are a bit mask (``live``, ``flying``): the loops visit the few live
# things only.

@numba.njit(inline="always")
def _mask(words, i):
    """Bit s set where flag s of env ``i`` is, from the flags' bytes read 8 at a time (``words``: a uint64 view
    of [num_envs, slots] bool): the product gathers the low bit of each of a word's bytes into its top byte."""
    m = np.int64(0)
    for k in range(words.shape[1]):
        m |= np.int64((words[i, k] * _GATHER) >> np.uint64(56)) << (8 * k)
    return m


_GATHER = np.uint64(0x0102040810204080)


@numba.njit(inline="always")
def _store_mask(flags, i, m, was):
    """``flags[i, s]`` from bit s of ``m``, where it differs from ``was`` (the mask as loaded)."""
    changed = m ^ was
    while changed:
        s = trailing_zeros(changed)
        changed &= changed - 1
        flags[i, s] = (m >> s) & 1


@numba.njit(inline="always")
def _spawn(slot_x, slot_y, right, timer, x, y, rightward, time, spawned, i):
    """``Things.spawn`` for env ``i``: the fields of the ring's next slot; returns the slot (the caller marks it
    live and checks that it was free)."""
    slot = spawned[i] & (x.shape[1] - 1)
    x[i, slot] = slot_x
    y[i, slot] = slot_y
    rightward[i, slot] = right
    time[i, slot] = timer
    spawned[i] += 1
    return slot


@numba.njit(inline="always")
def _pick(x, y, i, cx, cy, candidates, newest, oldest):
    """The oldest (or newest) of the slots in the bit mask ``candidates`` in cell (``cx``, ``cy``), the ring's
    newest being ``newest``; -1 if none."""
    capacity = x.shape[1]
    best, best_age = -1, -1 if oldest else capacity
    m = candidates
    while m:
        s = trailing_zeros(m)
        m &= m - 1
        if x[i, s] == cx and y[i, s] == cy:
            age = (newest - s) & (capacity - 1)
            if (age > best_age) if oldest else (age < best_age):
                best, best_age = s, age
    return best


@numba.njit(inline="always")
def _take_torpedoes(movers, i, e_x, e_y, e_newest, t_x, t_y, t_alive, t_spawned):
    """Each live torpedo, the oldest first, is taken by the newest of ``movers`` (a slot mask) in its cell:
    both go. Returns the slots taken."""
    taken = np.int64(0)
    if movers == 0:
        return taken
    torpedoes = t_x.shape[1]
    newest = t_spawned[i] - 1
    for k in range(torpedoes - 1, -1, -1):
        s = (newest - k) & (torpedoes - 1)
        if t_alive[i, s]:
            target = _pick(e_x, e_y, i, t_x[i, s], t_y[i, s], movers & ~taken, e_newest, False)
            if target >= 0:
                taken |= np.int64(1) << target
                t_alive[i, s] = False
    return taken


@numba.njit(**_JIT)
def _seaquest(actions, restart, obs, reward, terminated, truncated, action_set, draws, sticky, last_action, stuck,
              sub_x, sub_y, sub_right, shot_timer, enemy_spawn_speed, enemy_spawn_timer, diver_spawn_timer,
              move_speed, oxygen, ramp_index, diver_count, surface, exceeded,
              t_x, t_y, t_timer, t_right, t_alive, t_spawned,
              d_x, d_y, d_timer, d_right, d_alive, d_spawned,
              e_x, e_y, e_timer, e_right, e_alive, e_spawned, is_sub, shot_timer_enemy,
              b_x, b_y, b_right, b_alive, e_alive_words, is_sub_words, b_alive_words,
              ramping, enemy_left, enemy_sub, enemy_row, diver_left, diver_row, move_x, move_y):
    half, third = threshold_half, threshold_third
    torpedoes, divers = t_x.shape[1], d_x.shape[1]
    one = np.int64(1)
    for i in range(actions.shape[0]):
        a = _action(i, actions, action_set, draws, sticky, last_action, restart, stuck)
        r = 0.0
        end = False
        live = was_live = _mask(e_alive_words, i)
        subs = was_subs = _mask(is_sub_words, i)  # slots holding a sub (live or not)
        flying = was_flying = _mask(b_alive_words, i)
        # Spawns: an enemy (unless its row has one heading the other way), a diver.
        if enemy_spawn_timer[i] == 0:
            enemy_spawn_timer[i] = enemy_spawn_speed[i]
            side = draws[enemy_left, i] < half
            row = _integers(draws[enemy_row, i], 8) + 1
            clash = False
            m = live
            while m:
                s = trailing_zeros(m)
                m &= m - 1
                if e_y[i, s] == row and e_right[i, s] != side:
                    clash = True
            if not clash:
                s = _spawn(0 if side else 9, row, side, move_speed[i], e_x, e_y, e_right, e_timer, e_spawned, i)
                if (live >> s) & 1:
                    exceeded[i] = True
                live |= one << s
                kind = draws[enemy_sub, i] < third
                subs = (subs & ~(one << s)) | (np.int64(kind) << s)
                shot_timer_enemy[i, s] = 10
        if diver_spawn_timer[i] == 0:
            diver_spawn_timer[i] = 30
            side = draws[diver_left, i] < half
            row = _integers(draws[diver_row, i], 8) + 1
            s = _spawn(0 if side else 9, row, side, 5, d_x, d_y, d_right, d_timer, d_spawned, i)
            if d_alive[i, s]:
                exceeded[i] = True
            d_alive[i, s] = True
        # The submarine fires or moves.
        if a == FIRE and shot_timer[i] == 0:
            s = _spawn(sub_x[i], sub_y[i], sub_right[i], 0, t_x, t_y, t_right, t_timer, t_spawned, i)
            if t_alive[i, s]:
                exceeded[i] = True
            t_alive[i, s] = True
            shot_timer[i] = 5
        if a == LEFT:
            sub_right[i] = False
        elif a == RIGHT:
            sub_right[i] = True
        sx = _clamp(sub_x[i] + move_x[a], 0, 9)
        sy = _clamp(sub_y[i] + move_y[a], 0, 8)
        sub_x[i], sub_y[i] = sx, sy
        e_newest = e_spawned[i] - 1
        # Torpedoes fly; the newest first, each hits the oldest fish in its cell, else the oldest sub.
        newest = t_spawned[i] - 1
        for k in range(torpedoes):
            s = (newest - k) & (torpedoes - 1)
            if t_alive[i, s]:
                x = t_x[i, s] + (1 if t_right[i, s] else -1)
                t_x[i, s] = x
                if x < 0 or x > 9:
                    t_alive[i, s] = False
        for k in range(torpedoes):
            s = (newest - k) & (torpedoes - 1)
            if t_alive[i, s]:
                tx, ty = t_x[i, s], t_y[i, s]
                target = _pick(e_x, e_y, i, tx, ty, live & ~subs, e_newest, True)
                if target < 0:
                    target = _pick(e_x, e_y, i, tx, ty, live & subs, e_newest, True)
                if target >= 0:
                    live &= ~(one << target)
                    t_alive[i, s] = False
                    r += 1.0
        # Divers in the submarine's cell before or after their move are picked up, newest first, up to six.
        count = diver_count[i]
        newest = d_spawned[i] - 1
        for k in range(divers):
            s = (newest - k) & (divers - 1)
            if d_alive[i, s]:
                before = d_x[i, s] == sx and d_y[i, s] == sy
                moving = d_timer[i, s] == 0
                off = False
                after = False
                if moving:
                    d_timer[i, s] = 5
                    x = d_x[i, s] + (1 if d_right[i, s] else -1)
                    d_x[i, s] = x
                    off = x < 0 or x > 9
                    after = not off and x == sx and d_y[i, s] == sy
                else:
                    d_timer[i, s] -= 1
                if (before or after) and count < 6:
                    count += 1
                    d_alive[i, s] = False
                elif off:
                    d_alive[i, s] = False
        diver_count[i] = count
        # Enemies: meeting the submarine before or after a move ends the game; the moved ones (``movers``)
        # take torpedoes in their new cell.
        firing = live & subs  # subs alive before their move fire
        movers = np.int64(0)
        speed = move_speed[i]
        m = live
        while m:
            s = trailing_zeros(m)
            m &= m - 1
            x, y, t = e_x[i, s], e_y[i, s], e_timer[i, s]
            moving = t == 0
            end |= x == sx and y == sy
            e_timer[i, s] = speed if moving else t - 1
            x = x + ((1 if e_right[i, s] else -1) if moving else 0)
            e_x[i, s] = x
            off = x < 0 or x > 9
            met = moving and not off and x == sx and y == sy
            end |= met
            live &= ~(np.int64(off) << s)
            movers |= np.int64(moving and not off and not met) << s
        taken = _take_torpedoes(movers & subs, i, e_x, e_y, e_newest, t_x, t_y, t_alive, t_spawned)
        live &= ~taken
        m = firing
        while m:
            s = trailing_zeros(m)
            m &= m - 1
            t = shot_timer_enemy[i, s]
            if t == 0:
                shot_timer_enemy[i, s] = 10
                if (flying >> s) & 1:
                    exceeded[i] = True
                x = e_x[i, s]
                b_x[i, s], b_y[i, s], b_right[i, s] = x, e_y[i, s], e_right[i, s]
                flying |= np.int64(0 <= x <= 9) << s
            else:
                shot_timer_enemy[i, s] = t - 1
        m = flying
        while m:
            s = trailing_zeros(m)
            m &= m - 1
            x, y = b_x[i, s], b_y[i, s]
            end |= x == sx and y == sy
            x = x + (1 if b_right[i, s] else -1)
            b_x[i, s] = x
            off = x < 0 or x > 9
            end |= (not off) and x == sx and y == sy
            flying &= ~(np.int64(off) << s)
        taken2 = _take_torpedoes(movers & ~subs & live, i, e_x, e_y, e_newest, t_x, t_y, t_alive, t_spawned)
        live &= ~taken2
        r += _popcount(taken) + _popcount(taken2)
        # Timers, oxygen, surfacing.
        for timer in (enemy_spawn_timer, diver_spawn_timer, shot_timer):
            timer[i] = max(timer[i] - 1, 0)  # the original's ``-= timer > 0``
        if oxygen[i] <= 0:
            end = True
        if sy > 0:
            oxygen[i] -= 1
            surface[i] = False
        elif not surface[i]:
            if diver_count[i] == 0:
                end = True
            else:
                surface[i] = True
                if diver_count[i] == 6:
                    diver_count[i] = 0
                    r += np.int64(oxygen[i]) * 10 // 200
                oxygen[i] = 200
                diver_count[i] -= 1
                if ramping and (enemy_spawn_speed[i] > 1 or move_speed[i] > 2):
                    if move_speed[i] > 2 and ramp_index[i] % 2 == 1:
                        move_speed[i] -= 1
                    if enemy_spawn_speed[i] > 1:
                        enemy_spawn_speed[i] -= 1
                    ramp_index[i] += 1
        if restart[i]:
            oxygen[i] = 200
            diver_count[i] = 0
            sub_x[i], sub_y[i] = 5, 0
            sub_right[i] = False
            enemy_spawn_speed[i] = enemy_spawn_timer[i] = 20
            diver_spawn_timer[i] = 30
            move_speed[i] = 5
            ramp_index[i] = 0
            shot_timer[i] = 0
            surface[i] = True
            for s in range(torpedoes):
                t_alive[i, s] = False
            for s in range(divers):
                d_alive[i, s] = False
            live = flying = np.int64(0)
        _store_mask(e_alive, i, live, was_live)
        _store_mask(is_sub, i, subs, was_subs)
        _store_mask(b_alive, i, flying, was_flying)
        # The board (a trail off the board lights the front cell again, as in the torch game).
        board = _finish(i, r, end, restart, reward, terminated, truncated, obs, obs.shape[1])
        sx, sy = np.int64(sub_x[i]), np.int64(sub_y[i])
        front = sy * 10 + sx
        board[front] = True
        _light(board, 100 + front - (1 if sub_right[i] else -1))
        gauge = max(np.int64(oxygen[i]), 0) * 10 // 200
        first_diver = 9 - np.int64(diver_count[i])
        for c in range(10):
            board[790 + c] = c < gauge
            board[890 + c] = first_diver <= c < 9
        for s in range(torpedoes):
            if t_alive[i, s]:
                _light(board, 200 + np.int64(t_y[i, s]) * 10 + t_x[i, s])
        m = flying
        while m:
            s = trailing_zeros(m)
            m &= m - 1
            _light(board, 400 + np.int64(b_y[i, s]) * 10 + b_x[i, s])
        m = live
        while m:
            s = trailing_zeros(m)
            m &= m - 1
            x, y = np.int64(e_x[i, s]), np.int64(e_y[i, s])
            _light(board, 500 + ((subs >> s) & 1) * 100 + y * 10 + x)
            behind = x - (1 if e_right[i, s] else -1)
            board[300 + y * 10 + behind if 0 <= behind <= 9 else front] = True
        for s in range(divers):
            if d_alive[i, s]:
                x, y = np.int64(d_x[i, s]), np.int64(d_y[i, s])
                _light(board, 900 + y * 10 + x)
                behind = x - (1 if d_right[i, s] else -1)
                board[300 + y * 10 + behind if 0 <= behind <= 9 else front] = True


@numba.njit(inline="always")
def _popcount(m):
    n = 0
    while m:
        m &= m - 1
        n += 1
    return n


# ---- Space Invaders -------------------------------------------------------------------------------------------

@numba.njit(**_JIT)
def _space_invaders(actions, restart, obs, reward, terminated, truncated, action_set, draws, sticky, last_action, stuck,
                    pos, alien_dir, move_interval, alien_count, move_timer, alien_shot_timer, shot_timer,
                    ramp_index, aliens, bullets, alien_bullets, ramping, ones, nearest, wave, move_x):
    for i in range(actions.shape[0]):
        a = _action(i, actions, action_set, draws, sticky, last_action, restart, stuck)
        r = 0.0
        end = False
        p = np.int64(pos[i])
        fire = a == FIRE and shot_timer[i] == 0
        if fire:
            shot_timer[i] = 5
        p = _clamp(p + move_x[a], 0, 9)
        pos[i] = p
        # Bullets fly one row: the cannon's (fired into the bottom row) up, the aliens' down.
        fired = bullets[9, i] | ((np.int64(1) << p) if fire else 0)
        for row in range(8):
            bullets[row, i] = bullets[row + 1, i]
        bullets[8, i] = fired
        bullets[9, i] = 0
        for row in range(9, 0, -1):
            alien_bullets[row, i] = alien_bullets[row - 1, i]
        alien_bullets[0, i] = 0
        if (alien_bullets[9, i] >> p) & 1 or (aliens[9, i] >> p) & 1:
            end = True
        # The block marches every ``move_timer`` steps: sideways, or down a row and around at a wall.
        if move_timer[i] == 0:
            move_timer[i] = min(alien_count[i], move_interval[i])
            occupied = 0
            for row in range(10):
                occupied |= aliens[row, i]
            left = alien_dir[i] < 0
            if (occupied & 1 and left) or (occupied & 512 and not left):
                if aliens[9, i] != 0:
                    end = True
                alien_dir[i] = -alien_dir[i]
                last = aliens[9, i]
                for row in range(9, 0, -1):
                    aliens[row, i] = aliens[row - 1, i]
                aliens[0, i] = last
            else:
                for row in range(10):
                    aliens[row, i] = aliens[row, i] >> 1 if left else aliens[row, i] << 1
            if (aliens[9, i] >> p) & 1:
                end = True
        # The lowest alien of the occupied column nearest the cannon fires.
        if alien_shot_timer[i] == 0:
            alien_shot_timer[i] = 10
            occupied = 0
            for row in range(10):
                occupied |= aliens[row, i]
            column = nearest[p * 1024 + occupied]
            lowest = 0
            for row in range(10):
                if (aliens[row, i] >> column) & 1:
                    lowest = row
            alien_bullets[lowest, i] |= np.int64(1) << column
        # A cannon bullet in an alien's cell removes both.
        kills = 0
        for row in range(10):
            hit = aliens[row, i] & bullets[row, i]
            if hit:
                kills += ones[hit]
                aliens[row, i] ^= hit
                bullets[row, i] ^= hit
        r += kills
        alien_count[i] -= kills
        shot_timer[i] = max(shot_timer[i] - 1, 0)
        move_timer[i] -= 1
        alien_shot_timer[i] -= 1
        if alien_count[i] == 0:  # a cleared wave: the next one, faster while the ramp lasts
            if ramping and move_interval[i] > 6:
                move_interval[i] -= 1
                ramp_index[i] += 1
            for row in range(10):
                aliens[row, i] = wave[row]
            alien_count[i] = 24
        if restart[i]:
            pos[i] = 5
            for row in range(10):
                bullets[row, i] = 0
                alien_bullets[row, i] = 0
                aliens[row, i] = wave[row]
            alien_count[i] = 24
            alien_dir[i] = -1
            move_interval[i] = move_timer[i] = 12
            alien_shot_timer[i] = 10
            ramp_index[i] = 0
            shot_timer[i] = 0
        board = _finish(i, r, end, restart, reward, terminated, truncated, obs, obs.shape[1])
        board[90 + pos[i]] = True
        moving = 200 if alien_dir[i] < 0 else 300  # the aliens' channel by their heading
        for row in range(10):
            bits = aliens[row, i]
            if bits:
                _put_row(board, 100 + row * 10, bits)
                _put_row(board, moving + row * 10, bits)
            if bullets[row, i]:
                _put_row(board, 400 + row * 10, bullets[row, i])
            if alien_bullets[row, i]:
                _put_row(board, 500 + row * 10, alien_bullets[row, i])


# ---- the games' kernels and their state -----------------------------------------------------------------------

def _rows(game, *names) -> tuple[int, ...]:
    """The first row of each named group in the game's draw table."""
    return tuple(game.draws.slices[name].start for name in names)


def _breakout_state(game) -> tuple:
    return (*_views(game, "ball_x", "ball_y", "ball_dir", "last_x", "last_y", "pos", "strike", "bricks"),
            *_rows(game, "serve"), *_BREAKOUT_TABLES, _MOVE_X)


def _asterix_state(game) -> tuple:
    return (*_views(game, "player_x", "player_y", "x", "rightward", "gold", "alive", "spawn_timer", "spawn_speed",
                    "move_timer", "move_speed", "ramp_timer", "ramp_index"),
            _env_major(game.alive).view(np.uint64), game.ramping, *_rows(game, "spawn_left", "spawn_gold", "spawn_slot"), _MOVE_X, _MOVE_Y)


def _freeway_state(game) -> tuple:
    return (*_views(game, "car_x", "car_timer", "car_speed", "pos", "move_timer", "terminate_timer"),
            *_rows(game, "car"))


def _seaquest_state(game) -> tuple:
    rings = []
    for kind, fields in (("torpedoes", ("x", "y", "timer", "rightward", "alive", "spawned")),
                         ("divers", ("x", "y", "timer", "rightward", "alive", "spawned")),
                         ("enemies", ("x", "y", "timer", "rightward", "alive", "spawned")),
                         ("bullets", ("x", "y", "rightward", "alive"))):
        rings += [_env_major(getattr(getattr(game, kind), field)) for field in fields]
        if kind == "enemies":
            rings += [_env_major(game.is_sub), _env_major(game.shot_timer_enemy)]
    rings += [_env_major(flags).view(np.uint64) for flags in (game.enemies.alive, game.is_sub, game.bullets.alive)]
    return (*_views(game, "sub_x", "sub_y", "sub_right", "shot_timer", "enemy_spawn_speed", "enemy_spawn_timer",
                    "diver_spawn_timer", "move_speed", "oxygen", "ramp_index", "diver_count", "surface",
                    "capacity_exceeded"),
            *rings, game.ramping, *_rows(game, "enemy_left", "enemy_sub", "enemy_row", "diver_left", "diver_row"),
            _MOVE_X, _MOVE_Y)


def _space_invaders_state(game) -> tuple:
    return (*_views(game, "pos", "alien_dir", "move_interval", "alien_count", "move_timer", "alien_shot_timer",
                    "shot_timer", "ramp_index"), *_slot_major_views(game, "aliens", "bullets", "alien_bullets"),
            game.ramping, game._ones.numpy(), game._nearest.numpy(), game._wave.reshape(-1).numpy().astype(np.int64),
            _MOVE_X)


def _env_major(t: torch.Tensor) -> np.ndarray:
    """[num_envs, ...] numpy view of a per-env tensor; a [slots, num_envs] one must be stored env-major
    (``game.slot_tensor``)."""
    if t.dim() == 1:
        return t.numpy()
    if not t.T.is_contiguous():
        raise ValueError("per-slot state must be stored env-major for the numba kernel (game.slot_tensor)")
    return t.T.numpy()


def _views(game, *names) -> tuple[np.ndarray, ...]:
    return tuple(_env_major(getattr(game, name)) for name in names)


def _slot_major_views(game, *names) -> tuple[np.ndarray, ...]:
    """Space Invaders' maps stay [10, num_envs] (one 10-bit row per int16, so little to fetch per env)."""
    return tuple(getattr(game, name).numpy() for name in names)


#: the ``minatar`` package's game name -> (kernel, its state's arguments from the game object)
KERNELS = {"breakout": (_breakout, _breakout_state), "asterix": (_asterix, _asterix_state),
           "freeway": (_freeway, _freeway_state), "seaquest": (_seaquest, _seaquest_state),
           "space_invaders": (_space_invaders, _space_invaders_state)}


class Stepper:
    """``MinAtarGame.step`` through the game's kernel. The numpy views of the game's state are taken once (the
    torch games only ever change their tensors in place), those of the step's inputs and outputs once per
    buffer (``NativeVecEnv`` passes the same few buffers every step), so a step calls no torch function."""

    def __init__(self, game):
        self.game = game
        self.kernel, state = KERNELS[game.game]
        self.n_actions = game._action_set.numel()
        self.args = (game._action_set.numpy(), game.draws.values.numpy(), threshold(game.sticky_action_prob),
                     game.last_action.numpy(), game._sticky.numpy(), *state(game))
        self._buffers: dict[int, tuple[torch.Tensor, np.ndarray]] = {}

    def _numpy(self, t: torch.Tensor) -> np.ndarray:
        """The numpy view of ``t``, [num_envs] or [num_envs, cells]."""
        entry = self._buffers.get(id(t))
        if entry is None or entry[0] is not t:
            if len(self._buffers) > 32:  # a caller that passes new tensors every step
                self._buffers.clear()
            entry = self._buffers[id(t)] = (t, t.reshape(t.shape[0], -1).numpy() if t.dim() > 1 else t.numpy())
        return entry[1]

    def __call__(self, actions: torch.Tensor, restart: torch.Tensor, obs: torch.Tensor, reward: torch.Tensor,
                 terminated: torch.Tensor, truncated: torch.Tensor) -> None:
        actions = self._numpy(actions)
        bad = _first_bad_action(actions, self.n_actions)
        if bad >= 0:  # the kernels index tables with the actions: never past them
            raise IndexError(f"{self.game.id}: action {actions[bad]} for env {bad} is out of range "
                             f"[0, {self.n_actions - 1}]")
        self.kernel(actions, self._numpy(restart), self._numpy(obs), self._numpy(reward), self._numpy(terminated),
                    self._numpy(truncated), *self.args)
