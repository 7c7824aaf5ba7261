"""``python -m opsagent_sim.drill``."""

import sys

from opsagent_sim.drill.cli import main

sys.exit(main())
