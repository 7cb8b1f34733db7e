"""The one error the bench reports as a sentence instead of a traceback: something the operator
can fix (a wrong URL, a missing backend, a server that would not start)."""


class BenchError(Exception):
    pass
