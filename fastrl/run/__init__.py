"""The parts of a run that every loop composes: stage timers (``stopwatch``), episode statistics read at
the log interval (``episodes``), evaluation (``evaluation``), the training and evaluation envs with their
snapshots (``envs``) and the interval schedule (``intervals``). The run directory is ``fastrl.rundir``, its
logs ``fastrl.log``, its checkpoints ``fastrl.checkpoint``; ``fastrl.runner.Run`` holds them together for a
single-process loop, and A3C's supervisor uses the same parts for its worker processes."""
