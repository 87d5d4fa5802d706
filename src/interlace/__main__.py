"""``python -m interlace``: the same as the ``interlace`` command."""

import sys

from .cli import main

sys.exit(main())
