"""Process-level settings the package makes on import."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")

FAULTS_OF_A_64_MB_TENSOR = """
import resource
import animeinterp_cli  # must come before torch
import torch
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    tensor = torch.ones(16 << 20)  # 64 MB, every page written
    del tensor
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults()
print(faults())
"""


@pytest.mark.skipif(not THP.exists() or "[never]" in THP.read_text(), reason="no transparent huge pages here")
def test_large_tensors_are_backed_by_huge_pages():
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    result = subprocess.run([sys.executable, "-c", FAULTS_OF_A_64_MB_TENSOR], capture_output=True, text=True,
                            check=True, env=env)
    # 4 KB pages: 16,384 faults for 64 MB; 2 MB pages: 32 (plus the odd small page)
    assert int(result.stdout) < 4000
