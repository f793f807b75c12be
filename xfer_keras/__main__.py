"""``python -m xfer_keras ...`` - see :mod:`xfer_keras.cli`."""

from xfer_keras.cli import main

raise SystemExit(main())
