"""``python -m stelab``: the command line without an installed entry point (workflow rules use this)."""

import sys

from .cli import main

sys.exit(main())
