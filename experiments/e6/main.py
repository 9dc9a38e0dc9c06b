"""E6: KAN fits f(x, y) = x·y (plain, sparse and pruned, multiplication nodes).

Usage: python experiments/e6/main.py [--workdir DIR] [--seeds 0,1,2,3,4] [--quick]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from config import get_best_config, get_config  # noqa: E402

from physnet.reproduce import experiment_main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(experiment_main("E6", get_config(), get_best_config()))
