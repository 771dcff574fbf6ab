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
KEPT_YOURS = "changed both here and upstream, your edits kept: "  # a progress line per such file


class Diverged(Exception):
    pass


class CygnetPuller(GitPuller):
    def find_upstream_changed(self, kind):
        # nbgitpuller reads `git diff --name-status` line by line, where git quotes names with
        # non-ASCII characters ("caf\303\251.txt") and no such name is ever found; -z gives
        # them as they are.
        out = subprocess.check_output(
            ["git", "diff", "-z", "--name-status", f"..origin/{self.branch_name}"], cwd=self.repo_dir
        ).decode("utf-8", "surrogateescape")
        fields, files = out.split("\0"), []
        i = 0
        while i < len(fields) - 1:
            status = fields[i]
            width = 2 if status[:1] in ("R", "C") else 1  # renames and copies name two paths
            if status.startswith(kind):
                files.append(fields[i + width])
            i += 1 + width
        return files

    def rename_local_untracked(self):
        # nbgitpuller renames the user's file and lets the remote's take its name; Cygnet keeps
        # the user's file where it is and saves the remote's beside it. Set the user's aside
        # for the merge, put it back after (in update()). A user's file where upstream adds a
        # folder (their `data`, upstream's `data/x.csv`) is set aside the same way.
        self.both_created = []
        for name in self.find_upstream_changed("A"):
            clash = _clashing(self.repo_dir, name)
            if clash and clash not in [n for n, _ in self.both_created]:
                path = os.path.join(self.repo_dir, clash)
                aside = path + ".cygnet-yours"
                os.replace(path, aside)
                self.both_created.append((clash, aside))
                yield f"{clash} was created both here and upstream: keeping yours\n"

    def _changed(self, spec):
        return _changed_between(self.repo_dir, spec)

    def update(self):
        try:
            yield from super().update()
        except BaseException:
            # The merge failed (histories diverged, git broke): the user's files go back where
            # they were, so a backup of the folder is their copy exactly as it was.
            for name, aside in getattr(self, "both_created", []):
                path = os.path.join(self.repo_dir, name)
                if os.path.lexists(aside) and not os.path.lexists(path):
                    os.replace(aside, path)
            raise
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
        # The files both sides changed: the merge keeps the user's edits where they clash, and
        # the user should know which files those are (nbgitpuller #263).
        for name in sorted(
            set(self._changed("origin/" + self.branch_name + "...HEAD"))
            & set(self._changed("HEAD...origin/" + self.branch_name))
        ):
            yield f"{KEPT_YOURS}{name}\n"
        try:
            yield from super().merge()
        except subprocess.CalledProcessError as e:
            subprocess.run(["git", "merge", "--abort"], cwd=self.repo_dir, capture_output=True)
            raise Diverged() from e


def _changed_between(repo_dir, spec):
    result = subprocess.run(["git", "diff", "-z", "--name-only", spec], cwd=repo_dir, capture_output=True)
    return (
        [n for n in result.stdout.decode("utf-8", "surrogateescape").split("\0") if n] if result.returncode == 0 else []
    )


def _clashing(repo_dir, name):
    """The user's path that stands where upstream adds `name`: `name` itself, or a file (or
    link) where `name` needs a folder. None if nothing is in the way."""
    parts = name.split("/")
    for depth in range(1, len(parts)):
        prefix = os.path.join(repo_dir, *parts[:depth])
        if os.path.islink(prefix) or (os.path.lexists(prefix) and not os.path.isdir(prefix)):
            return "/".join(parts[:depth])
        if not os.path.lexists(prefix):
            return None
    return name if os.path.lexists(os.path.join(repo_dir, name)) else None


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
