"""`python -m rcaudit` is the `rcaudit` command."""

import sys

from .cli import main

sys.exit(main())
