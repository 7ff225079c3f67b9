# PyInstaller runtime hook (packaging/voxtral.spec): register the mlx_lm package without running
# its __init__, which imports transformers (and through it torch when present) for its LLM
# tokenizers. voxtral_mlx only needs mlx_lm.models.base and mlx_lm.models.cache, which import
# nothing but mlx, so the build leaves transformers out: ~75 MB smaller, ~1 s faster model load.
import importlib.util
import sys

_spec = importlib.util.find_spec("mlx_lm")
if _spec is not None and "mlx_lm" not in sys.modules:
    sys.modules["mlx_lm"] = importlib.util.module_from_spec(_spec)
del _spec
