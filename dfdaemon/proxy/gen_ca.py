"""``dfdaemon gen-ca``: write a CA key and certificate for HTTPS interception (``hijack_https``).

Exit codes: 0 written, 1 refused or failed (files exist without ``--force``, cannot write),
2 bad arguments.
"""
from __future__ import annotations

import argparse
import os
import sys

from .certs import cert_pem, generate_ca, key_pem

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dfdaemon gen-ca",
                                description="Generate a CA certificate and key for dfdaemon HTTPS interception "
                                            "(hijack_https.cert / hijack_https.key).")
    p.add_argument("--cert", default="ca.crt", help="where to write the CA certificate (PEM), default ca.crt")
    p.add_argument("--key", default="ca.key", help="where to write the CA private key (PEM, mode 0600), "
                                                   "default ca.key")
    p.add_argument("--common-name", default="dfdaemon proxy CA", help="subject common name of the CA")
    p.add_argument("--days", type=int, default=3650, help="validity in days, default 3650")
    p.add_argument("--key-type", choices=("ec", "rsa"), default="ec", help="ec (P-256, default) or rsa (2048)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    return p


def _write(path: str, data: bytes, mode: int) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return EXIT_OK if e.code == 0 else EXIT_USAGE
    if args.days <= 0:
        print("gen-ca: --days must be a positive number of days", file=sys.stderr)
        return EXIT_USAGE
    if not args.common_name.strip():
        print("gen-ca: --common-name must not be empty", file=sys.stderr)
        return EXIT_USAGE
    if os.path.abspath(args.cert) == os.path.abspath(args.key):
        print("gen-ca: --cert and --key must be different files", file=sys.stderr)
        return EXIT_USAGE
    existing = [p for p in (args.cert, args.key) if os.path.exists(p)]
    if existing and not args.force:
        print(f"gen-ca: {', '.join(existing)} already exist(s); use --force to overwrite", file=sys.stderr)
        return EXIT_FAILED
    for path in (args.cert, args.key):
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            print(f"gen-ca: directory {parent} does not exist", file=sys.stderr)
            return EXIT_FAILED
    key, cert = generate_ca(args.common_name.strip(), args.days, args.key_type)
    try:
        _write(args.key, key_pem(key), 0o600)
        _write(args.cert, cert_pem(cert), 0o644)
    except OSError as e:
        print(f"gen-ca: cannot write: {e.strerror or e} ({e.filename or ''})", file=sys.stderr)
        return EXIT_FAILED
    print(f"wrote CA certificate {args.cert} (CN={args.common_name.strip()}, valid {args.days} days, "
          f"expires {cert.not_valid_after_utc:%Y-%m-%d})")
    print(f"wrote CA key {args.key} (mode 0600; keep it secret)")
    print("set hijack_https.cert and hijack_https.key to these files and make clients trust the certificate")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
