"""``python -m tta_memory.cli``."""

import sys

from tta_memory.cli.app import main

sys.exit(main())
