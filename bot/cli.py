"""The `videobot` command."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.config import ConfigError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="videobot", description="Slack /video bot for the Perf video API.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the bot (Socket Mode with SLACK_APP_TOKEN, otherwise HTTP on PORT)")
    args = parser.parse_args(argv)

    if args.command == "run":
        try:
            settings = load_settings()
        except ConfigError as exc:
            print(f"videobot: configuration error: {exc}", file=sys.stderr)
            return 2
        from bot.app import serve
        from bot.logs import setup_logging

        setup_logging(settings.log_level, settings.secrets())
        asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
