"""Tasks the benchmarks enqueue: nothing but the queue's own cost."""


def noop() -> None:
    """Do nothing: B2 measures django-q2 itself."""
