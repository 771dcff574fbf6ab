"""Kernel websockets that send each frame at once, and tell the output keeper (output_keeper)
which cells run, so their outputs outlive a browser closed meanwhile.

tornado leaves Nagle's algorithm on for websockets. A cell's answer is several small frames
(busy, the input, the result, the reply, idle), and each waited behind the one before for the
browser's delayed ACK (40 ms on Linux): `1 + 1` took 48 ms through the server against 7 ms
straight to the kernel. Turning Nagle off for kernel websockets (TCP_NODELAY) removes the wait;
the frames are few and small, so the extra packets cost nothing worth counting.
"""

from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

from .output_keeper import keeper_of

V1 = "v1.kernel.websocket.jupyter.org"  # JupyterLab's binary protocol; its frames are read as they are


class PromptKernelWebsocketConnection(ZMQChannelsWebsocketConnection):
    def connect(self):
        self.websocket_handler.set_nodelay(True)
        try:
            keeper_of(self.websocket_handler.serverapp).connecting(self)
        except Exception as e:  # noqa: BLE001 - as above
            self.log.warning("cygnet: the output keeper missed a connection: %s", e)
        return super().connect()

    def handle_incoming_message(self, incoming_msg):
        if self.channels and self.subprotocol == V1:
            try:
                channel, msg_list = deserialize_msg_from_ws_v1(incoming_msg)
                if channel == "shell":
                    keeper_of(self.websocket_handler.serverapp).executing(self, msg_list)
            except Exception as e:  # noqa: BLE001 - the keeper is a safety net: the message goes on regardless
                self.log.warning("cygnet: a cell's outputs will not outlive its browser: %s", e)
        return super().handle_incoming_message(incoming_msg)

    def disconnect(self):
        try:
            keeper_of(self.websocket_handler.serverapp).closed(self)
        except Exception as e:  # noqa: BLE001 - as above
            self.log.warning("cygnet: the output keeper missed a closed browser: %s", e)
        return super().disconnect()
