"""The session's side of the hub's `cygnet-runs` service (cygnet.hub.runs_service): after each
step of its runner, a session under a hub says when it next has work, so that the service can
start it again at that time if it has been stopped meanwhile. Said only when it changes."""

import requests

from cygnet.core.errors import Unavailable


class WakeClient:
    def __init__(self, service_url, token, timeout=10):
        if not token:
            raise Unavailable("the hub's runs service needs this session's hub token ($JUPYTERHUB_API_TOKEN)")
        self.url = service_url.rstrip("/") + "/api/wake"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"
        self.timeout = timeout
        self.told = ...  # nothing told yet (None is a value: no work to wake for)

    def tell(self, next_time):
        """Tell the service of the next work at `next_time` (epoch seconds, or None), unless it
        was the last thing told. Unavailable if the service cannot be reached or refuses."""
        next_time = None if next_time is None else round(next_time, 3)
        if next_time == self.told:
            return False
        try:
            r = self.http.put(self.url, json={"next": next_time}, timeout=self.timeout)
        except requests.RequestException as e:
            raise Unavailable(f"the hub's runs service did not answer: {e}") from None
        if r.status_code != 200:
            raise Unavailable(f"the hub's runs service refused the next wake-up: {r.status_code} {r.text[:200]}")
        self.told = next_time
        return True
