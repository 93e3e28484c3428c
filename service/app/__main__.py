"""`python -m app`: start uvicorn with the flags from the settings, the same in every mode."""

import sys

import uvicorn
from pydantic import ValidationError

from app.config import get_settings


def main() -> int:
    try:
        settings = get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "LAB_" + "_".join(str(part) for part in error["loc"]).upper()
            print(f"invalid setting {name}: {error['msg']} (got {error.get('input')!r})", file=sys.stderr)
        return 2
    uvicorn.run(
        "app.main:app",
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop=settings.loop,
        http=settings.http,
        access_log=settings.access_log,
        log_level="warning",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
