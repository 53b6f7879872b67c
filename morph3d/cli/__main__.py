"""``python -m morph3d.cli``: the ``morph3d`` command."""

import sys

from morph3d.cli import main

sys.exit(main())
