"""The secretariat's command line (the commands live in ``cli/``, one module per audience).

    python starter.py check cycles/2017.toml
    python starter.py participants import samples/participants.csv
    python starter.py start cycles/2017.toml
    python starter.py status 2017
    python starter.py --help

Exit status: 0 done, 1 refused or failed (the message says why), 2 invalid input.
"""

from __future__ import annotations

from cli.app import main

if __name__ == "__main__":
    main()
