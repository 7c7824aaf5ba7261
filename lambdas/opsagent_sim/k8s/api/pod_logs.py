"""``pods/{name}/log`` (container, previous, tailLines, limitBytes, timestamps)."""

from __future__ import annotations

from opsagent_sim.k8s.api.errors import ApiError
from opsagent_sim.k8s.api.reads import not_found
from opsagent_sim.k8s.model.logs import synth_logs
from opsagent_sim.k8s.model.store import ClusterState


def pod_log(state: ClusterState, namespace: str, name: str, query: dict[str, str]) -> str:
    pod = state.get("pods", namespace, name)
    if pod is None:
        raise not_found("pods", name)
    names = [c["name"] for c in pod["spec"]["containers"]]
    container = query.get("container")
    if not container:
        if len(names) > 1:
            raise ApiError(
                400,
                f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]",
            )
        container = names[0]
    if container not in names:
        raise ApiError(400, f"container {container} is not valid for pod {name}")
    previous = query.get("previous", "").lower() in ("true", "1")
    statuses = {cs["name"]: cs for cs in pod["status"].get("containerStatuses") or []}
    cs = statuses.get(container)
    if previous:
        if not cs or "terminated" not in (cs.get("lastState") or {}):
            raise ApiError(400, f'previous terminated container "{container}" in pod "{name}" not found')
    else:
        waiting = (cs or {}).get("state", {}).get("waiting") if cs else {"reason": "ContainerCreating"}
        if waiting and waiting.get("reason") != "CrashLoopBackOff":
            why = {
                "ImagePullBackOff": "trying and failing to pull image",
                "ErrImagePull": "trying and failing to pull image",
            }.get(waiting.get("reason", ""), waiting.get("reason", "ContainerCreating"))
            raise ApiError(400, f'container "{container}" in pod "{name}" is waiting to start: {why}')
    text = state.logs.get((namespace, name, container, previous))
    if text is None:
        text = synth_logs(state, namespace, name, container, previous)
    if query.get("timestamps", "").lower() in ("true", "1"):
        stamp = state.now.strftime("%Y-%m-%dT%H:%M:%S.000000000Z")
        text = "".join(f"{stamp} {line}\n" for line in text.splitlines())
    if query.get("tailLines"):
        try:
            n = int(query["tailLines"])
        except ValueError:
            raise ApiError(400, "tailLines must be an integer") from None
        lines = text.splitlines(keepends=True)
        text = "".join(lines[-n:]) if n > 0 else ""
    if query.get("limitBytes"):
        try:
            n = int(query["limitBytes"])
        except ValueError:
            raise ApiError(400, "limitBytes must be an integer") from None
        if n <= 0:
            raise ApiError(422, "limitBytes: Invalid value: must be greater than 0")
        text = text.encode()[:n].decode("utf-8", "ignore")
    return text
