"""One sync job in a process of its own: `python -m cygnet.storage.sync_run` reads its job
({src, dest, delete, dry_run, data_dir, protected, versions}) as JSON on stdin and writes JSON lines:
{"progress": [files_done, files_total, bytes]}, {"waiting": true}, then {"summary": {...}} or
{"error": message, "status": http_status}.

The server runs sync jobs this way so that hashing and uploading thousands of files never
compete with its event loop for the GIL. Box credentials come from the environment, as for
`cygnet sync`: never on a command line.
"""

import json
import sys

from cygnet.core.errors import CygnetError


def main() -> int:
    job = json.loads(sys.stdin.read())

    def say(**message: object) -> None:
        print(json.dumps(message), flush=True)

    try:
        from .sync_engine import sync

        summary = sync(
            job["src"],
            job["dest"],
            delete=job["delete"],
            dry_run=job["dry_run"],
            data_dir=job["data_dir"],
            protected=job["protected"],
            versions=job.get("versions", 0),
            progress=lambda done, total, sent: say(progress=[done, total, sent]),
            waiting=lambda: say(waiting=True),
        )
        say(summary=summary.to_dict())
    except CygnetError as e:
        say(error=str(e), status=e.http_status)
    except Exception as e:  # noqa: BLE001 - the job must end with a message its server can show
        say(error=f"internal error: {type(e).__name__}: {e}", status=500)
    return 0


if __name__ == "__main__":
    sys.exit(main())
