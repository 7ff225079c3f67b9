"""``python -m voxtral_mlx.convert``: kept as the documented command; the code is
:mod:`voxtral_mlx.cli.convert`."""

import sys

from voxtral_mlx.cli.convert import main

if __name__ == "__main__":
    sys.exit(main())
