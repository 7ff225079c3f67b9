import sys

from voxtral_mlx.cli.main import main

sys.exit(main())
