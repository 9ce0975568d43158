"""When the next log row, evaluation or checkpoint is due."""


def next_multiple(value: int, interval: int) -> int:
    """The first multiple of ``interval`` after ``value``."""
    return (value // interval + 1) * interval
