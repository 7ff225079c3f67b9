"""``python -m gui``: start the desktop app (one line, not a traceback, without the [gui] extra)."""

import sys

from gui.launcher import main

sys.exit(main())
