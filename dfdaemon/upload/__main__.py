"""``python -m dfdaemon.upload [flags]``: the ``dfget server`` process."""
from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from dfdaemon.upload.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
