"""``python -m server`` and the ``imagepipe`` console script / frozen executable share this entry."""

import multiprocessing
import sys


def main() -> None:
    # Must run first in a frozen executable: a spawned worker re-enters here and is diverted.
    multiprocessing.freeze_support()
    from server.cli import main as cli_main

    sys.exit(cli_main())


if __name__ == "__main__":
    main()
