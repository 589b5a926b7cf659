"""Make the package importable from a checkout (scripts are thin entry points over it)."""
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "use-cases" / "golden_record" / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))
