"""Train (or resume) one run of the study: ``python -m benchmarks.reproduce.train_run NAME CONFIG [KEY=VALUE ...]``."""

import sys

from benchmarks.reproduce.common import train

if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python -m benchmarks.reproduce.train_run NAME CONFIG [KEY=VALUE ...]")
    print(train(sys.argv[1], sys.argv[2], sys.argv[3:]))
