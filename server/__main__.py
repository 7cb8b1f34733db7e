"""``python -m server`` and the ``imagepipe`` console script / frozen executable share this entry."""

import multiprocessing
import sys


def main() -> None:
    # Must run first in a frozen executable: a spawned worker re-enters here and is diverted.
    multiprocessing.freeze_support()
    from server.frozen import on_start

    on_start()
    if sys.argv[1:2] == ["_selftest"]:  # hidden build diagnostic (server/selftest.py), not in --help
        from server.selftest import main as selftest_main

        sys.exit(selftest_main(sys.argv[2:]))
    from server.cli import main as cli_main

    sys.exit(cli_main())


if __name__ == "__main__":
    main()
