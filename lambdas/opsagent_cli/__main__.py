"""``python -m opsagent_cli ...`` is the same as ``opsagent ...``."""

import sys

from opsagent_cli.main import main

sys.exit(main())
