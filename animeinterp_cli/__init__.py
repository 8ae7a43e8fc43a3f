"""animeinterp: frame-rate doubling for animation video with the AnimeInterp pipeline."""

import os

__version__ = "0.1.0"

# PyTorch's CPU allocator backs blocks of 2 MB and more with transparent huge pages when this
# is set (Linux; read once, at torch's first allocation, hence here, before torch is imported).
# Without it every large activation is a fresh mmap faulted in 4 KB at a time: at 960×540
# PReLU and add ran 2.3× slower, GridNet ~1.4× (bench/throughput.py --baseline). A user's own
# setting wins.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
