"""nbgitpuller's GitPuller with Cygnet's rule for files created on both sides, run as
`python -m cygnet.server.opener.puller URL DIR [--branch B] [--depth N]` so the caller can
bound it in time and size and kill it.

Exit codes: 0 merged; 3 the histories cannot be reconciled (the caller backs up and re-clones);
anything else: git failed (network, permissions), and the folder is left as it was.
"""

import argparse
import os
import subprocess
import sys

from nbgitpuller.pull import GitPuller, execute_cmd

from .policy import free_name

DIVERGED = 3


class Diverged(Exception):
    pass


class CygnetPuller(GitPuller):
    def rename_local_untracked(self):
        # nbgitpuller renames the user's file and lets the remote's take its name; Cygnet keeps
        # the user's file where it is and saves the remote's beside it. Set the user's aside
        # for the merge, put it back after (in update()).
        self.both_created = []
        for name in self.find_upstream_changed("A"):
            path = os.path.join(self.repo_dir, name)
            if os.path.lexists(path):
                aside = path + ".cygnet-yours"
                os.replace(path, aside)
                self.both_created.append((name, aside))
                yield f"{name} was created both here and upstream: keeping yours\n"

    def update(self):
        yield from super().update()
        for name, aside in self.both_created:
            path = os.path.join(self.repo_dir, name)
            folder, base = os.path.split(path)
            stem, suffix = os.path.splitext(base)
            remote = free_name(folder, f"{stem}-remote{suffix}")
            os.replace(path, os.path.join(folder, remote))
            os.replace(aside, path)
            yield f"saved the upstream version of {name} as {remote}\n"

    def update_remotes(self):
        yield from execute_cmd(["git", "fetch", "--progress", "origin", self.branch_name], cwd=self.repo_dir)

    def merge(self):
        try:
            yield from super().merge()
        except subprocess.CalledProcessError as e:
            subprocess.run(["git", "merge", "--abort"], cwd=self.repo_dir, capture_output=True)
            raise Diverged() from e


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cygnet-puller")
    parser.add_argument("url")
    parser.add_argument("folder")
    parser.add_argument("--branch")
    parser.add_argument("--depth", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        puller = CygnetPuller(args.url, args.folder, branch=args.branch, depth=args.depth)
        for line in puller.pull():
            print(line, end="" if line.endswith("\n") else "\n", flush=True)
    except Diverged:
        print("the local and upstream histories cannot be reconciled", flush=True)
        return DIVERGED
    except subprocess.CalledProcessError as e:
        print(f"git failed: {' '.join(map(str, e.cmd))} (exit {e.returncode})", flush=True)
        return 1
    except Exception as e:  # noqa: BLE001 - nbgitpuller's own errors (no such branch, lock held)
        print(f"{type(e).__name__}: {e}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
