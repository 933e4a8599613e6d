"""The allocator setting applied at supernode start: glibc accepts it (run in a child so this process is untouched)."""
import subprocess
import sys


def test_tune_malloc_is_accepted_by_glibc():
    out = subprocess.run([sys.executable, "-c", "from supernode.malloc_tuning import tune_malloc; print(tune_malloc())"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "True"
