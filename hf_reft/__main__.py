"""``python -m hf_reft`` is the ``hf-reft`` command."""

import sys

from .cli import main

sys.exit(main())
