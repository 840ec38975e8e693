"""``python -m ittybit_frames.cli``."""

import sys

from ittybit_frames.cli._main import main

sys.exit(main())
