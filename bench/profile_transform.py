"""Where our transform spends its time: cProfile of one run on a benchmark file, one thread.

    python -m bench.profile_transform                 # the ~20 MB clean and 1%-bad files
    python -m bench.profile_transform --records 55000 --top 25

Not part of `make bench` (a profiler distorts the figures); a tool for reading them.
"""

import argparse
import cProfile
import pstats

import pyarrow as pa

from bench.data import BAD_RATIO, bronze_file
from bench.ours import ours


def profile(records: int, bad_ratio: float, top: int) -> None:
    data = bronze_file(records, bad_ratio).read_bytes()
    ours(data)  # warm-up, so imports and first-touch costs stay out of the profile
    profiler = cProfile.Profile()
    profiler.enable()
    ours(data)
    profiler.disable()
    print(f"\n=== {records:,} records, bad ratio {bad_ratio:g}, {len(data) / 1e6:.1f} MB ===")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=110_000, help="records per file")
    parser.add_argument("--top", type=int, default=20, help="functions to list per file")
    args = parser.parse_args()
    # One thread, so time spent inside pyarrow's readers is charged to the calling function.
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    for bad_ratio in (0.0, BAD_RATIO):
        profile(args.records, bad_ratio, args.top)


if __name__ == "__main__":
    main()
