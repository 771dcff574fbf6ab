"""Outputs that survive a closed browser (JupyterLab's oldest open issue, #2833).

JupyterLab writes a cell's outputs into the notebook itself, as they reach the browser. Close
the browser while a cell runs and the kernel's later outputs reach nobody: the cell is left
with what came before. Upstream's answers replace JupyterLab's cell executor outright
(jupyter-server-nbmodel) or jupyter-collaboration itself (jupyter-server-documents). Cygnet needs
both of those where they are: its progress and Cancel under cells ride on the browser's own
execute requests, and its history, restore and co-editing on jupyter-collaboration.

So the server keeps watch instead. Each `execute_request` a browser sends through this server's
kernel websocket is noted with the cell it came from (JupyterLab puts the cell's id in the
request's metadata). When that websocket closes while the cell still runs, the server follows
the kernel's iopub for it and writes what the browser would have written (execution count,
streams, results, displays, errors, clear_output) into the notebook's shared document, which
jupyter-collaboration saves to the file and shows to anyone who opens it, or has it open. A
browser that stays connected keeps writing its outputs itself, so no output is written twice.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

OUTPUT_TYPES = {"stream", "execute_result", "display_data", "error"}


@dataclass
class Execution:
    cell_id: str
    session_key: str  # the browser's kernel session: it may come back (a network blip)
    orphaned: bool = False  # its browser is gone: the keeper writes the outputs
    clear_on_next: bool = False  # clear_output(wait=True) seen
    writes: list = field(default_factory=list)  # iopub messages not yet in the document
    writing: bool = False
    count: int | None = None  # its execution count (JupyterLab sets it from the reply it missed)


class OutputKeeper:
    """One per server; the kernel websocket connection (kernel_websocket) reports to it."""

    def __init__(self, serverapp):
        self.serverapp = serverapp
        self.log = serverapp.log
        self.runs: dict[str, dict[str, Execution]] = {}  # kernel id -> parent msg id -> run
        self.streams: dict = {}  # kernel id -> the keeper's own iopub stream of that kernel
        # A restart that gave a kernel a pooled kernel's process moved it to new ports: the
        # keeper's stream is then dead, and it follows the kernel again when a browser connects.
        moved = getattr(serverapp.kernel_manager, "moved", None)
        if moved is not None:
            moved.append(self._unfollow)

    # --- what the websocket connection reports ---------------------------------------------
    def executing(self, connection, msg_list):
        """A shell message from a browser (the v1 websocket protocol's frames: header, parent,
        metadata, content...); an execute_request from a notebook cell is noted."""
        try:
            header = json.loads(msg_list[0])
            if header.get("msg_type") != "execute_request":
                return
            cell_id = json.loads(msg_list[2]).get("cellId")
        except (ValueError, IndexError, AttributeError, TypeError):
            return
        if not isinstance(cell_id, str) or not cell_id or not self._collaborating():
            return
        kernel_id = connection.kernel_id
        self.runs.setdefault(kernel_id, {})[header["msg_id"]] = Execution(cell_id, connection.session_key)
        self._follow(kernel_id)

    def closed(self, connection):
        """The browser behind `connection` is gone: its cells still running are the keeper's now."""
        runs = self.runs.get(connection.kernel_id, {})
        for run in runs.values():
            if run.session_key == connection.session_key:
                run.orphaned = True
        connections = getattr(self.serverapp.kernel_manager, "_kernel_connections", {})
        if not runs and connections.get(connection.kernel_id, 0) <= 1:  # its last browser, nothing running
            self._unfollow(connection.kernel_id)

    def connecting(self, connection):
        """A browser connects to a kernel: the keeper listens from now on (a listener that joins
        only when a cell starts can miss its first messages), and if it is the same browser
        session coming back (jupyter_server replays what it missed), it takes its cells back;
        the replay leaves out what the keeper has written meanwhile."""
        if self._collaborating():
            self._follow(connection.kernel_id)
        runs = self.runs.get(connection.kernel_id, {})
        taken = {msg_id for msg_id, run in runs.items() if run.orphaned and run.session_key == connection.session_key}
        if not taken:
            return
        for msg_id in taken:
            runs[msg_id].orphaned = False
        buffers = getattr(self.serverapp.kernel_manager, "_kernel_buffers", {})
        info = buffers.get(connection.kernel_id)
        if info and info.get("session_key") == connection.session_key and info.get("buffer"):
            session = self.serverapp.kernel_manager.get_kernel(connection.kernel_id).session
            info["buffer"] = [
                (channel, parts)
                for channel, parts in info["buffer"]
                if not (channel == "iopub" and _parent_id(session, parts) in taken)
            ]

    # --- following a kernel -----------------------------------------------------------------
    def _follow(self, kernel_id):
        if kernel_id in self.streams:
            return
        try:
            kernel = self.serverapp.kernel_manager.get_kernel(kernel_id)
            stream = kernel.connect_iopub()
        except Exception as e:  # noqa: BLE001 - only a safety net: the browser still gets its outputs
            self.log.debug("cygnet: outputs of kernel %s are not kept: %s", kernel_id, e)
            return
        self.streams[kernel_id] = stream
        stream.on_recv(lambda parts: self._on_iopub(kernel_id, kernel.session, parts))

    def _unfollow(self, kernel_id):
        stream = self.streams.pop(kernel_id, None)
        if stream is not None and not stream.closed():
            stream.on_recv(None)
            stream.close()
        self.runs.pop(kernel_id, None)

    def _on_iopub(self, kernel_id, session, parts):
        runs = self.runs.get(kernel_id)
        if not runs:
            return
        try:
            _, parts = session.feed_identities(parts)
            msg = session.deserialize(parts)
        except Exception:  # noqa: BLE001 - a message this keeper cannot read is the browser's business
            return
        parent = msg["parent_header"].get("msg_id")
        run = runs.get(parent)
        if run is None:
            return
        msg_type = msg["header"]["msg_type"]
        if msg_type in ("execute_input", "execute_result"):
            run.count = msg["content"].get("execution_count", run.count)
        done = msg_type == "status" and msg["content"].get("execution_state") == "idle"
        if run.orphaned and (msg_type in OUTPUT_TYPES or msg_type in ("execute_input", "clear_output") or done):
            run.writes.append(msg)
            if not run.writing:
                run.writing = True
                asyncio.ensure_future(self._write(kernel_id, run))
        if done:
            del runs[parent]

    # --- writing into the document ------------------------------------------------------------
    async def _write(self, kernel_id, run):
        """Write the run's pending messages, in order, until none are left (one writer per run)."""
        try:
            while run.writes:
                document = await self._document(kernel_id)
                messages, run.writes = run.writes, []
                cell = (
                    None if document is None else next((c for c in document.ycells if c.get("id") == run.cell_id), None)
                )
                if cell is None:
                    return  # not a notebook in a shared document, or the cell was deleted meanwhile
                with document.ydoc.transaction():
                    for msg in messages:
                        self._apply(document, cell, run, msg)
        except Exception as e:  # noqa: BLE001 - never the server's problem; say it once
            self.log.warning("cygnet: outputs of a cell whose browser closed were not kept: %s", e)
        finally:
            run.writing = False

    def _collaborating(self):
        point = self.serverapp.extension_manager.extension_points.get("jupyter_server_ydoc")
        collaboration = point.app if point is not None else None
        return collaboration is not None and not getattr(collaboration, "disable_rtc", True)

    async def _document(self, kernel_id):
        sessions = await self.serverapp.session_manager.list_sessions()
        path = next((s["path"] for s in sessions if s.get("kernel", {}).get("id") == kernel_id), None)
        if not path or not path.endswith(".ipynb"):
            return None
        point = self.serverapp.extension_manager.extension_points.get("jupyter_server_ydoc")
        collaboration = point.app if point is not None else None
        if collaboration is None or getattr(collaboration, "disable_rtc", True):
            return None
        return await collaboration.get_document(
            path=path, content_type="notebook", file_format="json", copy=False, create=True
        )

    @staticmethod
    def _apply(document, cell, run, msg):
        msg_type, content = msg["header"]["msg_type"], msg["content"]
        if msg_type == "execute_input":
            cell["execution_count"] = content.get("execution_count")
            return
        if msg_type == "status":
            cell["execution_state"] = "idle"
            if run.count is not None:
                cell["execution_count"] = run.count
            return
        outputs = cell["outputs"]
        if msg_type == "clear_output":
            if content.get("wait"):
                run.clear_on_next = True
            else:
                outputs.clear()
            return
        if run.clear_on_next:
            outputs.clear()
            run.clear_on_next = False
        if msg_type == "stream":
            last = outputs[len(outputs) - 1] if len(outputs) else None
            if last is not None and last.get("output_type") == "stream" and last.get("name") == content["name"]:
                text = last["text"]
                if isinstance(text, str):
                    last["text"] = text + content["text"]
                else:  # a shared Text: appended in place (setting it again would empty it)
                    text.insert(len(text), content["text"])
                return
            output = {"output_type": "stream", "name": content["name"], "text": content["text"]}
        elif msg_type == "error":
            output = {
                "output_type": "error",
                "ename": content.get("ename", ""),
                "evalue": content.get("evalue", ""),
                "traceback": content.get("traceback", []),
            }
        else:
            output = {"output_type": msg_type, "data": content.get("data", {}), "metadata": content.get("metadata", {})}
            if msg_type == "execute_result":
                output["execution_count"] = content.get("execution_count")
        outputs.append(document._create_youtputs([output])[0])


def _parent_id(session, parts):
    try:
        _, parts = session.feed_identities(parts)
        return json.loads(parts[2]).get("msg_id")
    except (ValueError, IndexError, AttributeError, TypeError):
        return None


def keeper_of(serverapp):
    """The server's keeper, made on first use."""
    keeper = getattr(serverapp, "_cygnet_output_keeper", None)
    if keeper is None:
        keeper = serverapp._cygnet_output_keeper = OutputKeeper(serverapp)
    return keeper
