"""Fill in deploy/nginx/*.conf.in: the web processes, the port, the paths.

    python deploy/nginx/render.py --server 10.0.0.11:8000 --server 10.0.0.12:8000 \\
        --listen 80 --server-name example.org --media-root /srv/wmcwm/instance/media \\
        --static-root /srv/wmcwm/app/static --cache-dir /var/cache/nginx/wmcwm > wmcwm.conf

With ``--prefix DIR`` it writes a whole nginx set-up into DIR instead (nginx.conf, wmcwm.conf,
logs/, tmp/, cache/), for ``nginx -p DIR -c DIR/nginx.conf -e DIR/logs/error.log``: how the tests
start it without root. Standard library only, so it runs on a host with no virtual environment.
"""

from __future__ import annotations

import argparse
import getpass
import math
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MiB = 1024 * 1024
# Room around a part for nothing but the body: nginx counts only the body against the limit.
PART_SLACK_KIB = 64


def render(template: str, values: dict[str, str]) -> str:
    out = template
    for name, value in values.items():
        out = out.replace(f"@{name}@", value)
    left = re.findall(r"@[A-Z_]+@", out)
    if left:
        raise SystemExit(f"render.py: no value for {', '.join(sorted(set(left)))}")
    return out


def site(args: argparse.Namespace) -> str:
    servers = "\n".join(f"    server {s} max_fails=3 fail_timeout=10s;" for s in args.server)
    part_kib = math.ceil(args.part_size / 1024) + PART_SLACK_KIB
    return render(
        (HERE / "wmcwm.conf.in").read_text(),
        {
            "SERVERS": servers,
            "LISTEN": args.listen,
            "SERVER_NAME": args.server_name,
            "MAX_BODY": f"{math.ceil(args.max_body / MiB)}m",
            "PART_BODY": f"{part_kib}k",
            "MEDIA_ROOT": str(Path(args.media_root).resolve()),
            "STATIC_ROOT": str(Path(args.static_root).resolve()),
            "CACHE_DIR": str(Path(args.cache_dir).resolve()),
        },
    )


def write_prefix(args: argparse.Namespace) -> Path:
    prefix = Path(args.prefix).resolve()
    for sub in ("logs", "tmp", "cache"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    if not args.cache_dir:
        args.cache_dir = str(prefix / "cache")
    (prefix / "wmcwm.conf").write_text(site(args))
    # Started by root, nginx's workers would drop to "nobody", who cannot read a private prefix.
    user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    main = render(
        (HERE / "nginx.conf.in").read_text(),
        {"PREFIX": str(prefix), "USER": user, "MIME_TYPES": args.mime_types},
    )
    (prefix / "nginx.conf").write_text(main)
    return prefix / "nginx.conf"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", action="append", required=True, help="host:port of a web process")
    parser.add_argument("--listen", default="80")
    parser.add_argument("--server-name", default="_")
    parser.add_argument("--media-root", default=str(ROOT / "instance" / "media"))
    parser.add_argument("--static-root", default=str(ROOT / "app" / "static"))
    parser.add_argument("--cache-dir", default="", help="the micro-cache (default: /var/cache/nginx/wmcwm)")
    parser.add_argument(
        "--max-body", type=int, default=int(os.environ.get("MAX_REQUEST_BYTES", 100 * MiB)),
        help="the app's MAX_REQUEST_BYTES",
    )  # fmt: skip
    parser.add_argument(
        "--part-size", type=int, default=int(os.environ.get("UPLOAD_PART_SIZE", 8 * MiB)),
        help="the app's UPLOAD_PART_SIZE",
    )  # fmt: skip
    parser.add_argument("--mime-types", default="/etc/nginx/mime.types")
    parser.add_argument("--prefix", help="write a whole nginx set-up into this folder")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse(argv)
    if args.prefix:
        print(write_prefix(args))
        return
    args.cache_dir = args.cache_dir or "/var/cache/nginx/wmcwm"
    sys.stdout.write(site(args))


if __name__ == "__main__":
    main(sys.argv[1:])
