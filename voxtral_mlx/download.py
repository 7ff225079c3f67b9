"""``python -m voxtral_mlx.download``: kept as the documented command; the code is
:mod:`voxtral_mlx.cli.download`."""

import sys

from voxtral_mlx.cli.download import main

if __name__ == "__main__":
    sys.exit(main())
