"""Start nx-27017 listening on several addresses.

nx-27017's `--host` takes one address, but the asyncio server beneath it accepts a list,
so `--host 127.0.0.1,172.17.0.1` here binds loopback and the Docker bridge gateway only,
never 0.0.0.0. Everything else is nx-27017's own command line (pinned version).
"""

import sys

from nx_27017 import daemon, nx_27017

_run = daemon.run_server_threaded


def _run_on_each(host, port, handler, use_threading=False):
    hosts = host.split(",") if "," in host else host
    return _run(hosts, port, handler, use_threading)


daemon.run_server_threaded = _run_on_each

if __name__ == "__main__":
    sys.exit(nx_27017.main())
